"""Use cases of the kiosk: its configuration (tiles, guided flows, items), search, where an answer leads, who
tapped a card, a ticket issued and printed through the station's agent (or shown on screen with an alert for
staff when the printer cannot print), appointment bookings and their check-in, the printed checklist.

The kiosk page holds no secrets and no personal data beyond the masked name of the card just read; it talks
to these functions through ``api/kiosk_routes.py``. Printing is a ``print`` command to the station's room,
built here as a plain ticket document (``devices/printer/document.py`` format); the server imports no driver.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update

from config import CONFIG_DIR

from ..domain.errors import DomainError, InvalidInput, InvalidTransition, NotFound
from ..domain.flows import (
    CODE_ALPHABET,
    AppointmentSettings,
    CheckIn,
    Destination,
    FlowsConfig,
    Outcome,
    check_flows,
    check_in_verdict,
    copy_zone,
    guide,
    parse_code,
    pick_items,
    resolve,
)
from ..domain.hall import HallConfig, Names, ZoneKind
from ..domain.priority import age_on
from ..domain.privacy import mask_name
from ..domain.search import Entry, SearchIndex
from ..domain.tickets import TicketStatus
from ..hall_config import ConfigError, ConfigProblem, _describe_location, _explain, read_yaml
from ..store.db import read_tx
from ..store.kiosk_schema import appointments
from ..store.schema import device_inputs, events, tickets
from . import devices
from . import tickets as ticket_service
from .common import queue_stats
from .context import Actor, HallContext
from .events import append_event, hall_write

FLOWS_FILE = "flows.yaml"
APPOINTMENTS_FILE = "appointments.yaml"
PRINTABLE = ("ok", "warning")  # warning: paper near its end, still prints
OPEN = (TicketStatus.WAITING.value, TicketStatus.CALLED.value, TicketStatus.SERVING.value, TicketStatus.HELD.value)


# ------------------------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class KioskSetup:
    """The kiosk's configuration, validated against the hall once at start."""

    flows: FlowsConfig
    appointments: AppointmentSettings
    index: SearchIndex
    flows_source: str  # the file, or "generated from <hall>" when the hall has no flows file


def _problems(file: str, data: Any, exc: ValidationError) -> list[ConfigProblem]:
    return [ConfigProblem(file, _describe_location(data, tuple(e["loc"])), _explain(e)) for e in exc.errors()]


def _beside(config_path: str | None, name: str) -> Path | None:
    """The kiosk file next to the hall file; the bundled one for the bundled hall; None for another hall
    without its own file (its flows are then generated from its queues and items)."""
    if config_path is None:
        return CONFIG_DIR / name
    p = Path(config_path).resolve().parent / name
    if p.exists():
        return p
    if Path(config_path).resolve() == (CONFIG_DIR / "hall.yaml").resolve():
        return CONFIG_DIR / name
    return None


def _names3(n: Names | None, fallback: str = "") -> dict[str, str]:
    zh = n.zh if n else fallback
    return {"zh": zh, "bo": (n.bo if n else None) or zh, "en": (n.en if n else None) or zh}


def generated_flows(hall: HallConfig) -> dict[str, Any]:
    """Flows for a hall without a flows file: one tile per queue listing its items, and the help tile."""
    kinds = {z.id: z.kind for z in hall.zones}
    assisted = next((q.id for q in hall.queues if kinds.get(q.zone) is ZoneKind.ASSISTED), hall.queues[0].id)
    self_service = next((q.id for q in hall.queues if kinds.get(q.zone) is ZoneKind.SELF_SERVICE), assisted)
    tiles: list[dict[str, Any]] = []
    flows: dict[str, Any] = {}
    for q in hall.queues:
        if q.id in (assisted, self_service):
            continue
        label = _names3(q.name)
        items = [i.id for i in hall.items if i.queue == q.id]
        tile: dict[str, Any] = {"id": q.id, "label": label, "group": "theme", "zone": q.zone}
        if items and len(items) <= 40:
            flows[q.id] = {"title": label, "start": "pick", "nodes": {"pick": {
                "ask": {"zh": "请选择事项", "bo": "བྱ་རིམ་འདེམས་རོགས།", "en": "Choose the service"},
                "options": [{"label": label, "items": {"queues": [q.id]}},
                            {"label": {"zh": "其他事项", "bo": "བྱ་རིམ་གཞན།", "en": "Something else"},
                             "queue": q.id}]}}}
            tile["flow"] = q.id
        else:
            tile["queue"] = q.id
        tiles.append(tile)
    tiles.append({"id": "help", "group": "help", "icon": "帮",
                  "label": {"zh": "不知道办什么？找人帮我", "bo": "ག་རེ་སྒྲུབ་དགོས་མི་ཤེས། རོགས་རམ་ཞུ།",
                            "en": "Not sure? Help me"}, "assisted": "consult"})
    return {
        "version": 1,
        "destinations": {"assisted_queue": assisted, "self_service_queue": self_service},
        "online": {"portals": [{"name": {"zh": "甘肃政务服务网", "bo": "ཀན་སུའུ་གཞུང་དོན་ཞབས་ཞུའི་དྲ་ཚིགས།",
                                         "en": "Gansu Government Services portal"},
                                "url": "https://zwfw.gansu.gov.cn/"}],
                   "steps": [{"zh": "注册并实名认证后搜索事项办理", "bo": "ཐོ་འགོད་བྱས་རྗེས་བྱ་རིམ་འཚོལ་ནས་སྒྲུབ།",
                              "en": "Register, verify your name, then search for the item"}]},
        "assisted_reasons": {"consult": {"zh": "咨询引导", "bo": "འདྲི་རྩད་དང་ལམ་སྟོན།", "en": "Advice and guidance"}},
        "tiles": tiles,
        "flows": flows,
    }


