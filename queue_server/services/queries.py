"""Read-only use cases: the hall snapshot a screen starts from, and the events it missed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..domain.tickets import TicketStatus
from ..store.db import read_tx
from ..store.schema import tickets
from .common import public_ticket, queue_stats
from .context import HallContext
from .events import current_seq, events_since
from .window_views import windows_overview

RECENT_CALLS = 12


def snapshot(ctx: HallContext) -> dict[str, Any]:
    """Everything a hall screen shows, with the sequence number it is current to."""
    today = ctx.today().isoformat()
    with read_tx(ctx.engine) as conn:
        seq = current_seq(conn, ctx.hall_id)
        recent = conn.execute(
            select(tickets)
            .where(tickets.c.hall_id == ctx.hall_id, tickets.c.service_day == today, tickets.c.called_at.is_not(None),
                   tickets.c.status.in_([TicketStatus.CALLED.value, TicketStatus.SERVING.value,
                                         TicketStatus.DONE.value, TicketStatus.NO_SHOW.value]))
            .order_by(tickets.c.called_at.desc())
            .limit(RECENT_CALLS)
        ).all()
        stats = queue_stats(conn, ctx, today)
    return {
        "hall_id": ctx.hall_id,
        "seq": seq,
        "service_day": today,
        "queues": stats,
        "windows": windows_overview(ctx),
        "recent_calls": [public_ticket(ctx, t) for t in recent],
    }


def missed_events(ctx: HallContext, after_seq: int, rooms: set[str], limit: int = 1000) -> dict[str, Any]:
    """Events after ``after_seq`` for ``rooms``; ``complete`` is false when there were more than ``limit``
    (the client takes a fresh snapshot, or asks again from ``scanned_to``, the last sequence number looked at)."""
    with read_tx(ctx.engine) as conn:
        head = current_seq(conn, ctx.hall_id)
        if after_seq > head:
            # The client is ahead of us: it saw a previous database (e.g. a reset demo); start afresh.
            return {"seq": head, "events": [], "complete": False, "reset": True, "scanned_to": head}
        found, truncated, scanned = events_since(conn, ctx.hall_id, after_seq, rooms, limit)
    return {"seq": head, "events": found, "complete": not truncated, "reset": False,
            "scanned_to": scanned if truncated else head}
