"""Deadlines in working days with the clock stopped for excluded procedures, and the supervision colours.

All periods of the licensing law are working days (statutory holidays skipped, 调休 make-up days counted); the
time of a hearing, testing or expert review does not count. The counting convention used throughout:

* a period of N working days from ``start`` ends on the N-th working day after ``start`` (``start`` itself is
  not counted), which is ``WorkCalendar.add_workdays(start, N)``;
* a suspension made on day S and resumed on day R stops the clock for the working days after S up to and
  including R (``workdays_between(S, R)``): the case is treated as if those days had not happened, so the
  deadline moves later by that many working days. Suspended and resumed on the same day costs nothing;
* while a suspension is open the deadline is undetermined (``None``); the days used so far are known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from .workdays import WorkCalendar


@dataclass(frozen=True)
class Suspension:
    """An excluded procedure (听证, 检验检测, 专家评审 ...): started on ``start``, resumed on ``end`` (None: open)."""

    start: date
    end: date | None
    reason: str = ""

    def excluded_workdays(self, calendar: WorkCalendar) -> int:
        if self.end is None:
            raise ValueError("an open suspension has no length yet")
        return max(0, calendar.workdays_between(self.start, self.end))


def deadline(calendar: WorkCalendar, start: date, days: int, suspensions: Iterable[Suspension] = ()) -> date | None:
    """The last day of a period of ``days`` working days from ``start``, moved by every closed suspension;
    None while a suspension is still open (the clock is stopped)."""
    extra = 0
    for s in suspensions:
        if s.end is None:
            return None
        extra += s.excluded_workdays(calendar)
    return calendar.add_workdays(start, days + extra)


def days_used(calendar: WorkCalendar, start: date, today: date, suspensions: Iterable[Suspension] = ()) -> int:
    """Working days of the period used up by ``today`` (suspended days not counted)."""
    used = calendar.workdays_between(start, today)
    for s in suspensions:
        end = s.end if s.end is not None and s.end <= today else today
        if end > s.start:
            used -= calendar.workdays_between(s.start, end)
    return max(0, used)


class Light(StrEnum):
    """电子监察: green in time, yellow when the deadline is near, red when overdue, paused while suspended."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    PAUSED = "paused"


def light(calendar: WorkCalendar, today: date, due: date | None, warn_days: int) -> Light:
    """Yellow from ``warn_days`` working days before ``due`` (the deadline day itself is always yellow when
    ``warn_days`` >= 0), red once ``today`` is after ``due``."""
    if due is None:
        return Light.PAUSED
    if today > due:
        return Light.RED
    if calendar.workdays_between(today, due) <= warn_days:
        return Light.YELLOW
    return Light.GREEN


def remaining_workdays(calendar: WorkCalendar, today: date, due: date) -> int:
    """Working days left after ``today`` up to ``due`` (negative: working days overdue)."""
    return calendar.workdays_between(today, due)