def load_kiosk(hall: HallConfig, config_path: str | None = None) -> KioskSetup:
    """Read and validate the flows and appointment files beside the hall file; every problem at once, each
    naming the file and the entry."""
    problems: list[ConfigProblem] = []
    fp = _beside(config_path, FLOWS_FILE)
    if fp is None:
        raw_flows: Any = generated_flows(hall)
        source = f"generated from {config_path}"
    else:
        raw_flows = read_yaml(fp)
        source = str(fp)
    flows: FlowsConfig | None = None
    if not isinstance(raw_flows, dict):
        problems.append(ConfigProblem(source, "", "the file must hold a mapping (tiles:, flows:, ...)"))
    else:
        try:
            flows = FlowsConfig.model_validate(raw_flows)
        except ValidationError as exc:
            problems += _problems(source, raw_flows, exc)
    if flows is not None:
        problems += [ConfigProblem(source, *_split(msg)) for msg in check_flows(flows, hall)]
    ap = _beside(config_path, APPOINTMENTS_FILE)
    settings = AppointmentSettings()
    if ap is not None and ap.exists():
        raw = read_yaml(ap) or {}
        if not isinstance(raw, dict):
            problems.append(ConfigProblem(str(ap), "", "the file must hold a mapping (early_min:, late_min:, ...)"))
        else:
            try:
                settings = AppointmentSettings.model_validate(raw)
            except ValidationError as exc:
                problems += _problems(str(ap), raw, exc)
    if problems:
        raise ConfigError(problems)
    assert flows is not None
    return KioskSetup(flows, settings, build_index(hall, flows), source)


def _split(msg: str) -> tuple[str, str]:
    where, sep, rest = msg.partition(": ")
    return (where, rest) if sep else ("", msg)


def build_index(hall: HallConfig, flows: FlowsConfig) -> SearchIndex:
    departments = {d.id: d.name for d in hall.departments}
    entries = [Entry("item", i.id, i.name, tuple(flows.keywords.get(i.id, ())),
                     tuple(x for x in (i.theme, departments.get(i.department)) if x)) for i in hall.items]
    entries += [Entry("tile", t.id, t.label.zh, (), ()) for t in flows.tiles]
    return SearchIndex(entries)


# ------------------------------------------------------------------------------------------ public views


