"""Tickets taken at the kiosk: who tapped a card (masked greeting, the tickets this person holds today), a
ticket issued for the answer of a guided flow and printed through the station's agent (or shown on screen with an
alert for staff when the printer cannot print), and the ticket as the kiosk shows it in every language.

The kiosk page holds no secrets and no personal data beyond the masked name of the card just read; it talks to
these functions through ``api/kiosk_routes.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from ..domain.errors import DomainError, InvalidTransition, NotFound
from ..domain.flows import Destination
from ..domain.hall import every_language
from ..domain.priority import age_on
from ..domain.tickets import TicketStatus
from ..store.db import read_tx
from ..store.schema import device_inputs, tickets
from . import devices
from . import tickets as ticket_service
from .context import Actor, HallContext
from .kiosk_guidance import item_guide, resolve_destination, where_to_go
from .kiosk_print import print_document, printer_state, ticket_document

OPEN = (TicketStatus.WAITING.value, TicketStatus.CALLED.value, TicketStatus.SERVING.value, TicketStatus.HELD.value)


def identify(ctx: HallContext, station: str, input_id: str) -> dict[str, Any]:
    """A card just read at this station: the greeting (masked name), the priority hint, and the tickets this
    person already holds today (a repeat tap shows them instead of issuing another)."""
    devices.check_station(station)
    with read_tx(ctx.engine) as conn:
        row = conn.execute(select(device_inputs).where(
            device_inputs.c.hall_id == ctx.hall_id, device_inputs.c.input_id == input_id)).first()
        if row is None or row.kind != "card_read" or not row.data or row.station != station:
            raise NotFound("this card read is unknown here; tap the card again", code="card_input_not_found")
        if ctx.now() - row.at > ticket_service.CARD_VALID_FOR:
            raise InvalidTransition("this card read is too old; tap the card again", code="card_input_expired")
        data = dict(row.data)
        held = conn.execute(select(tickets).where(
            tickets.c.hall_id == ctx.hall_id, tickets.c.person_key == data["person_key"],
            tickets.c.service_day == ctx.today().isoformat(), tickets.c.status.in_(OPEN),
        ).order_by(tickets.c.issued_at)).all()
        views = [ticket_service.ticket_view(conn, ctx, t) for t in held]
    age = age_on(date.fromisoformat(data["birth_date"]), ctx.local().date())
    return {"input_id": input_id, "name_masked": data.get("name_masked"),
            "elderly": age >= ctx.config.hall.elderly_age, "expired": bool(data.get("expired")),
            "open_tickets": [kiosk_ticket(ctx, v) for v in views]}


def kiosk_ticket(ctx: HallContext, view: dict[str, Any], copy_first: list[dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """A ticket as the kiosk shows it: number, queue and zone in every language, where to go, wait, time, QR."""
    q = ctx.config.queue(view["queue_id"])
    issued = datetime.fromisoformat(view["issued_at"])
    return {
        "id": view["id"], "number": view["number"], "queue_id": q.id, "queue_name": every_language(q.name),
        "item_id": view.get("item_id"),
        "item_name": ctx.config.item(view["item_id"]).name if view.get("item_id") else None,
        "item_names": _item_names(ctx, view.get("item_id")),
        "status": view["status"], "priority": view["priority"], "where": where_to_go(ctx, q.id),
        "ahead": view.get("ahead", 0), "estimated_wait_min": view.get("estimated_wait_min"),
        "issued_at": view["issued_at"], "issued_local": ctx.local(issued).strftime("%Y-%m-%d %H:%M"),
        "service_day": view["service_day"], "tracker_url": view["tracker_url"],
        "window_number": view.get("window_number"), "copy_first": copy_first or [],
    }


def _item_names(ctx: HallContext, item_id: str | None) -> dict[str, str | None] | None:
    return ctx.citizen_texts().names_of("items", item_id, ctx.config.item(item_id).name) if item_id else None


@dataclass(frozen=True)
class KioskIssue:
    item_id: str | None = None
    queue_id: str | None = None
    assisted: str | None = None
    legal_reason: str | None = None
    card_input_id: str | None = None
    lang: str = "zh"
    copies_missing: bool = False


def _ticket_queue(ctx: HallContext, req: KioskIssue) -> tuple[str, str | None, Destination]:
    """The queue the ticket goes to, and the item to record with it (only when the item belongs there)."""
    dest = resolve_destination(ctx, item_id=req.item_id, assisted=req.assisted,
                               queue_id=None if (req.item_id or req.assisted) else req.queue_id,
                               legal_reason=req.legal_reason)
    queue_id = dest.queue_id
    if req.queue_id is not None and req.queue_id != queue_id:
        allowed = {dest.queue_id, dest.window_queue_id}
        if req.queue_id not in allowed:
            raise DomainError(f"queue {req.queue_id!r} does not serve this; use one of "
                              f"{', '.join(sorted(q for q in allowed if q))}", code="queue_item_mismatch")
        queue_id = req.queue_id
    item_id = req.item_id if req.item_id and ctx.config.item(req.item_id).queue == queue_id else None
    return queue_id, item_id, dest


def issue(ctx: HallContext, station: str, req: KioskIssue, actor: Actor,
          key: str | None = None, grants: ticket_service.Grants | None = None) -> dict[str, Any]:
    """Issue a ticket at a kiosk and print it through the station's agent; when the printer cannot print, the
    kiosk shows the ticket on screen and staff get an alert. A repeat card tap returns the ticket the person
    already holds (nothing printed)."""
    devices.check_station(station)
    queue_id, item_id, _dest = _ticket_queue(ctx, req)
    # A kiosk cannot verify a legal priority (military, disability...): the flow's answer goes with the ticket
    # as a claim for the assisted desk to check, and only staff grant the class (issue 9).
    grants = grants or ticket_service.Grants.of(actor)
    granted, claimed = (req.legal_reason, None) if grants.staff else (None, req.legal_reason)
    result = ticket_service.issue_ticket(ctx, ticket_service.IssueRequest(
        queue_id=queue_id, item_id=item_id, legal_reason=granted, card_input_id=req.card_input_id,
        source=station, extra={"claimed_legal_reason": claimed} if claimed else {}), actor, key, grants)
    copy_first = []
    if req.copies_missing and req.item_id:
        copy_first = item_guide(ctx, req.item_id)["copies_needed"]
    t = kiosk_ticket(ctx, result.ticket, copy_first)
    if result.created:
        printed = print_document(ctx, station, ticket_document(ctx, t, req.lang), actor,
                                 {"ticket_id": t["id"], "number": t["number"]})
    else:
        printed = {"status": "not_printed", "printer": printer_state(ctx, station)}
    return {"ticket": t, "created": result.created, "reason": result.reason, "print": printed}
