"""Appointments: a booking (staff, the booking system or tests) whose code goes into the visitor's QR, and its
check-in at a kiosk, which issues a ticket with appointment priority once, within the window around the slot
(config/appointments.yaml, read once at start into ``HallContext.kiosk``)."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from ..domain.errors import DomainError, InvalidInput, InvalidTransition, NotFound
from ..domain.flows import CODE_ALPHABET, CheckIn, check_in_verdict, parse_code
from ..domain.hall import every_language
from ..domain.privacy import mask_name
from ..store.db import read_tx
from ..store.kiosk_schema import appointments
from ..store.schema import tickets
from . import devices
from . import tickets as ticket_service
from .context import Actor, HallContext
from .events import hall_write
from .kiosk_print import print_document, printer_state, ticket_document
from .kiosk_tickets import kiosk_ticket


def _appointment_view(ctx: HallContext, row: Any) -> dict[str, Any]:
    v = check_in_verdict(row.slot_at, row.status, ctx.now(), ctx.kiosk_setup().appointments)
    q = ctx.config.queue(row.queue_id)
    return {
        "code": row.code, "item_id": row.item_id,
        "item_name": ctx.config.item(row.item_id).name if row.item_id else None,
        "queue_id": row.queue_id, "queue_name": every_language(q.name), "status": row.status,
        "slot_at": row.slot_at.isoformat(), "slot_local": ctx.local(row.slot_at).strftime("%Y-%m-%d %H:%M"),
        "check_in_opens": ctx.local(v.opens_at).strftime("%H:%M"),
        "check_in_closes": ctx.local(v.closes_at).strftime("%H:%M"),
        "person_label": row.person_label, "ticket_id": row.ticket_id, "qr": row.code,
    }


def create_appointment(ctx: HallContext, *, slot_at: datetime, item_id: str | None = None,
                       queue_id: str | None = None, name: str | None = None, code: str | None = None,
                       actor: Actor) -> dict[str, Any]:
    """Book a visit (staff, the booking system or tests): the code goes into the visitor's QR."""
    s = ctx.kiosk_setup().appointments
    if item_id is not None:
        try:
            item = ctx.config.item(item_id)
        except KeyError:
            raise NotFound(f"service item {item_id!r} does not exist", code="item_not_found") from None
        if queue_id is not None and queue_id != item.queue:
            raise DomainError(f"item {item_id!r} is served by queue {item.queue!r}", code="queue_item_mismatch")
        queue_id = item.queue
    if queue_id is None:
        raise InvalidInput("name an item_id or a queue_id", code="queue_required")
    try:
        ctx.config.queue(queue_id)
    except KeyError:
        raise NotFound(f"queue {queue_id!r} does not exist", code="queue_not_found") from None
    if slot_at.tzinfo is None:
        slot_at = slot_at.replace(tzinfo=ctx.tz)
    if code is not None:
        if parse_code(code, s) != code:
            raise InvalidInput(f"a code is {s.code_prefix} and {s.code_length} characters of A-Z/2-9 "
                               "(no O, 0, I, 1)", code="bad_appointment_code")
    else:
        code = s.code_prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(s.code_length))
    now = ctx.now()
    with hall_write(ctx) as (conn, published):
        if conn.execute(select(appointments.c.id).where(appointments.c.code == code)).first() is not None:
            raise DomainError(f"appointment code {code} exists already", code="appointment_code_taken")
        conn.execute(appointments.insert().values(
            hall_id=ctx.hall_id, code=code, item_id=item_id, queue_id=queue_id, slot_at=slot_at, status="booked",
            person_label=mask_name(name) if name else None, created_at=now, created_by=str(actor)))
        row = conn.execute(select(appointments).where(appointments.c.code == code)).one()
    return _appointment_view(ctx, row)


def _appointment_row(ctx: HallContext, code: str) -> Any:
    with read_tx(ctx.engine) as conn:
        return conn.execute(select(appointments).where(appointments.c.hall_id == ctx.hall_id,
                                                       appointments.c.code == code)).first()


def get_appointment(ctx: HallContext, code: str) -> dict[str, Any]:
    row = _appointment_row(ctx, code.strip().upper())
    if row is None:
        raise NotFound(f"no appointment has the code {code!r}", code="appointment_not_found")
    return _appointment_view(ctx, row)


def cancel_appointment(ctx: HallContext, code: str, actor: Actor) -> dict[str, Any]:
    with hall_write(ctx) as (conn, published):
        row = conn.execute(select(appointments).where(appointments.c.hall_id == ctx.hall_id,
                                                      appointments.c.code == code)).first()
        if row is None:
            raise NotFound(f"no appointment has the code {code!r}", code="appointment_not_found")
        if row.status != "booked":
            raise InvalidTransition(f"appointment {code} is {row.status}; only a booked one can be cancelled",
                                    code="appointment_not_booked")
        conn.execute(update(appointments).where(appointments.c.id == row.id).values(status="cancelled"))
        row = conn.execute(select(appointments).where(appointments.c.id == row.id)).one()
    return _appointment_view(ctx, row)