def _zone_view(ctx: HallContext, zone_id: str) -> dict[str, Any]:
    z = ctx.config.zone(zone_id)
    site = next((s for s in ctx.config.sites if s.id == z.site), None)
    main_site = ctx.config.sites[0].id
    return {"id": z.id, "kind": z.kind.value, "name": _names3(z.name), "floor": z.floor,
            "site": {"id": z.site, "name": _names3(site.name if site else None, z.site),
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
    zone = _zone_view(ctx, queue.zone)
    nums = window_numbers(ctx, queue_id)
    wins = _ranges(nums)
    zn = zone["name"]
    site = zone["site"]
    at_zh = "" if site["main"] else f"{site['name']['zh']}（{site['address'] or ''}）".replace("（）", "")
    at_en = "" if site["main"] else f" at {site['name']['en']}" + (f", {site['address']}" if site["address"] else "")
    text = {
        "zh": f"请到{at_zh}{zn['zh']}" + (f"（{wins} 号窗口）" if wins else "") + "等候叫号",
        "bo": f"{zn['bo']}" + (f" སྒེའུ་ཁུང་ {wins} " if wins else " ") + "ལ་ཕེབས་ནས་ཨང་འབོད་སྒུག་རོགས།",
        "en": f"Go to {zn['en']}{at_en}" + (f", window{'s' if len(nums) > 1 else ''} {wins}" if wins else "")
              + ", and wait for your number",
    }
    return {"zone": zone, "windows": nums, "windows_text": wins, "text": text}


def item_brief(hall: HallConfig, item_id: str) -> dict[str, Any]:
    from ..i18n import names_of

    i = hall.item(item_id)
    return {"id": i.id, "name": i.name, "names": names_of("items", i.id, i.name), "theme": i.theme, "queue": i.queue, "fully_online": i.fully_online,
            "kind": i.kind.value, "promised_days": i.promised_days, "materials": len(i.materials)}


def _expand(hall: HallConfig, option: dict[str, Any], raw: Any) -> dict[str, Any]:
    if raw.items is not None:
        option["items"] = {"ids": [i.id for i in pick_items(hall, raw.items)]}
    return option


def public_config(ctx: HallContext, setup: KioskSetup, station: str) -> dict[str, Any]:
    """Everything the kiosk page needs to draw its screens, in every language; item lists already expanded."""
    hall = ctx.config
    f = setup.flows
    flows: dict[str, Any] = {}
    for fid, flow in f.flows.items():
        nodes = {}
        for nid, node in flow.nodes.items():
            nodes[nid] = {**node.model_dump(mode="json", exclude={"options"}),
                          "options": [_expand(hall, o.model_dump(mode="json", exclude_none=True), o)
                                      for o in node.options]}
        flows[fid] = {"title": flow.title.model_dump(), "start": flow.start, "nodes": nodes}
    return {
        "station": station,
        "hall": {"id": hall.hall.id, "name": _names3(hall.hall.name), "complaint_phone": hall.hall.complaint_phone,
                 "elderly_age": hall.hall.elderly_age},
        "sample_data": hall.sample_data,
        "kiosk": f.kiosk.model_dump(),
        "online": f.online.model_dump(mode="json"),
        "assisted_reasons": {k: v.model_dump() for k, v in f.assisted_reasons.items()},
        "tiles": [t.model_dump(mode="json", exclude_none=True) for t in f.tiles],
        "flows": flows,
        "items": {i.id: item_brief(hall, i.id) for i in hall.items},
        "queues": {q.id: {"id": q.id, "prefix": q.prefix, "zone": q.zone, "name": _names3(q.name)}
                   for q in hall.queues},
        "zones": {z.id: _zone_view(ctx, z.id) for z in hall.zones},
        "appointments": {"early_min": setup.appointments.early_min, "late_min": setup.appointments.late_min},
    }


def search(ctx: HallContext, setup: KioskSetup, query: str, limit: int = 20) -> dict[str, Any]:
    if len(query) > 40:
        raise InvalidInput("a search is at most 40 characters", code="query_too_long")
    hits = setup.index.find(query, limit=limit)
    tiles = {t.id: t for t in setup.flows.tiles}
    out = []
    for h in hits:
        entry: dict[str, Any] = {"kind": h.kind, "id": h.id, "name": h.name, "score": h.score, "matched": h.matched}
        if h.kind == "tile":
            entry["label"] = tiles[h.id].label.model_dump()
        else:
            entry["item"] = item_brief(ctx.config, h.id)
        out.append(entry)
    return {"query": query, "results": out, "count": len(out)}


def item_guide(ctx: HallContext, setup: KioskSetup, item_id: str) -> dict[str, Any]:
    """The item's guide: the full checklist at once, originals and copies, where copies are made, the time."""
    try:
        item = ctx.config.item(item_id)
    except KeyError:
        raise NotFound(f"service item {item_id!r} does not exist", code="item_not_found") from None
    g = guide(item)
    cz = copy_zone(ctx.config, setup.flows)
    dept = next((d.name for d in ctx.config.departments if d.id == item.department), item.department)
    from ..i18n import names_of

    return {
        "item_id": g.item_id, "name": g.name, "names": names_of("items", g.item_id, g.name), "department": dept,
        "kind": g.kind, "promised_days": g.promised_days,
        "statutory_days": g.statutory_days, "fully_online": g.fully_online, "fee": g.fee,
        "materials": [{**m.__dict__, "names": names_of("materials", m.name, m.name)} for m in g.materials],
        "copies_needed": [{"name": m.name, "copies": m.copies} for m in g.copies_needed],
        "copy_point": _zone_view(ctx, cz) if cz else None,
    }


def _stats(ctx: HallContext, queue_id: str) -> dict[str, Any]:
    with read_tx(ctx.engine) as conn:
        s = queue_stats(conn, ctx, ctx.today().isoformat(), [queue_id])[0]
    return {"waiting": s["waiting"], "estimated_wait_min": s["estimated_wait_min"]}


def _queue_view(ctx: HallContext, queue_id: str) -> dict[str, Any]:
    q = ctx.config.queue(queue_id)
    return {"id": q.id, "name": _names3(q.name), "where": where_to_go(ctx, q.id), **_stats(ctx, q.id)}


def destination(ctx: HallContext, setup: KioskSetup, *, item_id: str | None = None, queue_id: str | None = None,
                assisted: str | None = None, legal_reason: str | None = None) -> dict[str, Any]:
    """Where an answer of a flow leads, with the queue's wait now and (for an item) its guide."""
    try:
        dest = resolve(ctx.config, setup.flows, item_id=item_id, queue_id=queue_id, assisted=assisted,
                       legal_reason=legal_reason)
    except KeyError as exc:
        raise NotFound(f"{exc.args[0]!r} is not a service item, queue or assisted reason of this hall",
                       code="destination_not_found") from None
    except ValueError as exc:
        raise InvalidInput(str(exc), code="destination_required") from None
    return destination_view(ctx, setup, dest)


def destination_view(ctx: HallContext, setup: KioskSetup, dest: Destination) -> dict[str, Any]:
    out: dict[str, Any] = {"outcome": dest.outcome.value, "queue": _queue_view(ctx, dest.queue_id),
                           "item": item_guide(ctx, setup, dest.item_id) if dest.item_id else None,
                           "legal_reason": dest.legal_reason, "reason": None, "window_queue": None, "online": None}
    if dest.outcome is Outcome.ASSISTED and dest.reason in setup.flows.assisted_reasons:
        out["reason"] = {"id": dest.reason, "label": setup.flows.assisted_reasons[dest.reason].model_dump()}
    if dest.outcome is Outcome.SELF_SERVICE:
        out["online"] = setup.flows.online.model_dump(mode="json")
        if dest.window_queue_id:
            out["window_queue"] = _queue_view(ctx, dest.window_queue_id)
    return out


# ------------------------------------------------------------------------------------------ devices


def printer_state(ctx: HallContext, station: str) -> dict[str, Any]:
    """What the kiosk knows before a tap: can this station print now? Needs the agent connected and the
    printer ok (or paper near its end)."""
    devices.check_station(station)
    rows = {r["device"]: r for r in devices.stations_health(ctx) if r["station"] == station}
    printer = rows.get("printer")
    agent = rows.get("agent")
    status = printer["status"] if printer else "unknown"
    agent_status = agent["status"] if agent else "offline"
    if agent_status != "ok":
        reason = "agent_offline"
    elif status not in PRINTABLE:
        reason = (printer or {}).get("detail", {}).get("state") or status
    else:
        reason = None
    return {"status": status, "detail": (printer or {}).get("detail", {}), "agent": agent_status,
            "printable": reason is None, "reason": reason}


def kiosk_status(ctx: HallContext, station: str) -> dict[str, Any]:
    devices.check_station(station)
    rows = {r["device"]: r for r in devices.stations_health(ctx) if r["station"] == station}
    from .hours import open_status

    return {"station": station, "printer": printer_state(ctx, station),
            "devices": {k: {"status": v["status"], "detail": v["detail"]} for k, v in rows.items()},
            "hours": open_status(ctx)}


def raise_alert(ctx: HallContext, station: str, kind: str, detail: dict[str, Any]) -> dict[str, Any]:
    """An alert staff see (event ``kiosk_alert`` to the hall and the station's room; GET /kiosk/alerts)."""
    messages = {
        "ticket_not_printed": ("号票未能打印，已在屏幕上显示；请检查打印机（缺纸或离线）",
                               "A ticket could not be printed and was shown on screen; check the printer"),
        "print_failed": ("号票打印失败，已在屏幕上显示；请检查打印机",
                         "A ticket failed to print and was shown on screen; check the printer"),
    }
    zh, en = messages.get(kind, ("自助机需要工作人员处理", "The kiosk needs attention"))
    payload = {"station": station, "kind": kind, "message": zh, "message_en": en, **detail}
    with hall_write(ctx) as (conn, published):
        published.append(append_event(conn, ctx.hall_id, "kiosk_alert", payload,
                                      [devices.station_room(station)], ctx.now()))
    return published[0]["payload"]


def recent_alerts(ctx: HallContext, since: int = 0, limit: int = 50) -> list[dict[str, Any]]:
    with read_tx(ctx.engine) as conn:
        rows = conn.execute(select(events.c.payload).where(
            events.c.hall_id == ctx.hall_id, events.c.type == "kiosk_alert", events.c.seq > since)
            .order_by(events.c.seq.desc()).limit(limit)).all()
    return [r.payload for r in rows]


# ------------------------------------------------------------------------------------------ identity


def identify(ctx: HallContext, station: str, input_id: str) -> dict[str, Any]:
    """A card just read at this station: the greeting (masked name), the priority hint, and the tickets this
    person already holds today (a repeat tap shows them instead of issuing another)."""
    devices.check_station(station)
    with read_tx(ctx.engine) as conn:
        row = conn.execute(select(device_inputs).where(
            device_inputs.c.hall_id == ctx.hall_id, device_inputs.c.input_id == input_id)).first()
        if row is None or row.kind != "card_read" or not row.data or row.station != station:
            raise NotFound("this card read is unknown here; tap the card again", code="card_input_not_found")
        if ctx.now() - row.at > ticket_service.CARD_VALID_FOR:
            raise InvalidTransition("this card read is too old; tap the card again", code="card_input_expired")
        data = dict(row.data)
        held = conn.execute(select(tickets).where(
            tickets.c.hall_id == ctx.hall_id, tickets.c.person_key == data["person_key"],
            tickets.c.service_day == ctx.today().isoformat(), tickets.c.status.in_(OPEN),
        ).order_by(tickets.c.issued_at)).all()
        views = [ticket_service.ticket_view(conn, ctx, t) for t in held]
    age = age_on(date.fromisoformat(data["birth_date"]), ctx.local().date())
    return {"input_id": input_id, "name_masked": data.get("name_masked"),
            "elderly": age >= ctx.config.hall.elderly_age, "expired": bool(data.get("expired")),
            "open_tickets": [kiosk_ticket(ctx, v) for v in views]}


# ------------------------------------------------------------------------------------------ tickets


def kiosk_ticket(ctx: HallContext, view: dict[str, Any], copy_first: list[dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """A ticket as the kiosk shows it: number, queue and zone in every language, where to go, wait, time, QR."""
    q = ctx.config.queue(view["queue_id"])
    issued = datetime.fromisoformat(view["issued_at"])
    return {
        "id": view["id"], "number": view["number"], "queue_id": q.id, "queue_name": _names3(q.name),
        "item_id": view.get("item_id"),
        "item_name": ctx.config.item(view["item_id"]).name if view.get("item_id") else None,
        "item_names": _item_names(ctx, view.get("item_id")),
        "status": view["status"], "priority": view["priority"], "where": where_to_go(ctx, q.id),
        "ahead": view.get("ahead", 0), "estimated_wait_min": view.get("estimated_wait_min"),
        "issued_at": view["issued_at"], "issued_local": ctx.local(issued).strftime("%Y-%m-%d %H:%M"),
        "service_day": view["service_day"], "tracker_url": view["tracker_url"],
        "window_number": view.get("window_number"), "copy_first": copy_first or [],
    }


def _item_names(ctx: HallContext, item_id: str | None) -> dict[str, str | None] | None:
    from ..i18n import names_of

    return names_of("items", item_id, ctx.config.item(item_id).name) if item_id else None


PRIORITY_TEXT = {"elderly": "老年人优先", "legal": "依法优先", "appointment": "预约", "green": "绿色通道"}


def ticket_document(ctx: HallContext, t: dict[str, Any], lang: str = "zh") -> dict[str, Any]:
    """The printed ticket: hall, number, queue and zone, where to go, people ahead, wait, time, tracker QR.
    No name and no ID number on paper."""
    hall = ctx.config.hall
    where = t["where"]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": hall.name.zh}]
    if hall.name.bo:
        blocks.append({"type": "text", "text": hall.name.bo, "align": "center"})
    blocks.append({"type": "number", "text": t["number"], "scale": 4})
    blocks.append({"type": "text", "text": t["queue_name"]["zh"], "align": "center", "bold": True})
    if lang in ("bo", "en") and t["queue_name"][lang] != t["queue_name"]["zh"]:
        blocks.append({"type": "text", "text": t["queue_name"][lang], "align": "center"})
    if t.get("item_name"):
        blocks.append({"type": "text", "text": f"事项：{t['item_name']}"})
    if t["priority"] in PRIORITY_TEXT:
        blocks.append({"type": "text", "text": f"【{PRIORITY_TEXT[t['priority']]}】", "align": "center"})
    blocks.append({"type": "text", "text": where["text"]["zh"]})
    if lang in ("bo", "en"):
        blocks.append({"type": "text", "text": where["text"][lang]})
    blocks += _wait_lines(t, lang)
    if t.get("copy_first"):
        names = "、".join(f"{c['name']}{c['copies']}份" for c in t["copy_first"])
        blocks.append({"type": "text", "text": f"请先到免费复印区复印（无需另取号）：{names}"})
    requeue = ctx.config.calling.no_show.requeue_within_min
    scan = tx_line("zh", "ticket.scan") + ("" if lang == "zh" else f" / {tx_line(lang, 'ticket.scan')}")
    missed = tx_line("zh", "ticket.missed", min=requeue)
    blocks += [
        {"type": "separator"},
        # the tracker opens in the language the ticket was taken in
        {"type": "qr", "payload": t["tracker_url"] + ("" if lang == "zh" else f"?lang={lang}"), "size": 6},
        {"type": "text", "text": scan, "align": "center"},
    ]
    if lang != "zh":
        blocks.append({"type": "text", "text": tx_line(lang, "ticket.missed", min=requeue)})
    blocks += [
        {"type": "footer", "text": f"取号时间：{t['issued_local']}\n当日有效，{missed}\n"
                                   f"意见投诉：{hall.complaint_phone}"},
        {"type": "cut"},
    ]
    return {"blocks": blocks}


def tx_line(lang: str, key: str, **values: Any) -> str:
    """A printed line from the translations (config/i18n), Chinese where the language lacks it."""
    from ..i18n import default_catalogue, text

    return text(default_catalogue(), lang, key, **values)


def _wait_lines(t: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """People ahead and the estimated wait: the Chinese line, then one short line each in the visitor's language
    (a Tibetan line that fits 80 mm rather than one long sentence that wraps mid-phrase)."""
    ahead, wait = t["ahead"], t["estimated_wait_min"]
    zh = f"前面还有 {ahead} 人" + (f"，预计等待约 {round(wait)} 分钟" if wait is not None else "")
    lines: list[dict[str, Any]] = [{"type": "text", "text": zh, "bold": True}]
    if lang != "zh":
        lines.append({"type": "text", "text": tx_line(lang, "ticket.ahead", n=ahead)})
        if wait is not None:
            lines.append({"type": "text", "text": tx_line(lang, "ticket.est", n=max(1, round(wait)))})
    return lines


def checklist_document(ctx: HallContext, g: dict[str, Any]) -> dict[str, Any]:
    """The printed materials checklist (一次性告知) of an item."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": ctx.config.hall.name.zh},
        {"type": "text", "text": "办事材料清单（一次性告知）", "align": "center", "bold": True},
        {"type": "text", "text": g["name"], "align": "center", "bold": True},
        {"type": "text", "text": f"受理部门：{g['department']}"},
        {"type": "separator"},
    ]
    for n, m in enumerate(g["materials"], 1):
        how = ("原件" if m["original"] else "") + (f"、复印件{m['copies']}份" if m["copies"] else "")
        extra = "（可容缺后补）" if m["tolerance"] else ""
        extra += "（可用电子证照）" if m["e_licence"] else ""
        blocks.append({"type": "text", "text": f"□ {n}. {m['name']}：{how.strip('、') or '原件'}{extra}"})
    if not g["materials"]:
        blocks.append({"type": "text", "text": "无需提交材料"})
    blocks.append({"type": "separator"})
    time_text = "即办件：当场办结" if g["kind"] == "immediate" else f"承诺件：受理后 {g['promised_days']} 个工作日内办结"
    blocks.append({"type": "text", "text": time_text})
    if g["copies_needed"]:
        blocks.append({"type": "text", "text": "缺少复印件可到免费复印区复印，无需另取号"})
    blocks += [{"type": "footer", "text": f"咨询投诉：{ctx.config.hall.complaint_phone}"}, {"type": "cut"}]
    return {"blocks": blocks}


@dataclass(frozen=True)
class KioskIssue:
    item_id: str | None = None
    queue_id: str | None = None
    assisted: str | None = None
    legal_reason: str | None = None
    card_input_id: str | None = None
    lang: str = "zh"
    copies_missing: bool = False


def _print(ctx: HallContext, station: str, document: dict[str, Any], actor: Actor, alert: dict[str, Any] | None
           ) -> dict[str, Any]:
    state = printer_state(ctx, station)
    if state["printable"]:
        cmd = devices.send_command(ctx, station, "printer", "print", {"document": document}, actor)
        return {"status": "sent", "command_id": cmd["command_id"], "printer": state}
    if alert is not None:
        raise_alert(ctx, station, "ticket_not_printed", {**alert, "printer_status": state["status"],
                                                          "printer_reason": state["reason"]})
    return {"status": "unavailable", "printer": state}


def _ticket_queue(ctx: HallContext, setup: KioskSetup, req: KioskIssue) -> tuple[str, str | None, Destination]:
    """The queue the ticket goes to, and the item to record with it (only when the item belongs there)."""
    try:
        dest = resolve(ctx.config, setup.flows, item_id=req.item_id, assisted=req.assisted,
                       queue_id=None if (req.item_id or req.assisted) else req.queue_id,
                       legal_reason=req.legal_reason)
    except KeyError as exc:
        raise NotFound(f"{exc.args[0]!r} is not a service item, queue or assisted reason of this hall",
                       code="destination_not_found") from None
    except ValueError as exc:
        raise InvalidInput(str(exc), code="destination_required") from None
    queue_id = dest.queue_id
    if req.queue_id is not None and req.queue_id != queue_id:
        allowed = {dest.queue_id, dest.window_queue_id}
        if req.queue_id not in allowed:
            raise DomainError(f"queue {req.queue_id!r} does not serve this; use one of "
                              f"{', '.join(sorted(q for q in allowed if q))}", code="queue_item_mismatch")
        queue_id = req.queue_id
    item_id = req.item_id if req.item_id and ctx.config.item(req.item_id).queue == queue_id else None
    return queue_id, item_id, dest


def issue(ctx: HallContext, setup: KioskSetup, station: str, req: KioskIssue, actor: Actor,
          key: str | None = None, grants: ticket_service.Grants | None = None) -> dict[str, Any]:
    """Issue a ticket at a kiosk and print it through the station's agent; when the printer cannot print, the
    kiosk shows the ticket on screen and staff get an alert. A repeat card tap returns the ticket the person
    already holds (nothing printed)."""
    devices.check_station(station)
    queue_id, item_id, _dest = _ticket_queue(ctx, setup, req)
    # A kiosk cannot verify a legal priority (military, disability...): the flow's answer goes with the ticket
    # as a claim for the assisted desk to check, and only staff grant the class (issue 9).
    grants = grants or ticket_service.Grants.of(actor)
    granted, claimed = (req.legal_reason, None) if grants.staff else (None, req.legal_reason)
    result = ticket_service.issue_ticket(ctx, ticket_service.IssueRequest(
        queue_id=queue_id, item_id=item_id, legal_reason=granted, card_input_id=req.card_input_id,
        source=station, extra={"claimed_legal_reason": claimed} if claimed else {}), actor, key, grants)
    copy_first = []
    if req.copies_missing and req.item_id:
        copy_first = item_guide(ctx, setup, req.item_id)["copies_needed"]
    t = kiosk_ticket(ctx, result.ticket, copy_first)
    if result.created:
        printed = _print(ctx, station, ticket_document(ctx, t, req.lang), actor,
                         {"ticket_id": t["id"], "number": t["number"]})
    else:
        printed = {"status": "not_printed", "printer": printer_state(ctx, station)}
    return {"ticket": t, "created": result.created, "reason": result.reason, "print": printed}


def print_checklist(ctx: HallContext, setup: KioskSetup, station: str, item_id: str, actor: Actor
                    ) -> dict[str, Any]:
    devices.check_station(station)
    g = item_guide(ctx, setup, item_id)
    return {"print": _print(ctx, station, checklist_document(ctx, g), actor, None)}


def report_print_failure(ctx: HallContext, station: str, ticket_id: int, command_id: str | None,
                         error: str | None) -> dict[str, Any]:
    """The page saw the print fail (or get no answer): the ticket is on screen; staff are told."""
    devices.check_station(station)
    number = ticket_service.get_ticket_view(ctx, ticket_id)["number"]
    return raise_alert(ctx, station, "print_failed", {"ticket_id": ticket_id, "number": number,
                                                      "command_id": command_id, "error": (error or "")[:200]})


# ------------------------------------------------------------------------------------------ appointments


def _appointment_view(ctx: HallContext, setup: KioskSetup, row: Any) -> dict[str, Any]:
    v = check_in_verdict(row.slot_at, row.status, ctx.now(), setup.appointments)
    q = ctx.config.queue(row.queue_id)
    return {
        "code": row.code, "item_id": row.item_id,
        "item_name": ctx.config.item(row.item_id).name if row.item_id else None,
        "queue_id": row.queue_id, "queue_name": _names3(q.name), "status": row.status,
        "slot_at": row.slot_at.isoformat(), "slot_local": ctx.local(row.slot_at).strftime("%Y-%m-%d %H:%M"),
        "check_in_opens": ctx.local(v.opens_at).strftime("%H:%M"),
        "check_in_closes": ctx.local(v.closes_at).strftime("%H:%M"),
        "person_label": row.person_label, "ticket_id": row.ticket_id, "qr": row.code,
    }


def create_appointment(ctx: HallContext, setup: KioskSetup, *, slot_at: datetime, item_id: str | None = None,
                       queue_id: str | None = None, name: str | None = None, code: str | None = None,
                       actor: Actor) -> dict[str, Any]:
    """Book a visit (staff, the booking system or tests): the code goes into the visitor's QR."""
    s = setup.appointments
    if item_id is not None:
        try:
            item = ctx.config.item(item_id)
        except KeyError:
            raise NotFound(f"service item {item_id!r} does not exist", code="item_not_found") from None
        if queue_id is not None and queue_id != item.queue:
            raise DomainError(f"item {item_id!r} is served by queue {item.queue!r}", code="queue_item_mismatch")
        queue_id = item.queue
    if queue_id is None:
        raise InvalidInput("name an item_id or a queue_id", code="queue_required")
    try:
        ctx.config.queue(queue_id)
    except KeyError:
        raise NotFound(f"queue {queue_id!r} does not exist", code="queue_not_found") from None
    if slot_at.tzinfo is None:
        slot_at = slot_at.replace(tzinfo=ctx.tz)
    if code is not None:
        if parse_code(code, s) != code:
            raise InvalidInput(f"a code is {s.code_prefix} and {s.code_length} characters of A-Z/2-9 "
                               "(no O, 0, I, 1)", code="bad_appointment_code")
    else:
        code = s.code_prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(s.code_length))
    now = ctx.now()
    with hall_write(ctx) as (conn, published):
        if conn.execute(select(appointments.c.id).where(appointments.c.code == code)).first() is not None:
            raise DomainError(f"appointment code {code} exists already", code="appointment_code_taken")
        conn.execute(appointments.insert().values(
            hall_id=ctx.hall_id, code=code, item_id=item_id, queue_id=queue_id, slot_at=slot_at, status="booked",
            person_label=mask_name(name) if name else None, created_at=now, created_by=str(actor)))
        row = conn.execute(select(appointments).where(appointments.c.code == code)).one()
    return _appointment_view(ctx, setup, row)


def _appointment_row(ctx: HallContext, code: str) -> Any:
    with read_tx(ctx.engine) as conn:
        return conn.execute(select(appointments).where(appointments.c.hall_id == ctx.hall_id,
                                                       appointments.c.code == code)).first()


def get_appointment(ctx: HallContext, setup: KioskSetup, code: str) -> dict[str, Any]:
    row = _appointment_row(ctx, code.strip().upper())
    if row is None:
        raise NotFound(f"no appointment has the code {code!r}", code="appointment_not_found")
    return _appointment_view(ctx, setup, row)


def cancel_appointment(ctx: HallContext, setup: KioskSetup, code: str, actor: Actor) -> dict[str, Any]:
    with hall_write(ctx) as (conn, published):
        row = conn.execute(select(appointments).where(appointments.c.hall_id == ctx.hall_id,
                                                      appointments.c.code == code)).first()
        if row is None:
            raise NotFound(f"no appointment has the code {code!r}", code="appointment_not_found")
        if row.status != "booked":
            raise InvalidTransition(f"appointment {code} is {row.status}; only a booked one can be cancelled",
                                    code="appointment_not_booked")
        conn.execute(update(appointments).where(appointments.c.id == row.id).values(status="cancelled"))
        row = conn.execute(select(appointments).where(appointments.c.id == row.id)).one()
    return _appointment_view(ctx, setup, row)


def check_in(ctx: HallContext, setup: KioskSetup, station: str, raw_code: str, actor: Actor, lang: str = "zh",
             grants: ticket_service.Grants | None = None) -> dict[str, Any]:
    """A scanned (scanner or camera) appointment QR: within the check-in window a ticket with appointment
    priority is issued and printed; unknown, early, expired, cancelled or used codes get a clear message."""
    devices.check_station(station)
    s = setup.appointments
    code = parse_code(raw_code, s)
    if code is None:
        raise InvalidInput("这不是预约二维码，请扫描预约短信或预约凭证上的二维码 / this is not an appointment code",
                           code="not_an_appointment_code")
    row = _appointment_row(ctx, code)
    if row is None:
        raise NotFound(f"查无此预约（{code}），请核对或到服务台咨询 / no appointment has this code",
                       code="appointment_not_found", details={"code": code})
    view = _appointment_view(ctx, setup, row)
    v = check_in_verdict(row.slot_at, row.status, ctx.now(), s)
    if v.result is CheckIn.USED:
        number = ticket_service.get_ticket_view(ctx, row.ticket_id)["number"] if row.ticket_id else None
        raise DomainError(f"此预约已签到（号码 {number}），不能重复使用 / this appointment was already used"
                          + (f" (ticket {number})" if number else ""),
                          code="appointment_used", details={"appointment": view, "number": number})
    if v.result is CheckIn.CANCELLED:
        raise DomainError("此预约已取消，请重新预约或普通取号 / this appointment was cancelled",
                          code="appointment_cancelled", details={"appointment": view})
    if v.result is CheckIn.TOO_EARLY:
        raise DomainError(f"还未到签到时间，请于 {view['check_in_opens']} 后再来签到（预约时间 {view['slot_local']}）"
                          f" / too early: check-in opens at {view['check_in_opens']}",
                          code="appointment_too_early", details={"appointment": view})
    if v.result is CheckIn.TOO_LATE:
        raise DomainError(f"预约已过期（预约时间 {view['slot_local']}，签到截止 {view['check_in_closes']}），请普通取号"
                          f" / this appointment has expired (check-in closed at {view['check_in_closes']})",
                          code="appointment_expired", details={"appointment": view})
    try:
        result = ticket_service.issue_ticket(ctx, ticket_service.IssueRequest(
            queue_id=row.queue_id, item_id=row.item_id, appointment_code=code, source=station),
            actor, f"appointment:{code}",
            replace(grants or ticket_service.Grants.of(actor), appointment_verified=True))
    except DomainError as exc:
        if exc.code == "idempotency_key_reused":  # checked in at another kiosk at the same moment
            raise DomainError("此预约已签到，不能重复使用 / this appointment was already used",
                              code="appointment_used", details={"appointment": view}) from None
        raise
    with hall_write(ctx) as (conn, published):
        conn.execute(update(appointments).where(appointments.c.id == row.id, appointments.c.status == "booked")
                     .values(status="checked_in", ticket_id=result.ticket["id"], checked_in_at=ctx.now(),
                             station=station))
    t = kiosk_ticket(ctx, result.ticket)
    if result.created:
        printed = _print(ctx, station, ticket_document(ctx, t, lang), actor,
                         {"ticket_id": t["id"], "number": t["number"]})
    else:
        printed = {"status": "not_printed", "printer": printer_state(ctx, station)}
    return {"ticket": t, "created": result.created, "reason": result.reason, "print": printed,
            "appointment": {**view, "status": "checked_in", "ticket_id": t["id"]}}
