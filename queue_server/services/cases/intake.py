"""收件: an application recorded from the ticket being served at a window, or from an online filing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ...domain.cases import CaseStatus, case_number, check_applicant, check_marks, check_source
from ...domain.errors import InvalidInput, InvalidTransition, NotFound
from ...domain.privacy import mask_name, validate_id_number
from ...store.cases_schema import cases
from ...store.schema import tickets
from ..context import Actor, HallContext
from .log import log, tx
from .moves import emit
from .records import case_row, next_counter, person_key, service_item
from .settings import settings_of
from .views import step_result


@dataclass(frozen=True)
class IntakeRequest:
    item_id: str
    applicant_name: str
    id_number: str
    materials: list[str]
    phone: str | None = None
    ticket_id: int | None = None
    window_id: str | None = None
    source: str = "window"  # window | online
    extra: dict[str, Any] = field(default_factory=dict)


def intake(ctx: HallContext, req: IntakeRequest, actor: Actor) -> dict[str, Any]:
    """Record an application: from the ticket being served at a window, or from an online filing."""
    s = settings_of(ctx)
    item = service_item(ctx, req.item_id)
    try:
        id_number = validate_id_number(req.id_number)
    except ValueError as exc:
        raise InvalidInput(f"id_number: {exc}", code="invalid_id_number") from None
    name, phone = check_applicant(req.applicant_name, req.phone)
    marks = check_marks(item.materials, req.materials)
    check_source(req.source, req.ticket_id)
    if req.window_id is not None and req.window_id not in {w.id for w in ctx.config.windows}:
        raise NotFound(f"window {req.window_id!r} does not exist", code="window_not_found")
    now = ctx.now()
    with tx(ctx) as (conn, published):
        window_id = req.window_id
        if req.ticket_id is not None:
            t = conn.execute(select(tickets).where(tickets.c.id == req.ticket_id,
                                                   tickets.c.hall_id == ctx.hall_id)).first()
            if t is None:
                raise NotFound(f"ticket {req.ticket_id} does not exist", code="ticket_not_found")
            if t.status not in ("called", "serving", "done"):
                raise InvalidTransition(f"ticket {t.number} is {t.status}; take in applications from the ticket being "
                                        "served", code="ticket_not_served")
            if window_id is not None and t.window_id not in (None, window_id):
                raise InvalidTransition(f"ticket {t.number} is served at window {t.window_id}, not {window_id}",
                                        code="wrong_window")
            window_id = window_id or t.window_id
        day = ctx.today(now)
        seq = next_counter(conn, ctx.hall_id, "case", s.number_prefix, day.isoformat())
        number = case_number(s, day, seq)
        case_id = conn.execute(cases.insert().values(
            hall_id=ctx.hall_id, number=number, service_day=day.isoformat(), item_id=item.id,
            department_id=item.department, kind=item.kind.value, source=req.source, ticket_id=req.ticket_id,
            window_id=window_id, status=CaseStatus.RECEIVED.value, applicant_name=name,
            applicant_id_number=id_number, applicant_label=mask_name(name), applicant_phone=phone,
            person_key=person_key(ctx, id_number),
            materials=[m.value for m in marks], received_at=now, promised_days=item.promised_days,
            tracker_token=secrets.token_urlsafe(16), updated_at=now,
        ).returning(cases.c.id)).scalar_one()
        log(conn, ctx, "case", case_id, now, "intake", None, CaseStatus.RECEIVED.value, actor,
            {"item": item.id, "source": req.source, "ticket_id": req.ticket_id, "window_id": window_id,
             "materials": [m.value for m in marks]})
        c = case_row(conn, ctx, case_id)
        emit(conn, ctx, c, "case_received", now, published)
        out = step_result(ctx, c)
    return out
