"""出件: a ticket in the issuance queue to collect the result, and the result handed over or sent by courier."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from ...domain.cases import CaseAction, CaseStatus, check_courier, next_status
from ...domain.errors import InvalidInput
from ...domain.privacy import mask_name
from ...store.cases_schema import cases
from ...store.db import read_tx
from ...store.schema import tickets
from .. import tickets as ticket_service
from ..context import Actor, HallContext
from .log import log, tx
from .moves import move
from .records import case_by_token, case_row
from .settings import settings_of
from .views import staff_case, step_result, tracker_view


def issuance_ticket(ctx: HallContext, case_id: int, actor: Actor) -> dict[str, Any]:
    """A ticket in the issuance queue for collecting the result; the same open ticket if asked again.

    Issuing the ticket is the queue's own use case (its transaction, its events); linking it to the case is this
    one's. The state is checked before, and again when linking."""
    s = settings_of(ctx)
    with read_tx(ctx.engine) as conn:
        c = case_row(conn, ctx, case_id)
        next_status(CaseAction.ISSUANCE_TICKET, CaseStatus(c.status), c.number)
        if c.issuance_ticket_id is not None:
            t = conn.execute(select(tickets).where(tickets.c.id == c.issuance_ticket_id)).first()
            if t is not None and t.status in ("waiting", "called", "serving", "held"):
                return {"case": staff_case(ctx, c), "ticket": ticket_service.ticket_view(conn, ctx, t),
                        "created": False}
    item = s.issuance_item if s.issuance_item and s.issuance_item in {i.id for i in ctx.config.items} else None
    result = ticket_service.issue_ticket(ctx, ticket_service.IssueRequest(
        queue_id=None if item else s.issuance_queue, item_id=item, source=f"case:{c.number}"), actor)
    now = ctx.now()
    with tx(ctx) as (conn, _published):
        c = case_row(conn, ctx, case_id)
        next_status(CaseAction.ISSUANCE_TICKET, CaseStatus(c.status), c.number)
        conn.execute(update(cases).where(cases.c.id == c.id).values(issuance_ticket_id=result.ticket["id"],
                                                                    updated_at=now))
        log(conn, ctx, "case", c.id, now, "issuance_ticket", c.status, c.status, actor,
            {"ticket_id": result.ticket["id"], "number": result.ticket["number"]})
        c = case_row(conn, ctx, case_id)
        return {"case": staff_case(ctx, c), "ticket": result.ticket, "created": True}


def issuance_ticket_for_token(ctx: HallContext, token: str, actor: Actor) -> dict[str, Any]:
    """At the kiosk: the citizen scans the notice's QR and gets a pick-up ticket (no personal data returned)."""
    with read_tx(ctx.engine) as conn:
        case_id = case_by_token(conn, ctx, token).id
    out = issuance_ticket(ctx, case_id, actor)
    with read_tx(ctx.engine) as conn:
        return {"case": tracker_view(ctx, conn, case_row(conn, ctx, case_id)), "ticket": out["ticket"],
                "created": out["created"]}


def hand_over(ctx: HallContext, case_id: int, receiver_name: str, actor: Actor, proxy: bool = False,
              window_id: str | None = None) -> dict[str, Any]:
    """The result handed over at the issuance window; who took it (the applicant, or a proxy with authority)."""
    receiver = receiver_name.strip()
    if not receiver:
        raise InvalidInput("receiver_name: who took the result", code="receiver_required")
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = case_row(conn, ctx, case_id)
        delivery = {"method": "window", "receiver": receiver, "proxy": proxy, "window_id": window_id,
                    "at": now.isoformat(), "by": str(actor)}
        c = move(conn, ctx, c, CaseAction.HAND_OVER, actor, now, published, {"delivery": delivery},
                 {"method": "window", "receiver": mask_name(receiver), "proxy": proxy, "window_id": window_id})
        return step_result(ctx, c)


def send_by_courier(ctx: HallContext, case_id: int, carrier: str, tracking_number: str, actor: Actor) -> dict[str, Any]:
    """快递送达: the result handed to the courier; the tracking number is recorded."""
    carrier, tracking = check_courier(carrier, tracking_number)
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = case_row(conn, ctx, case_id)
        delivery = {"method": "courier", "carrier": carrier, "tracking_number": tracking,
                    "at": now.isoformat(), "by": str(actor)}
        c = move(conn, ctx, c, CaseAction.COURIER, actor, now, published, {"delivery": delivery},
                 {"method": "courier", "carrier": carrier, "tracking_number": tracking})
        return step_result(ctx, c)
