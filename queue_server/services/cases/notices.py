"""The written notices of a case: numbered, built from the case, stored, read back and printed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from ...domain import notices as nt
from ...domain.errors import NotFound
from ...domain.hall import ServiceItem
from ...domain.privacy import mask_id
from ...store.cases_schema import case_notices
from ...store.db import read_tx
from .. import devices
from ..context import Actor, HallContext
from .log import log
from .records import decidable_case, department_name, next_counter, service_item
from .settings import settings_of
from .views import tracker_url

# Builds the notice from the parties, its number and the local time of issue.
NoticeBuilder = Callable[[nt.NoticeParty, str, datetime], nt.Notice]


def _party(ctx: HallContext, c: Row, item: ServiceItem) -> nt.NoticeParty:
    s = settings_of(ctx)
    return nt.NoticeParty(case_number=c.number, applicant=c.applicant_name,
                          applicant_id_masked=mask_id(c.applicant_id_number), item=item.name,
                          department=department_name(ctx, c.department_id), office=s.accepting_office,
                          complaint_phone=s.complaint_phone or ctx.config.hall.complaint_phone,
                          tracker_url=tracker_url(ctx, c.tracker_token), received_at=ctx.local(c.received_at),
                          category=item.category.value)


def issue_notice(conn: Connection, ctx: HallContext, c: Row, kind: nt.NoticeKind, at: datetime, actor: Actor,
                 build: NoticeBuilder) -> dict[str, Any]:
    """Number, build and store a notice, inside the step's transaction."""
    s = settings_of(ctx)
    local = ctx.local(at)
    seq = next_counter(conn, ctx.hall_id, "notice", kind.value, str(local.year))
    number = nt.notice_number(s.office_short, kind, local.year, seq)
    notice = build(_party(ctx, c, service_item(ctx, c.item_id)), number, local)
    content = notice.to_dict()
    notice_id = conn.execute(case_notices.insert().values(case_id=c.id, kind=kind.value, number=number, issued_at=at,
                                                          content=content, actor=str(actor))
                             .returning(case_notices.c.id)).scalar_one()
    log(conn, ctx, "case", c.id, at, "notice", c.status, c.status, actor, {"kind": kind.value, "number": number})
    return {"id": notice_id, **content}


def notice_case(ctx: HallContext, notice_id: int) -> int:
    with read_tx(ctx.engine) as conn:
        case_id = conn.execute(select(case_notices.c.case_id).where(case_notices.c.id == notice_id)).scalar()
    if case_id is None:
        raise NotFound(f"notice {notice_id} does not exist", code="notice_not_found")
    return case_id


def get_notice(ctx: HallContext, notice_id: int, departments: Iterable[str] | None = None) -> dict[str, Any]:
    with read_tx(ctx.engine) as conn:
        n = conn.execute(select(case_notices).where(case_notices.c.id == notice_id)).first()
        if n is None:
            raise NotFound(f"notice {notice_id} does not exist", code="notice_not_found")
        decidable_case(conn, ctx, n.case_id, departments)
    return {"id": n.id, "case_id": n.case_id, **n.content}


def notice_slip(ctx: HallContext, notice_id: int, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """The notice as an 80 mm printer document."""
    content = get_notice(ctx, notice_id, departments)
    return nt.slip_document(nt.Notice.from_dict(content), ctx.config.hall.name.zh)


def print_notice(ctx: HallContext, notice_id: int, station: str, actor: Actor,
                 departments: Iterable[str] | None = None) -> dict[str, Any]:
    """Send the slip to a station's printer through its agent."""
    doc = notice_slip(ctx, notice_id, departments)
    return devices.send_command(ctx, station, "printer", "print", {"document": doc}, actor)
