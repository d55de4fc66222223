"""The back office's queues: the approvers' and clerks' lists, 电子监察 (cases near or past their deadline),
and the A/B posts (an approver marked absent, a case handed to another approver)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import or_, select, update

from ...domain import deadlines as dl
from ...domain.cases import IN_PROGRESS, CaseAction, CaseStatus, next_status
from ...domain.errors import InvalidInput, NotFound
from ...store.cases_schema import approver_presence, cases
from ...store.db import read_tx
from ...store.schema import staff
from ..context import Actor, HallContext
from .log import log, tx
from .moves import move
from .records import approvers, case_row
from .settings import settings_of
from .views import public_case, staff_case, step_result


def list_cases(ctx: HallContext, departments: Iterable[str] | None = None, statuses: Iterable[str] | None = None,
               assignee: str | None = None, limit: int = 200, windows: Iterable[str] | None = None
               ) -> list[dict[str, Any]]:
    """The approver's list: the cases of their departments (or all), newest first, personal data masked. With
    ``windows`` (a window clerk's list): the cases taken at those windows, or of ``departments``."""
    q = select(cases).where(cases.c.hall_id == ctx.hall_id)
    if windows is not None:
        q = q.where(or_(cases.c.window_id.in_(list(windows)), cases.c.department_id.in_(list(departments or []))))
    elif departments is not None:
        q = q.where(cases.c.department_id.in_(list(departments)))
    if statuses:
        q = q.where(cases.c.status.in_(list(statuses)))
    if assignee:
        q = q.where(cases.c.assignee == assignee)
    with read_tx(ctx.engine) as conn:
        rows = conn.execute(q.order_by(cases.c.id.desc()).limit(limit)).all()
    return [staff_case(ctx, r) for r in rows]


def supervision(ctx: HallContext, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """电子监察: cases whose deadline is near (yellow) or past (red), and those whose clock is stopped."""
    s = settings_of(ctx)
    today = ctx.local().date()
    q = select(cases).where(cases.c.hall_id == ctx.hall_id,
                            cases.c.status.in_([st.value for st in IN_PROGRESS]))
    if departments is not None:
        q = q.where(cases.c.department_id.in_(list(departments)))
    out: dict[str, list[dict[str, Any]]] = {"yellow": [], "red": [], "paused": []}
    with read_tx(ctx.engine) as conn:
        for c in conn.execute(q.order_by(cases.c.due_on, cases.c.id)).all():
            due = date.fromisoformat(c.due_on) if c.due_on else None
            colour = dl.light(ctx.calendar, today, due, s.warning_days)
            if colour is dl.Light.GREEN:
                continue
            view = public_case(ctx, c)
            view["light"] = colour.value
            if due is not None:
                view["workdays_left"] = dl.remaining_workdays(ctx.calendar, today, due)
            out[colour.value].append(view)
    return {"today": today.isoformat(), "warning_days": s.warning_days, **out}


def reassign(ctx: HallContext, case_id: int, username: str, actor: Actor) -> dict[str, Any]:
    """A supervisor hands a case to another approver of its department."""
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = case_row(conn, ctx, case_id)
        next_status(CaseAction.REASSIGN, CaseStatus(c.status), c.number)
        target = next((a for a in approvers(conn, ctx) if a.username == username), None)
        if target is None or c.department_id not in target.departments:
            raise InvalidInput(f"{username!r} is not an approver of department {c.department_id}",
                               code="not_an_approver")
        c = move(conn, ctx, c, CaseAction.REASSIGN, actor, now, published, {"assignee": username},
                 {"from": c.assignee, "to": username})
        return step_result(ctx, c)


def set_absence(ctx: HallContext, username: str, absent: bool, reason: str | None, actor: Actor) -> dict[str, Any]:
    """AB岗: mark an approver absent (new work goes to the named backup) or back."""
    now = ctx.now()
    with tx(ctx) as (conn, _published):
        if conn.execute(select(staff.c.id).where(staff.c.username == username)).first() is None:
            raise NotFound(f"no user named {username!r}", code="user_not_found")
        key = (approver_presence.c.hall_id == ctx.hall_id) & (approver_presence.c.username == username)
        values = {"absent": int(absent), "reason": (reason or "").strip() or None, "updated_at": now,
                  "actor": str(actor)}
        if conn.execute(update(approver_presence).where(key).values(**values)).rowcount == 0:
            conn.execute(approver_presence.insert().values(hall_id=ctx.hall_id, username=username, **values))
        log(conn, ctx, "approver", username, now, "absent" if absent else "present", None, None, actor,
            {"reason": values["reason"]})
    return {"username": username, "absent": absent, "reason": values["reason"]}
