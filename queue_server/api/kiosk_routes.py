"""REST handlers of the kiosk (/api/v1/kiosk/...): configuration, search, destinations, card taps, tickets
printed through the station's agent, appointment check-in, and bookings for staff."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import request
from flask.typing import ResponseReturnValue
from pydantic import Field

from ..auth import (
    auth_required,
    csrf_token,
    current_identity,
    enroll_kiosk,
    require_staff,
    ticket_grants,
)
from ..domain.flows import LegalReason
from ..services import appointments, kiosk_guidance, kiosk_print, kiosk_tickets
from ..services.kiosk_tickets import KioskIssue
from . import bp
from .bounds import INT4_MAX, DbId, int_arg
from .errors import ApiError
from .openapi import document
from .routes import body, ctx, current_actor
from .schemas import Body

Lang = Literal["zh", "bo", "en"]
StationName = Field(min_length=1, max_length=40, description="the kiosk's station, e.g. kiosk-1")


def _station() -> str:
    station = (request.args.get("station") or "").strip()
    if not station:
        raise ApiError(400, "station_required", "name the kiosk: ?station=kiosk-1")
    return station


def _staff_only() -> None:
    if auth_required():
        require_staff(current_identity().staff, "window_staff", "supervisor")


class IdentifyBody(Body):
    station: str = StationName
    input_id: str = Field(min_length=1, max_length=64, description="the card_read input's id")


class KioskTicketBody(Body):
    station: str = StationName
    item_id: str | None = Field(default=None, max_length=40)
    queue_id: str | None = Field(default=None, max_length=40,
                                 description="the destination's queue, or its window alternative")
    assisted: str | None = Field(default=None, max_length=40, description="an assisted reason of config/flows.yaml")
    legal_reason: LegalReason | None = None
    card_input_id: str | None = Field(default=None, max_length=64)
    lang: Lang = "zh"
    copies_missing: bool = Field(default=False, description="send to the copy point first (printed on the ticket)")


class CheckInBody(Body):
    station: str = StationName
    code: str = Field(min_length=1, max_length=2048, description="what the scanner or camera read")
    lang: Lang = "zh"


class ChecklistBody(Body):
    station: str = StationName
    item_id: str = Field(min_length=1, max_length=40)


class PrintFailedBody(Body):
    station: str = StationName
    ticket_id: DbId
    command_id: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, max_length=500)


class AppointmentBody(Body):
    item_id: str | None = Field(default=None, max_length=40)
    queue_id: str | None = Field(default=None, max_length=40)
    slot_at: datetime = Field(description="the booked time; without an offset it is the hall's local time")
    name: str | None = Field(default=None, max_length=40, description="stored masked only")
    code: str | None = Field(default=None, max_length=24, description="default: a new random code")


class EmptyKioskBody(Body):
    pass


class EnrollBody(Body):
    token: str = Field(min_length=1, max_length=200, description="the kiosk station's device token")


document("/kiosk/session", "post", "enrol this browser as a kiosk station with the station's device token (the "
         "kiosk PC's Chromium, once; the page reads the token from its URL fragment and drops it)",
         body=EnrollBody, tag="kiosk")


@bp.post("/kiosk/session")
def kiosk_enroll() -> ResponseReturnValue:
    station = enroll_kiosk(body(EnrollBody).token)
    return {"station": station, "csrf_token": csrf_token()}


document("/kiosk/config", "get", "the kiosk's tiles, guided flows, items, queues and zones in zh/bo/en",
         tag="kiosk", params=[{"name": "station", "in": "query", "required": True, "schema": {"type": "string"}}])


@bp.get("/kiosk/config")
def kiosk_config() -> ResponseReturnValue:
    return kiosk_guidance.public_config(ctx(), _station())


document("/kiosk/search", "get", "service items and home tiles by Chinese text or pinyin (qykb -> 企业开办)",
         tag="kiosk", params=[{"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}])


@bp.get("/kiosk/search")
def kiosk_search() -> ResponseReturnValue:
    return kiosk_guidance.search(ctx(), request.args.get("q", ""))


document("/kiosk/items/<item_id>/guide", "get", "an item's guide: every material at once, copies, promised time",
         tag="kiosk")


@bp.get("/kiosk/items/<item_id>/guide")
def kiosk_guide(item_id: str) -> ResponseReturnValue:
    return kiosk_guidance.item_guide(ctx(), item_id)


document("/kiosk/destination", "get", "where an answer leads: self-service, assisted desk or a window queue",
         tag="kiosk", params=[{"name": n, "in": "query", "schema": {"type": "string"}}
                              for n in ("item", "queue", "assisted", "legal_reason")])


@bp.get("/kiosk/destination")
def kiosk_destination() -> ResponseReturnValue:
    a = request.args
    return kiosk_guidance.destination(ctx(), item_id=a.get("item") or None, queue_id=a.get("queue") or None,
                             assisted=a.get("assisted") or None, legal_reason=a.get("legal_reason") or None)


document("/kiosk/status", "get", "the station's devices; can it print now (printer and agent)?", tag="kiosk",
         params=[{"name": "station", "in": "query", "required": True, "schema": {"type": "string"}}])


@bp.get("/kiosk/status")
def kiosk_status() -> ResponseReturnValue:
    return kiosk_print.kiosk_status(ctx(), _station())


document("/kiosk/identify", "post", "a card just read at the kiosk: masked greeting and the tickets held today",
         body=IdentifyBody, tag="kiosk")


@bp.post("/kiosk/identify")
def kiosk_identify() -> ResponseReturnValue:
    b = body(IdentifyBody)
    return kiosk_tickets.identify(ctx(), b.station, b.input_id)


document("/kiosk/tickets", "post", "issue a ticket at a kiosk and print it through the agent (or show it on "
         "screen and alert staff when the printer cannot print)", body=KioskTicketBody, tag="kiosk",
         params=[{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "minLength": 1,
                                                                           "maxLength": 100}}],
         responses={"201": "issued", "200": "an existing ticket (retry, or this person already has one)"})


@bp.post("/kiosk/tickets")
def kiosk_ticket() -> ResponseReturnValue:
    b = body(KioskTicketBody)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 100):
        raise ApiError(400, "bad_idempotency_key", "Idempotency-Key must be 1 to 100 characters")
    req = KioskIssue(**b.model_dump(exclude={"station"}))
    out = kiosk_tickets.issue(ctx(), b.station, req, current_actor("kiosk"), key, ticket_grants(current_identity()))
    return out, 201 if out["created"] else 200


document("/kiosk/checkin", "post", "check in with an appointment QR (scanner or camera)", body=CheckInBody,
         tag="kiosk", responses={"201": "checked in: the ticket"})


@bp.post("/kiosk/checkin")
def kiosk_checkin() -> ResponseReturnValue:
    b = body(CheckInBody)
    out = appointments.check_in(ctx(), b.station, b.code, current_actor("kiosk"), b.lang,
                         ticket_grants(current_identity()))
    return out, 201 if out["created"] else 200


document("/kiosk/print-checklist", "post", "print an item's materials checklist at the kiosk",
         body=ChecklistBody, tag="kiosk")


@bp.post("/kiosk/print-checklist")
def kiosk_print_checklist() -> ResponseReturnValue:
    b = body(ChecklistBody)
    return kiosk_print.print_checklist(ctx(), b.station, b.item_id, current_actor("kiosk"))


document("/kiosk/print-failed", "post", "the kiosk saw a ticket's print fail: raise an alert for staff",
         body=PrintFailedBody, tag="kiosk")


@bp.post("/kiosk/print-failed")
def kiosk_print_failed() -> ResponseReturnValue:
    b = body(PrintFailedBody)
    return kiosk_print.report_print_failure(ctx(), b.station, b.ticket_id, b.command_id, b.error)


document("/kiosk/alerts", "get", "recent kiosk alerts for staff (newest first)", tag="kiosk",
         params=[{"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": INT4_MAX}}])


@bp.get("/kiosk/alerts")
def kiosk_alerts() -> ResponseReturnValue:
    since = int_arg("since", 0, minimum=0, maximum=INT4_MAX, what="the last alert's event sequence number")
    return {"alerts": kiosk_print.recent_alerts(ctx(), since)}


document("/kiosk/appointments", "post", "book an appointment (staff, booking system, tests); the code is the QR",
         body=AppointmentBody, tag="kiosk", responses={"201": "booked"})


@bp.post("/kiosk/appointments")
def kiosk_book() -> ResponseReturnValue:
    _staff_only()
    b = body(AppointmentBody)
    out = appointments.create_appointment(ctx(), slot_at=b.slot_at, item_id=b.item_id, queue_id=b.queue_id,
                                   name=b.name, code=b.code, actor=current_actor())
    return out, 201


document("/kiosk/appointments/<code>", "get", "one appointment and its check-in window", tag="kiosk")


@bp.get("/kiosk/appointments/<code>")
def kiosk_appointment(code: str) -> ResponseReturnValue:
    _staff_only()
    return appointments.get_appointment(ctx(), code)


document("/kiosk/appointments/<code>/cancel", "post", "cancel a booked appointment", body=EmptyKioskBody,
         tag="kiosk")


@bp.post("/kiosk/appointments/<code>/cancel")
def kiosk_cancel_appointment(code: str) -> ResponseReturnValue:
    _staff_only()
    body(EmptyKioskBody)
    return appointments.cancel_appointment(ctx(), code, current_actor())
