"""Read-only look-ups for the staff workbench's navigation (panel ↔ intake ↔ case ↔ issuance).

Kept apart from the ``services/cases`` package on purpose: these are page conveniences over the same tables, not use cases,
and they take no lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..domain.errors import NotFound
from ..store.cases_schema import cases
from ..store.db import read_tx
from ..store.schema import tickets
from .context import HallContext


def ticket_case_link(ctx: HallContext, ticket_id: int) -> dict[str, Any]:
    """Where a called ticket leads a clerk: the case waiting for this pick-up ticket (出件), the case already
    taken with this ticket, or a fresh intake carrying the ticket, its window and its item."""
    with read_tx(ctx.engine) as conn:
        t = conn.execute(select(tickets.c.id, tickets.c.item_id, tickets.c.window_id, tickets.c.queue_id,
                                tickets.c.number)
                         .where(tickets.c.hall_id == ctx.hall_id, tickets.c.id == ticket_id)).first()
        if t is None:
            raise NotFound(f"排队号 {ticket_id} 不存在 / ticket {ticket_id} does not exist", code="ticket_not_found")
        base = {"ticket_id": t.id, "number": t.number, "item_id": t.item_id, "window_id": t.window_id,
                "queue_id": t.queue_id}
        row = conn.execute(select(cases.c.id).where(cases.c.hall_id == ctx.hall_id,
                                                    cases.c.issuance_ticket_id == ticket_id)
                           .order_by(cases.c.id.desc())).first()
        if row is not None:
            return {**base, "kind": "issuance", "case_id": row.id}
        row = conn.execute(select(cases.c.id).where(cases.c.hall_id == ctx.hall_id, cases.c.ticket_id == ticket_id)
                           .order_by(cases.c.id.desc())).first()
        if row is not None:
            return {**base, "kind": "case", "case_id": row.id}
        return {**base, "kind": "intake", "case_id": None}
