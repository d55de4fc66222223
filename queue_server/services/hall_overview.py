"""Read-only views for the supervisor's wall screen and the technician's device page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from ..domain.tickets import TicketStatus
from ..store.cases_schema import evaluations
from ..store.db import read_tx
from ..store.schema import TICKET_WAITING, device_status, events, staff, tickets, window_states
from . import alerts
from .common import queue_stats
from .context import HallContext


def _elapsed_s(now: datetime, since: datetime | None) -> int | None:
    return None if since is None else max(0, int((now - since).total_seconds()))


def overview(ctx: HallContext) -> dict[str, Any]:
    """Every window, queue and station at this moment, plus the open alerts."""
    now = ctx.now()
    day = ctx.today(now).isoformat()
    start_utc = datetime.combine(ctx.today(now), ctx.config.hall.rollover_at, ctx.tz)
    with read_tx(ctx.engine) as conn:
        states = {r.window_id: r for r in conn.execute(
            select(window_states).where(window_states.c.hall_id == ctx.hall_id))}
        names = dict(conn.execute(select(staff.c.username, staff.c.display_name)).all())
        served: dict[str, int] = dict(conn.execute(select(tickets.c.window_id, func.count()).where(
            tickets.c.hall_id == ctx.hall_id, tickets.c.service_day == day,
            tickets.c.status == TicketStatus.DONE.value).group_by(tickets.c.window_id)).all())
        rating = {r.window_id: (float(r.avg), int(r.n)) for r in conn.execute(
            select(evaluations.c.window_id, func.avg(evaluations.c.level).label("avg"),
                   func.count().label("n")).where(
                evaluations.c.hall_id == ctx.hall_id, evaluations.c.at >= start_utc).group_by(evaluations.c.window_id))}
        current_ids = [s.current_ticket_id for s in states.values() if s.current_ticket_id and s.service_day == day]
        current = {r.id: r for r in conn.execute(select(tickets).where(tickets.c.id.in_(current_ids)))} \
            if current_ids else {}
        waiting_rows = conn.execute(select(tickets.c.queue_id, func.count(), func.min(tickets.c.issued_at)).where(
            tickets.c.hall_id == ctx.hall_id, tickets.c.service_day == day,
            TICKET_WAITING).group_by(tickets.c.queue_id)).all()
        issued: dict[str, int] = dict(conn.execute(select(tickets.c.queue_id, func.count()).where(
            tickets.c.hall_id == ctx.hall_id, tickets.c.service_day == day).group_by(tickets.c.queue_id)).all())
        stats = {q["queue_id"]: q for q in queue_stats(conn, ctx, day)}
        devices = conn.execute(select(device_status).where(device_status.c.hall_id == ctx.hall_id)).all()
    oldest = {q: first for q, _n, first in waiting_rows}
    windows = []
    for w in ctx.config.windows:
        st = states.get(w.id)
        live = st is not None and st.service_day == day
        cur = current.get(st.current_ticket_id) if live and st is not None and st.current_ticket_id else None
        on_duty = None
        if live and st is not None and st.status in ("open", "paused") and st.actor and st.actor.startswith("staff:"):
            user = st.actor.split(":", 1)[1]
            on_duty = names.get(user, user)
        avg, n = rating.get(w.id, (None, 0))
        windows.append({
            "window_id": w.id, "number": w.number, "name": w.name.zh, "zone_id": w.zone,
            "status": st.status if live and st is not None else "closed",
            "pause_reason": st.pause_reason if live and st is not None else None,
            "since": st.updated_at.isoformat() if live and st is not None and st.updated_at else None,
            "staff": on_duty,
            "current": None if cur is None else {
                "number": cur.number, "status": cur.status,
                "elapsed_s": _elapsed_s(now, cur.started_at or cur.called_at)},
            "served_today": served.get(w.id, 0),
            "rating_avg": round(avg, 2) if avg is not None else None, "ratings": n,
        })
    queues = []
    for q in ctx.config.queues:
        s = stats[q.id]
        queues.append({"queue_id": q.id, "name": q.name.zh, "zone_id": q.zone, "waiting": s["waiting"],
                       "longest_wait_s": _elapsed_s(now, oldest.get(q.id)), "estimated_wait_min": s[
                           "estimated_wait_min"], "issued": issued.get(q.id, 0), "cap": q.daily_cap})
    problems: dict[str, list[str]] = {}
    for d in devices:
        if d.status not in ("ok", "unknown"):
            problems.setdefault(d.station, []).append(f"{d.device}:{d.status}")
    return {"now": now.isoformat(), "service_day": day, "windows": windows, "queues": queues,
            "stations": [{"station": s, "problems": p} for s, p in sorted(problems.items())],
            "alerts": alerts.list_alerts(ctx, open_only=True), "alert_counts": alerts.counts(ctx)}


def configured_stations(ctx: HallContext) -> dict[str, dict[str, Any]]:
    """Stations and their device kinds, as the server loaded them from the devices file at start."""
    return {name: {"role": st.role, "window_id": st.window_id, "description": st.description,
                   "devices": sorted(st.devices)} for name, st in (ctx.stations or {}).items()}


PAPER = {"ready": "ok", "paper_near_end": "low", "paper_out": "out"}
HISTORY_TYPES = ("device_health", "command_result", "kiosk_alert")


def device_board(ctx: HallContext, stations: dict[str, dict[str, Any]], history: int = 60) -> dict[str, Any]:
    """Every configured station and device with its last report; the last command and result; fault history."""
    with read_tx(ctx.engine) as conn:
        rows = {(r.station, r.device): r for r in conn.execute(
            select(device_status).where(device_status.c.hall_id == ctx.hall_id))}
        def last(types: tuple[str, ...], n: int) -> list[Any]:
            return list(conn.execute(select(events.c.seq, events.c.type, events.c.payload, events.c.at).where(
                events.c.hall_id == ctx.hall_id, events.c.type.in_(types)).order_by(events.c.seq.desc()).limit(n)))

        # Bounded reads: a print command carries its whole document, so only the latest few hundred are read.
        recent = sorted(last(("device_command", "command_result"), 300) + last(("device_health",), 300)
                        + last(("kiosk_alert",), 30), key=lambda ev: -ev.seq)
    last_cmd: dict[tuple[str, str], dict[str, Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    faults: list[dict[str, Any]] = []
    kiosk_alerts: list[dict[str, Any]] = []
    for ev in recent:
        p = ev.payload
        if ev.type == "command_result":
            results.setdefault(p.get("command_id"), p)
        elif ev.type == "device_command":
            key = (p.get("station"), p.get("device"))
            if key not in last_cmd:
                res = results.get(p.get("command_id"))
                last_cmd[key] = {"command": p.get("command"), "by": p.get("by"), "at": ev.at.isoformat(),
                                 "ok": None if res is None else res.get("ok"),
                                 "error": None if res is None else res.get("error")}
        elif ev.type == "device_health" and p.get("status") != "ok" and len(faults) < history:
            faults.append({"at": ev.at.isoformat(), "station": p.get("station"), "device": p.get("device"),
                           "status": p.get("status"), "detail": _fault_text(p.get("detail") or {})})
        elif ev.type == "kiosk_alert" and len(kiosk_alerts) < 30:
            kiosk_alerts.append({"seq": ev.seq, "at": ev.at.isoformat(), **{k: p.get(k) for k in (
                "station", "kind", "message", "ticket_number")}})
    names = sorted(set(stations) | {s for s, _ in rows})
    out = []
    for name in names:
        conf = stations.get(name, {})
        agent = rows.get((name, "agent"))
        devs = []
        kinds = conf.get("devices") or sorted({d for s, d in rows if s == name and d != "agent"})
        for kind in kinds:
            r = rows.get((name, kind))
            detail = (r.detail or {}) if r is not None else {}
            state = detail.get("state")
            devs.append({
                "device": kind, "status": r.status if r is not None else "unknown",
                "last_seen": r.updated_at.isoformat() if r is not None else None,
                "state": state, "paper": PAPER.get(state) if kind == "printer" and state in PAPER else None,
                "cover_open": state == "cover_open" if kind == "printer" and state else None,
                "last_error": detail.get("error") or (state if r is not None and r.status != "ok" else None),
                "last_command": last_cmd.get((name, kind)),
            })
        adetail = (agent.detail or {}) if agent is not None else {}
        out.append({"station": name, "role": conf.get("role"), "description": conf.get("description"),
                    "window_id": conf.get("window_id") or adetail.get("window_id"),
                    "configured": name in stations,
                    "connected": agent is not None and agent.status == "ok",
                    "last_seen": agent.updated_at.isoformat() if agent is not None else None,
                    "agent_version": adetail.get("version"), "devices": devs})
    return {"stations": out, "faults": faults, "kiosk_alerts": kiosk_alerts}


def _fault_text(detail: dict[str, Any]) -> str:
    return str(detail.get("error") or detail.get("state") or detail.get("note") or "")
