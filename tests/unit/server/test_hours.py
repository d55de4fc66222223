from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from queue_server.domain.hall import BusinessHours, IssueWindow, Session
from queue_server.domain.hours import issuing_status, service_day

TZ = ZoneInfo("Asia/Shanghai")
HOURS = BusinessHours(sessions=[Session(start=time(9), end=time(12)), Session(start=time(14, 30), end=time(17, 30))],
                      stop_issuing_before_end_min=15)


def at(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def weekdays(day: date) -> bool:
    return day.isoweekday() <= 5


def test_open_in_session():
    assert issuing_status(at(2026, 11, 26, 9, 30), HOURS, weekdays).open


def test_stops_issuing_before_the_session_ends():
    s = issuing_status(at(2026, 11, 26, 11, 50), HOURS, weekdays)
    assert not s.open and s.next_open == at(2026, 11, 26, 14, 30) and "午间" in s.reason


def test_before_opening_names_todays_start():
    s = issuing_status(at(2026, 11, 26, 7, 0), HOURS, weekdays)
    assert not s.open and s.next_open == at(2026, 11, 26, 9, 0) and "尚未" in s.reason


def test_evening_points_to_next_working_day_over_the_weekend():
    s = issuing_status(at(2026, 11, 27, 18, 0), HOURS, weekdays)  # Friday evening
    assert not s.open and s.next_open == at(2026, 11, 30, 9, 0)


def test_holiday_uses_the_calendar():
    def cal(day: date) -> bool:
        return day != date(2026, 11, 26) and day.isoweekday() <= 5

    s = issuing_status(at(2026, 11, 26, 10, 0), HOURS, cal)
    assert not s.open and "休息" in s.reason and s.next_open == at(2026, 11, 27, 9, 0)


def test_queue_issue_window_cuts_the_session():
    windows = [IssueWindow(start=time(9), end=time(11, 30))]
    assert issuing_status(at(2026, 11, 26, 11, 0), HOURS, weekdays, windows).open
    s = issuing_status(at(2026, 11, 26, 11, 40), HOURS, weekdays, windows)
    assert not s.open and s.next_open == at(2026, 11, 27, 9, 0)


def test_service_day_rolls_at_configured_time():
    assert service_day(at(2026, 11, 27, 2, 59), time(3)) == date(2026, 11, 26)
    assert service_day(at(2026, 11, 27, 3, 0), time(3)) == date(2026, 11, 27)
