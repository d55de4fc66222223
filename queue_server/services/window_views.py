"""What a window and its clerk see, read-only: every window's state, who waits for a window, the tickets it
holds and the one it served last. The use cases that change a window live in `windows.py`."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Row, select

from ..domain.errors import NotFound
from ..domain.hall import Window
from ..domain.tickets import TicketStatus
from ..store.db import read_tx
from ..store.schema import tickets, window_states
from .common import candidates, get_ticket, public_ticket
from .context import HallContext

WindowStatus = Literal["closed", "open", "paused", "closed_for_day"]
STATUS_ZH = {"closed": "未开窗", "open": "服务中", "paused": "暂停服务", "closed_for_day": "今日已停止服务"}


def find_window(ctx: HallContext, window_id: str) -> Window:
    """The hall's window, or NotFound (the edge answers 404)."""
    try:
        return ctx.config.window(window_id)
    except KeyError:
        raise NotFound(f"window {window_id!r} does not exist",
                       code="window_not_found") from None


def window_view(ctx: HallContext, w: Window, state: Row | None, current: Row | None) -> dict[str, Any]:
    status = state.status if state else "closed"
    return {
        "window_id": w.id,
        "number": w.number,
        "name": w.name.zh,
        "zone_id": w.zone,
        "queues": [{"queue_id": wq.queue, "weight": wq.weight} for wq in w.queues],
        "status": status,
        "status_label": STATUS_ZH[status],
        "pause_reason": state.pause_reason if state else None,
        "current": public_ticket(ctx, current) if current is not None else None,
    }


def windows_overview(ctx: HallContext) -> list[dict[str, Any]]:
    with read_tx(ctx.engine) as conn:
        today = ctx.today().isoformat()
        states = {
            r.window_id: r
            for r in conn.execute(select(window_states).where(window_states.c.hall_id == ctx.hall_id))
        }
        out = []
        for w in ctx.config.windows:
            st = states.get(w.id)
            if st is not None and st.service_day != today:
                st = None  # yesterday's state: the roll-over has not run yet, the window is closed today
            cur = get_ticket(conn, ctx, st.current_ticket_id) if st is not None and st.current_ticket_id else None
            out.append(window_view(ctx, w, st, cur))
        return out


def waiting_for_window(ctx: HallContext, window_id: str, limit: int = 5) -> list[dict[str, Any]]:
    """Per queue of the window: how many wait and the next few numbers in the order the policy would call them."""
    window = find_window(ctx, window_id)
    day = ctx.today().isoformat()
    with read_tx(ctx.engine) as conn:
        waiting = candidates(conn, ctx, day, [wq.queue for wq in window.queues])
        numbers = dict(conn.execute(select(tickets.c.id, tickets.c.number).where(
            tickets.c.id.in_([c.ticket_id for c in waiting]))).all()) if waiting else {}
    now = ctx.now()
    out = []
    for wq in window.queues:
        mine = [c for c in waiting if c.queue_id == wq.queue and c.target_window in (None, window.id)]
        ranked = ctx.policy.rank(mine, now)
        out.append({
            "queue_id": wq.queue, "name": ctx.config.queue(wq.queue).name.zh, "weight": wq.weight,
            "waiting": len(mine),
            "next": [{"id": c.ticket_id, "number": numbers[c.ticket_id], "priority": c.priority.value,
                      "waited_min": round((now - c.issued_at).total_seconds() / 60, 1),
                      "transferred_here": c.target_window == window.id} for c in ranked[:limit]],
        })
    return out


def last_served(ctx: HallContext, window_id: str) -> dict[str, Any] | None:
    """The ticket this window finished last today (for "request evaluation")."""
    find_window(ctx, window_id)
    with read_tx(ctx.engine) as conn:
        row = conn.execute(select(tickets).where(
            tickets.c.hall_id == ctx.hall_id, tickets.c.window_id == window_id,
            tickets.c.service_day == ctx.today().isoformat(), tickets.c.status == TicketStatus.DONE.value,
        ).order_by(tickets.c.finished_at.desc()).limit(1)).first()
        return public_ticket(ctx, row) if row is not None else None


def held_tickets(ctx: HallContext, window_id: str) -> list[dict[str, Any]]:
    find_window(ctx, window_id)
    with read_tx(ctx.engine) as conn:
        rows = conn.execute(
            select(tickets).where(tickets.c.hall_id == ctx.hall_id, tickets.c.window_id == window_id,
                                  tickets.c.status == TicketStatus.HELD.value, tickets.c.service_day ==
                                  ctx.today().isoformat()).order_by(tickets.c.called_at)
        ).all()
        return [public_ticket(ctx, r) for r in rows]
