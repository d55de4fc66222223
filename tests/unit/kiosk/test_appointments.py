"""Appointments: the check-in window around the slot, reading codes out of QR contents, and the check-in use case
(unknown, early, expired, cancelled and used codes get clear errors; a check-in gives appointment priority once)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from queue_server.domain.errors import DomainError, InvalidInput, NotFound
from queue_server.domain.flows import AppointmentSettings, CheckIn, check_in_verdict, parse_code
from queue_server.services import appointments
from queue_server.services.context import Actor

from .conftest import MORNING, TZ

SETTINGS = AppointmentSettings(early_min=30, late_min=15)
SLOT = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
STAFF = Actor("staff", "li")
KIOSK = Actor("kiosk", "kiosk-1")


@pytest.mark.parametrize(("now", "status", "result"), [
    (SLOT - timedelta(minutes=31), "booked", CheckIn.TOO_EARLY),
    (SLOT - timedelta(minutes=30), "booked", CheckIn.OK),  # the window's edges belong to it
    (SLOT, "booked", CheckIn.OK),
    (SLOT + timedelta(minutes=15), "booked", CheckIn.OK),
    (SLOT + timedelta(minutes=15, seconds=1), "booked", CheckIn.TOO_LATE),
    (SLOT, "checked_in", CheckIn.USED),
    (SLOT + timedelta(hours=5), "checked_in", CheckIn.USED),  # used beats expired: say what happened
    (SLOT, "cancelled", CheckIn.CANCELLED),
])
def test_check_in_window(now, status, result):
    v = check_in_verdict(SLOT, status, now, SETTINGS)
    assert v.result is result
    assert (v.opens_at, v.closes_at) == (SLOT - timedelta(minutes=30), SLOT + timedelta(minutes=15))


@pytest.mark.parametrize(("raw", "code"), [
    ("YY7KQ2M4XD", "YY7KQ2M4XD"),
    ("  yy7kq2m4xd\r\n", "YY7KQ2M4XD"),
    ("https://hall.example/a/YY7KQ2M4XD", "YY7KQ2M4XD"),
    ("https://hall.example/a/YY7KQ2M4XD/", "YY7KQ2M4XD"),
    ("https://hall.example/book?id=3&code=YY7KQ2M4XD", "YY7KQ2M4XD"),
    ("YY7KQ2M4X", None),  # too short
    ("YY7KQ2M4X0", None),  # 0 is not in the alphabet (read as O)
    ("ZZ7KQ2M4XD", None),  # another prefix
    ("https://zwfw.gansu.gov.cn/s/9f2a", None),  # a web address, not a booking
    ("", None),
])
def test_codes_are_read_out_of_what_was_scanned(raw, code):
    assert parse_code(raw, SETTINGS) == code


def book(hall, minutes_from_now: int, **kw):
    slot = MORNING + timedelta(minutes=minutes_from_now)
    return appointments.create_appointment(hall, slot_at=slot, actor=STAFF, **kw)


def test_check_in_issues_an_appointment_ticket_once(hall):
    a = book(hall, 10, item_id="passport", name="王小娜")
    assert a["status"] == "booked" and a["person_label"] == "王*娜" and a["queue_id"] == "police"
    out = appointments.check_in(hall, "kiosk-1", f"https://hall.example/a/{a['code']}", KIOSK)
    assert out["created"] and out["ticket"]["priority"] == "appointment" and out["ticket"]["number"] == "H001"
    assert out["appointment"]["status"] == "checked_in"
    assert out["print"]["status"] == "unavailable"  # no agent: shown on screen, staff alerted
    with pytest.raises(DomainError) as exc:
        appointments.check_in(hall, "kiosk-1", a["code"], KIOSK)
    assert exc.value.code == "appointment_used" and exc.value.details["number"] == "H001"
    assert appointments.get_appointment(hall, a["code"])["ticket_id"] == out["ticket"]["id"]


@pytest.mark.parametrize(("minutes", "code"), [(45, "appointment_too_early"), (-20, "appointment_expired")])
def test_early_and_expired_codes_are_refused_with_the_times(hall, minutes, code):
    a = book(hall, minutes, queue_id="tax")
    with pytest.raises(DomainError) as exc:
        appointments.check_in(hall, "kiosk-1", a["code"], KIOSK)
    assert exc.value.code == code
    details = exc.value.details["appointment"]
    assert details["check_in_opens"] and details["check_in_closes"] and details["slot_local"]
    if code == "appointment_too_early":
        assert "请于 09:45 后再来签到" in exc.value.message  # slot 10:15, check-in opens 30 min before


def test_unknown_cancelled_and_foreign_codes(hall):
    with pytest.raises(NotFound) as exc:
        appointments.check_in(hall, "kiosk-1", "YYABCDEFGH", KIOSK)
    assert exc.value.code == "appointment_not_found"
    with pytest.raises(InvalidInput) as exc2:
        appointments.check_in(hall, "kiosk-1", "https://zwfw.gansu.gov.cn/s/9f2a", KIOSK)
    assert exc2.value.code == "not_an_appointment_code"
    a = book(hall, 0, queue_id="tax")
    appointments.cancel_appointment(hall, a["code"], STAFF)
    with pytest.raises(DomainError) as exc3:
        appointments.check_in(hall, "kiosk-1", a["code"], KIOSK)
    assert exc3.value.code == "appointment_cancelled"


def test_booking_checks_its_input(hall):
    with pytest.raises(NotFound):
        book(hall, 0, item_id="nope")
    with pytest.raises(DomainError, match="served by queue"):
        book(hall, 0, item_id="passport", queue_id="tax")
    with pytest.raises(InvalidInput):
        book(hall, 0, queue_id="tax", code="YY0000")
    a = book(hall, 0, queue_id="tax", code="YYABCDEFGH")
    with pytest.raises(DomainError, match="exists already"):
        book(hall, 0, queue_id="tax", code=a["code"])
    naive = appointments.create_appointment(hall, slot_at=datetime(2026, 11, 26, 11, 0), queue_id="tax", actor=STAFF)
    assert naive["slot_local"] == "2026-11-26 11:00"  # a slot without an offset is the hall's local time


class _CancelWhileReading:
    """The hall's clock, but the first reading after ``arm`` lets a supervisor cancel the appointment: the
    check-in has read the booking as booked, and the cancel commits before the ticket's transaction."""

    def __init__(self, ctx, code: str) -> None:
        self.inner, self.ctx, self.code, self.armed = ctx.clock, ctx, code, False

    def now(self):
        if self.armed:
            self.armed = False
            appointments.cancel_appointment(self.ctx, self.code, STAFF)
        return self.inner.now()


def test_a_cancel_that_lands_during_check_in_wins_and_no_ticket_is_issued(hall):
    a = book(hall, 5, queue_id="tax")
    clock = _CancelWhileReading(hall, a["code"])
    hall.clock = clock
    clock.armed = True
    with pytest.raises(DomainError) as exc:
        appointments.check_in(hall, "kiosk-1", a["code"], KIOSK)
    assert exc.value.code == "appointment_cancelled"
    assert not clock.armed  # the cancel did run in the middle of the check-in
    assert appointments.get_appointment(hall, a["code"])["status"] == "cancelled"
    assert appointments.get_appointment(hall, a["code"])["ticket_id"] is None
    # Nothing was issued: the next ticket of the queue is still its first.
    hall.clock = clock.inner
    b = book(hall, 5, queue_id="tax")
    assert appointments.check_in(hall, "kiosk-1", b["code"], KIOSK)["ticket"]["number"].endswith("001")
