"""The case module's append-only history and the write transaction it is written in.

Shared by the case and the evaluation services (a rating and a 差评 follow-up are logged like a case step), so
neither has to import the other for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ...store.cases_schema import case_log
from ..context import Actor, HallContext
from ..events import hall_write

tx = hall_write  # a write transaction and the events to publish once it has committed


def log(conn: Connection, ctx: HallContext, subject: str, subject_id: Any, at: datetime, action: str,
        from_status: str | None, to_status: str | None, actor: Actor, detail: dict[str, Any] | None = None) -> None:
    """One line of the append-only history. Never put an ID or phone number in ``detail``."""
    conn.execute(case_log.insert().values(hall_id=ctx.hall_id, subject=subject, subject_id=str(subject_id), at=at,
                                          action=action, from_status=from_status, to_status=to_status,
                                          actor=str(actor), detail=detail))


def history(conn: Connection, subject: str, subject_id: Any) -> list[dict[str, Any]]:
    rows = conn.execute(select(case_log).where(case_log.c.subject == subject,
                                               case_log.c.subject_id == str(subject_id)).order_by(case_log.c.id))
    return [{"at": r.at.isoformat(), "action": r.action, "from": r.from_status, "to": r.to_status,
             "actor": r.actor, "detail": r.detail or {}} for r in rows]
