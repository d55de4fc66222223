"""Reading a case's rows and what every case use case shares: numbering, the item, the department check."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import date

from sqlalchemy import Connection, Row, select, update

from ...domain import deadlines as dl
from ...domain.cases import Approver, Mark, Shortfall, may_decide, route, shortfalls
from ...domain.errors import DomainError, NotFound
from ...domain.hall import ServiceItem
from ...store.cases_schema import approver_presence, case_log, case_suspensions, cases
from ...store.schema import day_counters, staff
from ..context import HallContext
from .settings import settings_of


class Forbidden(DomainError):
    code = "wrong_department"


def next_counter(conn: Connection, hall_id: str, kind: str, key: str, period: str) -> int:
    """The next number of a sequence (cases per day, notices per year and kind), inside the caller's transaction."""
    where = ((day_counters.c.hall_id == hall_id) & (day_counters.c.kind == kind) & (day_counters.c.key == key)
             & (day_counters.c.service_day == period))
    value = conn.execute(update(day_counters).where(where).values(value=day_counters.c.value + 1)
                         .returning(day_counters.c.value)).scalar()
    if value is None:
        conn.execute(day_counters.insert().values(hall_id=hall_id, kind=kind, key=key, service_day=period, value=1))
        value = 1
    return value


def service_item(ctx: HallContext, item_id: str) -> ServiceItem:
    try:
        return ctx.config.item(item_id)
    except KeyError:
        raise NotFound(f"service item {item_id!r} does not exist", code="item_not_found") \
            from None


def department_name(ctx: HallContext, dept: str) -> str:
    return next((d.name for d in ctx.config.departments if d.id == dept), dept)


def person_key(ctx: HallContext, id_number: str) -> str:
    """What finds a person's cases without storing their ID number twice: a keyed hash of the valid number."""
    return hmac.new(ctx.person_secret, id_number.encode(), hashlib.sha256).hexdigest()


def case_row(conn: Connection, ctx: HallContext, case_id: int) -> Row:
    row = conn.execute(select(cases).where(cases.c.id == case_id, cases.c.hall_id == ctx.hall_id)).first()
    if row is None:
        raise NotFound(f"case {case_id} does not exist", code="case_not_found")
    return row


def case_by_token(conn: Connection, ctx: HallContext, token: str) -> Row:
    row = conn.execute(select(cases).where(cases.c.tracker_token == token, cases.c.hall_id == ctx.hall_id)).first()
    if row is None:
        raise NotFound("no case has this code; scan the QR on your notice again", code="case_not_found")
    return row


def taken_by(conn: Connection, case_id: int) -> str | None:
    """The member of staff who took the case in (None: an online filing, or taken by a device)."""
    taken = conn.execute(select(case_log.c.actor).where(
        case_log.c.subject == "case", case_log.c.subject_id == str(case_id), case_log.c.action == "intake")).scalar()
    kind, _, who = (taken or "").partition(":")
    return who if kind == "staff" else None


def suspensions(conn: Connection, case_id: int) -> list[dl.Suspension]:
    rows = conn.execute(select(case_suspensions).where(case_suspensions.c.case_id == case_id)
                        .order_by(case_suspensions.c.id)).all()
    return [dl.Suspension(date.fromisoformat(r.started_on), date.fromisoformat(r.ended_on) if r.ended_on else None,
                          r.reason) for r in rows]


def due_date(ctx: HallContext, conn: Connection, c: Row) -> date | None:
    """The promised deadline, moved by every suspension so far."""
    if c.accepted_on is None:
        return None
    return dl.deadline(ctx.calendar, date.fromisoformat(c.accepted_on), c.promised_days, suspensions(conn, c.id))


def check_department(c: Row, departments: Iterable[str] | None) -> None:
    if not may_decide(c.department_id, departments):
        raise Forbidden(f"办件 {c.number} belongs to department {c.department_id}; you decide for "
                        f"{', '.join(departments or []) or 'no department'}")


def decidable_case(conn: Connection, ctx: HallContext, case_id: int, departments: Iterable[str] | None) -> Row:
    """The case, if the caller decides for its department (Forbidden otherwise)."""
    c = case_row(conn, ctx, case_id)
    check_department(c, departments)
    return c


def approvers(conn: Connection, ctx: HallContext) -> list[Approver]:
    absent = {r.username for r in conn.execute(select(approver_presence.c.username).where(
        approver_presence.c.hall_id == ctx.hall_id, approver_presence.c.absent == 1))}
    return [Approver(r.username, tuple(r.departments), r.username in absent or bool(r.disabled))
            for r in conn.execute(select(staff.c.username, staff.c.roles, staff.c.departments, staff.c.disabled))
            if "approver" in (r.roles or [])]


def new_assignee(conn: Connection, ctx: HallContext, department: str) -> str | None:
    """AB岗: the approver a newly accepted case goes to (None: the department's shared list)."""
    return route(department, settings_of(ctx).ab_posts, approvers(conn, ctx))


def missing_materials(ctx: HallContext, c: Row) -> list[Shortfall]:
    return shortfalls(service_item(ctx, c.item_id).materials, [Mark(m) for m in c.materials])
