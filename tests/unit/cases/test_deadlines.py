"""Working-day deadlines across National Day and the Spring Festival 2026 (with their 调休 make-up days), across
the 2025/2026 year boundary, with clock suspensions, and the yellow/red supervision lights.

Dates checked against chinesecalendar: 2026-02-14 (Sat) and 2026-02-28 (Sat) are make-up working days, 2026-02-15
to 2026-02-23 the Spring Festival holiday; 2026-10-01 to 2026-10-07 National Day, 2026-10-10 (Sat) a make-up
working day; 2026-01-01 to 2026-01-03 New Year, 2026-01-04 (Sun) a make-up working day.
"""

from datetime import date

import chinese_calendar
import pytest

from queue_server.domain.deadlines import Light, Suspension, days_used, deadline, light, remaining_workdays
from queue_server.domain.errors import CalendarUnknown
from queue_server.domain.workdays import WorkCalendar

CAL = WorkCalendar()


def test_the_calendar_facts_these_tests_rely_on():
    for make_up in (date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 10, 10)):
        assert make_up.isoweekday() >= 6 and chinese_calendar.is_workday(make_up)
    for holiday in (date(2026, 1, 1), date(2026, 2, 16), date(2026, 2, 23), date(2026, 10, 1), date(2026, 10, 7)):
        assert not CAL.is_workday(holiday)


@pytest.mark.parametrize(("start", "days", "due"), [
    # National Day: 9/29, 9/30, [10/1-10/7 off], 10/8, 10/9, 10/10 (Sat, make-up) -> the 5th working day
    (date(2026, 9, 28), 5, date(2026, 10, 10)),
    (date(2026, 9, 28), 6, date(2026, 10, 12)),  # 10/11 Sunday is a rest day
    (date(2026, 9, 30), 1, date(2026, 10, 8)),
    # Spring Festival: 2/13, 2/14 (Sat, make-up), [2/15-2/23 off], 2/24, 2/25, 2/26
    (date(2026, 2, 12), 5, date(2026, 2, 26)),
    (date(2026, 2, 13), 1, date(2026, 2, 14)),
    (date(2026, 2, 24), 4, date(2026, 2, 28)),  # 2/28 (Sat) is a make-up working day
    # Year boundary: 12/31, [1/1-1/3 off], 1/4 (Sun, make-up), 1/5, 1/6, 1/7
    (date(2025, 12, 30), 5, date(2026, 1, 7)),
    (date(2025, 12, 31), 1, date(2026, 1, 4)),
    # the licensing law's 20 working days from a Monday in November
    (date(2026, 11, 2), 20, date(2026, 11, 30)),
])
def test_deadline_in_working_days(start, days, due):
    assert deadline(CAL, start, days) == due


def test_a_year_without_calendar_data_is_an_error_not_a_guess():
    with pytest.raises(CalendarUnknown) as exc:
        deadline(CAL, date(2026, 12, 28), 5)  # runs into 2027, which neither the package nor the overlay knows
    assert exc.value.details == {"year": 2027} and "config/calendar.yaml" in exc.value.message
    overlay = WorkCalendar({date(2027, 1, 1): False}, {2027})
    assert deadline(overlay, date(2026, 12, 28), 5) == date(2027, 1, 5)  # 12/29, 12/30, 12/31, [1/1 off] 1/4, 1/5


def test_a_local_holiday_in_the_overlay_moves_the_deadline():
    tibetan_new_year = WorkCalendar({date(2026, 2, 25): False})
    assert deadline(tibetan_new_year, date(2026, 2, 12), 5) == date(2026, 2, 27)


def test_suspension_across_national_day_moves_the_deadline_by_the_suspended_working_days():
    start = date(2026, 9, 28)
    # suspended on 9/29, resumed on 10/9: 9/30, 10/8 and 10/9 do not count (the holiday never counted anyway)
    s = Suspension(date(2026, 9, 29), date(2026, 10, 9), "专家评审")
    assert s.excluded_workdays(CAL) == 3
    assert deadline(CAL, start, 5, [s]) == date(2026, 10, 14)
    assert deadline(CAL, start, 5, [Suspension(date(2026, 9, 29), None)]) is None  # clock stopped: no deadline
    assert deadline(CAL, start, 5, [Suspension(date(2026, 9, 29), date(2026, 9, 29))]) == date(2026, 10, 10)
    two = [Suspension(date(2026, 9, 29), date(2026, 9, 30)), Suspension(date(2026, 10, 9), date(2026, 10, 10))]
    assert deadline(CAL, start, 5, two) == date(2026, 10, 13)


def test_days_used_leaves_out_suspended_days():
    start = date(2026, 2, 12)
    assert days_used(CAL, start, date(2026, 2, 24)) == 3  # 2/13, 2/14 (make-up), 2/24
    assert days_used(CAL, start, date(2026, 2, 26), [Suspension(date(2026, 2, 13), date(2026, 2, 24))]) == 3
    assert days_used(CAL, start, date(2026, 2, 25), [Suspension(date(2026, 2, 24), None)]) == 3


@pytest.mark.parametrize(("today", "expected"), [
    (date(2026, 10, 8), Light.GREEN),
    (date(2026, 10, 9), Light.YELLOW),  # one working day before the deadline
    (date(2026, 10, 10), Light.YELLOW),  # the deadline itself (a make-up Saturday)
    (date(2026, 10, 11), Light.RED),
    (date(2026, 10, 3), Light.GREEN),  # inside the holiday: 10/8, 10/9, 10/10 still ahead
])
def test_lights_with_one_warning_day(today, expected):
    assert light(CAL, today, date(2026, 10, 10), 1) is expected


def test_lights_configurable_and_paused():
    due = date(2026, 2, 26)
    assert light(CAL, date(2026, 2, 13), due, 3) is Light.GREEN  # 2/14, 2/24, 2/25, 2/26 = 4 left
    assert light(CAL, date(2026, 2, 14), due, 3) is Light.YELLOW
    assert light(CAL, date(2026, 2, 20), due, 3) is Light.YELLOW  # during the holiday 3 working days remain
    assert light(CAL, date(2026, 2, 26), due, 0) is Light.YELLOW
    assert light(CAL, date(2026, 2, 25), due, 0) is Light.GREEN
    assert light(CAL, date(2026, 2, 20), None, 1) is Light.PAUSED
    assert remaining_workdays(CAL, date(2026, 2, 27), due) == -1