def check_in(ctx: HallContext, station: str, raw_code: str, actor: Actor, lang: str = "zh",
             grants: ticket_service.Grants | None = None) -> dict[str, Any]:
    """A scanned (scanner or camera) appointment QR: within the check-in window a ticket with appointment
    priority is issued and printed; unknown, early, expired, cancelled or used codes get a clear message."""
    devices.check_station(station)
    s = ctx.kiosk_setup().appointments
    code = parse_code(raw_code, s)
    if code is None:
        raise InvalidInput("这不是预约二维码，请扫描预约短信或预约凭证上的二维码 / this is not an appointment code",
                           code="not_an_appointment_code")
    row = _appointment_row(ctx, code)
    if row is None:
        raise NotFound(f"查无此预约（{code}），请核对或到服务台咨询 / no appointment has this code",
                       code="appointment_not_found", details={"code": code})
    view = _appointment_view(ctx, row)
    v = check_in_verdict(row.slot_at, row.status, ctx.now(), s)
    if v.result is CheckIn.USED:
        number = ticket_service.get_ticket_view(ctx, row.ticket_id)["number"] if row.ticket_id else None
        raise DomainError(f"此预约已签到（号码 {number}），不能重复使用 / this appointment was already used"
                          + (f" (ticket {number})" if number else ""),
                          code="appointment_used", details={"appointment": view, "number": number})
    if v.result is CheckIn.CANCELLED:
        raise DomainError("此预约已取消，请重新预约或普通取号 / this appointment was cancelled",
                          code="appointment_cancelled", details={"appointment": view})
    if v.result is CheckIn.TOO_EARLY:
        raise DomainError(f"还未到签到时间，请于 {view['check_in_opens']} 后再来签到（预约时间 {view['slot_local']}）"
                          f" / too early: check-in opens at {view['check_in_opens']}",
                          code="appointment_too_early", details={"appointment": view})
    if v.result is CheckIn.TOO_LATE:
        raise DomainError(f"预约已过期（预约时间 {view['slot_local']}，签到截止 {view['check_in_closes']}），请普通取号"
                          f" / this appointment has expired (check-in closed at {view['check_in_closes']})",
                          code="appointment_expired", details={"appointment": view})
    def mark_checked_in(conn: Connection, ticket_id: int) -> None:
        # In the ticket's own transaction, and only while still booked: a cancel (or a check-in at another kiosk)
        # that committed since the row was read above wins, and no ticket is issued.
        done = conn.execute(update(appointments).where(appointments.c.id == row.id,
                                                       appointments.c.status == "booked")
                            .values(status="checked_in", ticket_id=ticket_id, checked_in_at=ctx.now(),
                                    station=station))
        if done.rowcount != 1:
            now = conn.execute(select(appointments.c.status, appointments.c.ticket_id)
                               .where(appointments.c.id == row.id)).one()
            seen = {**view, "status": now.status, "ticket_id": now.ticket_id}
            if now.status == "cancelled":
                raise DomainError("此预约已取消，请重新预约或普通取号 / this appointment was cancelled",
                                  code="appointment_cancelled", details={"appointment": seen})
            number = conn.execute(select(tickets.c.number).where(tickets.c.id == now.ticket_id)).scalar()
            raise DomainError("此预约已签到，不能重复使用 / this appointment was already used",
                              code="appointment_used", details={"appointment": seen, "number": number})

    try:
        result = ticket_service.issue_ticket(ctx, ticket_service.IssueRequest(
            queue_id=row.queue_id, item_id=row.item_id, appointment_code=code, source=station),
            actor, f"appointment:{code}",
            replace(grants or ticket_service.Grants.of(actor), appointment_verified=True), also=mark_checked_in)
    except DomainError as exc:
        if exc.code == "idempotency_key_reused":  # checked in at another kiosk at the same moment
            raise DomainError("此预约已签到，不能重复使用 / this appointment was already used",
                              code="appointment_used", details={"appointment": view}) from None
        raise
    t = kiosk_ticket(ctx, result.ticket)
    if result.created:
        printed = print_document(ctx, station, ticket_document(ctx, t, lang), actor,
                                 {"ticket_id": t["id"], "number": t["number"]})
    else:
        printed = {"status": "not_printed", "printer": printer_state(ctx, station)}
    return {"ticket": t, "created": result.created, "reason": result.reason, "print": printed,
            "appointment": {**view, "status": "checked_in", "ticket_id": t["id"]}}
