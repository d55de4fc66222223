"""Printing at the kiosk: whether the station can print now, the printed ticket and materials checklist as
plain documents (``devices/printer/document.py`` format) sent as a ``print`` command to the station's room (the
server imports no driver), and the alerts staff get when a ticket could not be printed and is shown on screen.
No name and no ID number go on paper."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..store.db import read_tx
from ..store.schema import events
from . import devices
from . import tickets as ticket_service
from .context import Actor, HallContext
from .events import append_event, hall_write
from .hours import open_status
from .kiosk_guidance import item_guide

if TYPE_CHECKING:
    from ..i18n import Texts

PRINTABLE = ("ok", "warning")  # warning: paper near its end, still prints


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


PRIORITY_TEXT = {"elderly": "老年人优先", "legal": "依法优先", "appointment": "预约", "green": "绿色通道"}


def ticket_document(ctx: HallContext, t: dict[str, Any], lang: str = "zh") -> dict[str, Any]:
    """The printed ticket: hall, number, queue and zone, where to go, people ahead, wait, time, tracker QR.
    No name and no ID number on paper."""
    hall = ctx.config.hall
    texts = ctx.citizen_texts()
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
    blocks += _wait_lines(texts, t, lang)
    if t.get("copy_first"):
        names = "、".join(f"{c['name']}{c['copies']}份" for c in t["copy_first"])
        blocks.append({"type": "text", "text": f"请先到免费复印区复印（无需另取号）：{names}"})
    requeue = ctx.config.calling.no_show.requeue_within_min
    scan = texts.text("zh", "ticket.scan") + ("" if lang == "zh" else f" / {texts.text(lang, 'ticket.scan')}")
    missed = texts.text("zh", "ticket.missed", min=requeue)
    blocks += [
        {"type": "separator"},
        # the tracker opens in the language the ticket was taken in
        {"type": "qr", "payload": t["tracker_url"] + ("" if lang == "zh" else f"?lang={lang}"), "size": 6},
        {"type": "text", "text": scan, "align": "center"},
    ]
    if lang != "zh":
        blocks.append({"type": "text", "text": texts.text(lang, "ticket.missed", min=requeue)})
    blocks += [
        {"type": "footer", "text": f"取号时间：{t['issued_local']}\n当日有效，{missed}\n"
                                   f"意见投诉：{hall.complaint_phone}"},
        {"type": "cut"},
    ]
    return {"blocks": blocks}


def _wait_lines(texts: Texts, t: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """People ahead and the estimated wait: the Chinese line, then one short line each in the visitor's language
    (a Tibetan line that fits 80 mm rather than one long sentence that wraps mid-phrase)."""
    ahead, wait = t["ahead"], t["estimated_wait_min"]
    zh = f"前面还有 {ahead} 人" + (f"，预计等待约 {round(wait)} 分钟" if wait is not None else "")
    lines: list[dict[str, Any]] = [{"type": "text", "text": zh, "bold": True}]
    if lang != "zh":
        lines.append({"type": "text", "text": texts.text(lang, "ticket.ahead", n=ahead)})
        if wait is not None:
            lines.append({"type": "text", "text": texts.text(lang, "ticket.est", n=max(1, round(wait)))})
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


def print_document(ctx: HallContext, station: str, document: dict[str, Any], actor: Actor,
                   alert: dict[str, Any] | None) -> dict[str, Any]:
    """Send a document to the station's printer, or (for a ticket: ``alert`` says which) tell staff it is on
    screen instead when the printer cannot print now."""
    state = printer_state(ctx, station)
    if state["printable"]:
        cmd = devices.send_command(ctx, station, "printer", "print", {"document": document}, actor)
        return {"status": "sent", "command_id": cmd["command_id"], "printer": state}
    if alert is not None:
        raise_alert(ctx, station, "ticket_not_printed", {**alert, "printer_status": state["status"],
                                                          "printer_reason": state["reason"]})
    return {"status": "unavailable", "printer": state}


def print_checklist(ctx: HallContext, station: str, item_id: str, actor: Actor) -> dict[str, Any]:
    devices.check_station(station)
    g = item_guide(ctx, item_id)
    return {"print": print_document(ctx, station, checklist_document(ctx, g), actor, None)}


def report_print_failure(ctx: HallContext, station: str, ticket_id: int, command_id: str | None,
                         error: str | None) -> dict[str, Any]:
    """The page saw the print fail (or get no answer): the ticket is on screen; staff are told."""
    devices.check_station(station)
    number = ticket_service.get_ticket_view(ctx, ticket_id)["number"]
    return raise_alert(ctx, station, "print_failed", {"ticket_id": ticket_id, "number": number,
                                                      "command_id": command_id, "error": (error or "")[:200]})
