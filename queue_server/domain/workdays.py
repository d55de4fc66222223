"""Working days: statutory holidays and 调休 make-up days from chinesecalendar, plus a local overlay."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta

import chinese_calendar

from .errors import CalendarUnknown


class WorkCalendar:
    """Answers "is this a working day" from the maintained national calendar, overridden by a local overlay.

    The overlay maps a date to True (a working day) or False (a holiday, e.g. 藏历新年 locally). A date in a year
    that neither the library nor the overlay covers raises ``CalendarUnknown`` rather than guessing.
    """

    def __init__(self, overlay: Mapping[date, bool] | None = None, overlay_years: set[int] | None = None) -> None:
        self._overlay = dict(overlay or {})
        # Years the overlay describes completely (e.g. next year's schedule before the library has it).
        self._overlay_years = set(overlay_years or ())

    def is_workday(self, day: date) -> bool:
        if day in self._overlay:
            return self._overlay[day]
        if day.year in self._overlay_years:
            return day.isoweekday() <= 5
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError as exc:
            raise CalendarUnknown(
                f"no holiday calendar for {day.year}: add the year's holidays and make-up working days to "
                f"config/calendar.yaml or upgrade the chinesecalendar package",
                details={"year": day.year},
            ) from exc

    def knows(self, day: date) -> bool:
        try:
            self.is_workday(day)
        except CalendarUnknown:
            return False
        return True

    def knows_year(self, year: int) -> bool:
        """The whole year is covered: by the library, or declared complete in the overlay (``full_years``)."""
        return year in self._overlay_years or (self.knows(date(year, 1, 1)) and self.knows(date(year, 12, 31)))

    def add_workdays(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_workday(current):
                remaining -= 1
        return current

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative when ``end`` is earlier)."""
        if end < start:
            return -self.workdays_between(end, start)
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_workday(current):
                count += 1
        return count


# The State Council publishes the next year's holiday schedule in the autumn (usually November): from this day on
# the hall is warned until its calendar has the next year.
WARN_FROM = (11, 1)


def missing_calendar_years(today: date, knows_year: Callable[[int], bool]) -> list[int]:
    """Years the hall needs a working-day calendar for and lacks: this year always, next year from November 1."""
    needed = [today.year]
    if (today.month, today.day) >= WARN_FROM:
        needed.append(today.year + 1)
    return [y for y in needed if not knows_year(y)]
