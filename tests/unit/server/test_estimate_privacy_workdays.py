from datetime import date

import pytest

from queue_server.domain.errors import CalendarUnknown
from queue_server.domain.estimate import estimate_wait, service_minutes, window_share
from queue_server.domain.hall import format_number, parse_number
from queue_server.domain.priority import age_on, classify
from queue_server.domain.workdays import WorkCalendar


def test_estimate_uses_recent_service_times_and_capacity():
    est = estimate_wait(4, [600, 600, 600], 8.0, [{"a": 1}, {"a": 1}], "a", {"a"})
    assert est.basis == "recent" and est.service_min == 10.0 and est.capacity == 2.0
    assert est.minutes == pytest.approx(4.5 * 10 / 2)


def test_estimate_falls_back_to_default_and_blends():
    assert service_minutes([], 8.0) == (8.0, "default")
    blended, basis = service_minutes([120], 8.0)  # one sample of 2 min: a third of the way from 8 to 2
    assert basis == "recent" and blended == pytest.approx(6.0)


def test_estimate_with_no_open_window_is_unknown():
    assert estimate_wait(3, [], 8.0, [], "a", {"a"}).minutes is None


def test_window_share_splits_by_weight_over_busy_queues():
    assert window_share("a", {"a": 3, "b": 1}, {"a", "b"}) == 0.75
    assert window_share("a", {"a": 3, "b": 1}, {"a"}) == 1.0
    assert window_share("c", {"a": 3}, {"c"}) == 0.0


def test_numbering_format_and_parse():
    assert format_number("A", 1) == "A001"
    assert format_number("B", 1234) == "B1234"
    assert parse_number("AB017") == ("AB", 17)
    with pytest.raises(ValueError):
        parse_number("17A")


def test_elderly_by_birth_date_on_the_day():
    assert age_on(date(1966, 11, 27), date(2026, 11, 26)) == 59
    assert classify(today=date(2026, 11, 26), elderly_age=60, birth_date=date(1966, 11, 27)).value == "normal"
    assert classify(today=date(2026, 11, 26), elderly_age=60, birth_date=date(1966, 11, 26)).value == "elderly"
    assert classify(today=date(2026, 11, 26), elderly_age=60, legal_reason="military").value == "legal"
    assert classify(today=date(2026, 11, 26), elderly_age=60, green=True, legal_reason="disabled").value == "green"
    with pytest.raises(ValueError, match="allowed"):
        classify(today=date(2026, 11, 26), elderly_age=60, legal_reason="vip")


def test_workdays_follow_holidays_and_make_up_days():
    cal = WorkCalendar()
    assert not cal.is_workday(date(2026, 10, 1))  # National Day
    assert cal.is_workday(date(2026, 11, 26))


def test_overlay_adds_local_holiday_and_unknown_year_is_an_error():
    cal = WorkCalendar({date(2026, 11, 26): False})
    assert not cal.is_workday(date(2026, 11, 26))
    with pytest.raises(CalendarUnknown, match="calendar.yaml"):
        cal.is_workday(date(2031, 1, 6))
    full = WorkCalendar(overlay_years={2031})
    assert full.is_workday(date(2031, 1, 6)) and not full.is_workday(date(2031, 1, 5))


def test_add_workdays_skips_weekend():
    cal = WorkCalendar()
    assert cal.add_workdays(date(2026, 11, 26), 2) == date(2026, 11, 30)
    assert cal.workdays_between(date(2026, 11, 26), date(2026, 11, 30)) == 2
