"""What the kiosk shows before a ticket: its screens' configuration in every language, search, an item's guide
(every material at once), and where an answer of a guided flow leads, with the queue's wait now.

The kiosk's configuration is read once at start (``HallContext.kiosk``, see ``kiosk_config.py``); the texts
in every language come from config/i18n (``HallContext.texts``)."""

from __future__ import annotations

from typing import Any

from ..domain.errors import InvalidInput, NotFound
from ..domain.flows import Destination, Outcome, copy_zone, guide, pick_items, resolve
from ..domain.hall import every_language
from ..store.db import read_tx
from .common import queue_stats
from .context import HallContext


def zone_view(ctx: HallContext, zone_id: str) -> dict[str, Any]:
    z = ctx.config.zone(zone_id)
    site = next((s for s in ctx.config.sites if s.id == z.site), None)
    main_site = ctx.config.sites[0].id
    return {"id": z.id, "kind": z.kind.value, "name": every_language(z.name), "floor": z.floor,
            "site": {"id": z.site, "name": every_language(site.name if site else None, z.site),
                     "address": site.address if site else None, "main": z.site == main_site}}


def window_numbers(ctx: HallContext, queue_id: str) -> list[int]:
    return sorted(w.number for w in ctx.config.windows if any(wq.queue == queue_id for wq in w.queues))


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1–3、5": runs of consecutive window numbers."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return "、".join(f"{r[0]}" if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def where_to_go(ctx: HallContext, queue_id: str) -> dict[str, Any]:
    """Zone, site and windows of a queue, and the sentence telling the visitor where to go, in each language."""
    queue = ctx.config.queue(queue_id)
    zone = zone_view(ctx, queue.zone)
    nums = window_numbers(ctx, queue_id)
    wins = _ranges(nums)
    site = zone["site"]
    texts = ctx.citizen_texts()
    text = {}
    for lang, zone_name in zone["name"].items():
        at = "" if site["main"] else texts.text(lang, "kiosk.where_site" if site["address"] else
                                                "kiosk.where_site_only", site=site["name"][lang],
                                                address=site["address"])
        windows = texts.text(lang, "kiosk.where_windows", windows=wins, n=len(nums)) if wins else ""
        text[lang] = texts.text(lang, "kiosk.where", site=at, zone=zone_name, windows=windows)
    return {"zone": zone, "windows": nums, "windows_text": wins, "text": text}


def item_brief(ctx: HallContext, item_id: str) -> dict[str, Any]:
    i = ctx.config.item(item_id)
    return {"id": i.id, "name": i.name, "names": ctx.citizen_texts().names_of("items", i.id, i.name),
            "theme": i.theme, "queue": i.queue, "fully_online": i.fully_online, "kind": i.kind.value,
            "promised_days": i.promised_days, "materials": len(i.materials)}


def _expand(ctx: HallContext, option: dict[str, Any], raw: Any) -> dict[str, Any]:
    if raw.items is not None:
        option["items"] = {"ids": [i.id for i in pick_items(ctx.config, raw.items)]}
    return option


def public_config(ctx: HallContext, station: str) -> dict[str, Any]:
    """Everything the kiosk page needs to draw its screens, in every language; item lists already expanded."""
    hall = ctx.config
    setup = ctx.kiosk_setup()
    f = setup.flows
    flows: dict[str, Any] = {}
    for fid, flow in f.flows.items():
        nodes = {}
        for nid, node in flow.nodes.items():
            nodes[nid] = {**node.model_dump(mode="json", exclude={"options"}),
                          "options": [_expand(ctx, o.model_dump(mode="json", exclude_none=True), o)
                                      for o in node.options]}
        flows[fid] = {"title": flow.title.model_dump(), "start": flow.start, "nodes": nodes}
    return {
        "station": station,
        "hall": {"id": hall.hall.id, "name": every_language(hall.hall.name),
                 "complaint_phone": hall.hall.complaint_phone, "elderly_age": hall.hall.elderly_age},
        "sample_data": hall.sample_data,
        "kiosk": f.kiosk.model_dump(),
        "online": f.online.model_dump(mode="json"),
        "assisted_reasons": {k: v.model_dump() for k, v in f.assisted_reasons.items()},
        "tiles": [t.model_dump(mode="json", exclude_none=True) for t in f.tiles],
        "flows": flows,
        "items": {i.id: item_brief(ctx, i.id) for i in hall.items},
        "queues": {q.id: {"id": q.id, "prefix": q.prefix, "zone": q.zone, "name": every_language(q.name)}
                   for q in hall.queues},
        "zones": {z.id: zone_view(ctx, z.id) for z in hall.zones},
        "appointments": {"early_min": setup.appointments.early_min, "late_min": setup.appointments.late_min},
    }


def search(ctx: HallContext, query: str, limit: int = 20) -> dict[str, Any]:
    if len(query) > 40:
        raise InvalidInput("a search is at most 40 characters", code="query_too_long")
    setup = ctx.kiosk_setup()
    hits = setup.index.find(query, limit=limit)
    tiles = {t.id: t for t in setup.flows.tiles}
    out = []
    for h in hits:
        entry: dict[str, Any] = {"kind": h.kind, "id": h.id, "name": h.name, "score": h.score, "matched": h.matched}
        if h.kind == "tile":
            entry["label"] = tiles[h.id].label.model_dump()
        else:
            entry["item"] = item_brief(ctx, h.id)
        out.append(entry)
    return {"query": query, "results": out, "count": len(out)}


def item_guide(ctx: HallContext, item_id: str) -> dict[str, Any]:
    """The item's guide: the full checklist at once, originals and copies, where copies are made, the time."""
    try:
        item = ctx.config.item(item_id)
    except KeyError:
        raise NotFound(f"service item {item_id!r} does not exist", code="item_not_found") from None
    g = guide(item)
    cz = copy_zone(ctx.config, ctx.kiosk_setup().flows)
    dept = next((d.name for d in ctx.config.departments if d.id == item.department), item.department)
    texts = ctx.citizen_texts()
    return {
        "item_id": g.item_id, "name": g.name, "names": texts.names_of("items", g.item_id, g.name),
        "department": dept, "kind": g.kind, "promised_days": g.promised_days,
        "statutory_days": g.statutory_days, "fully_online": g.fully_online, "fee": g.fee,
        "materials": [{**m.__dict__, "names": texts.names_of("materials", m.name, m.name)} for m in g.materials],
        "copies_needed": [{"name": m.name, "copies": m.copies} for m in g.copies_needed],
        "copy_point": zone_view(ctx, cz) if cz else None,
    }


def _stats(ctx: HallContext, queue_id: str) -> dict[str, Any]:
    with read_tx(ctx.engine) as conn:
        s = queue_stats(conn, ctx, ctx.today().isoformat(), [queue_id])[0]
    return {"waiting": s["waiting"], "estimated_wait_min": s["estimated_wait_min"]}


def _queue_view(ctx: HallContext, queue_id: str) -> dict[str, Any]:
    q = ctx.config.queue(queue_id)
    return {"id": q.id, "name": every_language(q.name), "where": where_to_go(ctx, q.id), **_stats(ctx, q.id)}


def resolve_destination(ctx: HallContext, *, item_id: str | None = None, queue_id: str | None = None,
                        assisted: str | None = None, legal_reason: str | None = None) -> Destination:
    """Where an answer leads (domain.flows.resolve), its failures as the errors the kiosk shows."""
    try:
        return resolve(ctx.config, ctx.kiosk_setup().flows, item_id=item_id, queue_id=queue_id, assisted=assisted,
                       legal_reason=legal_reason)
    except KeyError as exc:
        raise NotFound(f"{exc.args[0]!r} is not a service item, queue or assisted reason of this hall",
                       code="destination_not_found") from None
    except ValueError as exc:
        raise InvalidInput(str(exc), code="destination_required") from None


def destination(ctx: HallContext, *, item_id: str | None = None, queue_id: str | None = None,
                assisted: str | None = None, legal_reason: str | None = None) -> dict[str, Any]:
    """Where an answer of a flow leads, with the queue's wait now and (for an item) its guide."""
    dest = resolve_destination(ctx, item_id=item_id, queue_id=queue_id, assisted=assisted,
                               legal_reason=legal_reason)
    return destination_view(ctx, dest)


def destination_view(ctx: HallContext, dest: Destination) -> dict[str, Any]:
    flows = ctx.kiosk_setup().flows
    out: dict[str, Any] = {"outcome": dest.outcome.value, "queue": _queue_view(ctx, dest.queue_id),
                           "item": item_guide(ctx, dest.item_id) if dest.item_id else None,
                           "legal_reason": dest.legal_reason, "reason": None, "window_queue": None, "online": None}
    if dest.outcome is Outcome.ASSISTED and dest.reason in flows.assisted_reasons:
        out["reason"] = {"id": dest.reason, "label": flows.assisted_reasons[dest.reason].model_dump()}
    if dest.outcome is Outcome.SELF_SERVICE:
        out["online"] = flows.online.model_dump(mode="json")
        if dest.window_queue_id:
            out["window_queue"] = _queue_view(ctx, dest.window_queue_id)
    return out
