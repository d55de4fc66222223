"""Who owns a ticket or a case: what the declared policy's object scopes (own_ticket, own_case) are checked against.

Read-only and cheap (one indexed row each); the checks run before a handler parses its body, so a caller learns
nothing about another window's ticket or another department's case from a validation error.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..store.cases_schema import case_notices, cases
from ..store.db import read_tx
from ..store.schema import tickets
from .context import HallContext


@dataclass(frozen=True)
class CaseOwner:
    department_id: str
    window_id: str | None  # where it was taken (None: an online filing)


def case_owner(ctx: HallContext, *, case_id: int | None = None, notice_id: int | None = None,
               number: str | None = None) -> CaseOwner | None:
    """The case named by id, by one of its notices, or by number; None when there is none (the handler 404s)."""
    q = select(cases.c.department_id, cases.c.window_id).where(cases.c.hall_id == ctx.hall_id)
    if case_id is not None:
        q = q.where(cases.c.id == case_id)
    elif notice_id is not None:
        q = q.where(cases.c.id == select(case_notices.c.case_id).where(case_notices.c.id == notice_id)
                    .scalar_subquery())
    elif number is not None:
        q = q.where(cases.c.number == number)
    else:
        return None
    with read_tx(ctx.engine) as conn:
        row = conn.execute(q).first()
    return CaseOwner(row.department_id, row.window_id) if row else None


def ticket_windows(ctx: HallContext, ticket_id: int) -> set[str] | None:
    """The windows a ticket belongs to: the one serving or holding it, the one it was sent to, else every window
    that calls its queue; None when there is no such ticket."""
    with read_tx(ctx.engine) as conn:
        row = conn.execute(select(tickets.c.window_id, tickets.c.target_window, tickets.c.queue_id).where(
            tickets.c.hall_id == ctx.hall_id, tickets.c.id == ticket_id)).first()
    if row is None:
        return None
    own = {w for w in (row.window_id, row.target_window) if w}
    return own or {w.id for w in ctx.config.windows if any(q.queue == row.queue_id for q in w.queues)}


def issuance_windows(ctx: HallContext, issuance_queue: str) -> set[str]:
    """Windows that hand results out (统一出件): they may touch any case for its issuance."""
    return {w.id for w in ctx.config.windows if any(q.queue == issuance_queue for q in w.queues)}
