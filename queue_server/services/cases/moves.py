"""A case's state move, as every step makes it: the row, the history line, the event; and the rating it opens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, update

from ...domain.cases import CaseAction, CaseStatus, next_status
from ...store.cases_schema import cases
from ..context import Actor, HallContext
from ..evaluations import ensure_request
from ..events import append_event
from .log import log
from .records import case_row, taken_by
from .views import public_case


def emit(conn: Connection, ctx: HallContext, c: Row, type_: str, at: datetime, published: list[dict]) -> None:
    """The case's public projection to its department, its own room and the window that took it."""
    rooms = [f"department:{c.department_id}", f"case:{c.id}"]
    if c.window_id:
        rooms.append(f"window:{c.window_id}")
    published.append(append_event(conn, ctx.hall_id, type_, public_case(ctx, c), rooms, at))


def move(conn: Connection, ctx: HallContext, c: Row, action: CaseAction, actor: Actor, at: datetime,
         published: list[dict], values: dict[str, Any] | None = None, detail: dict[str, Any] | None = None) -> Row:
    """Apply ``action`` (refused if the state does not allow it) with ``values``; log ``detail``; return the row."""
    target = next_status(action, CaseStatus(c.status), c.number)
    conn.execute(update(cases).where(cases.c.id == c.id).values(status=target.value, updated_at=at, **(values or {})))
    log(conn, ctx, "case", c.id, at, action.value, c.status, target.value, actor, detail)
    row = case_row(conn, ctx, c.id)
    emit(conn, ctx, row, "case_updated", at, published)
    return row


def open_evaluation(conn: Connection, ctx: HallContext, c: Row, at: datetime) -> None:
    """一事一评: once a case has an outcome its rating invitation exists, about the clerk who took it in."""
    ensure_request(conn, ctx, "case", c.id, c.number, c.item_id, c.department_id, c.window_id,
                   taken_by(conn, c.id), at)
