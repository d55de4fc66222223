"""Service day and opening hours: when tickets may be issued, and when the hall next opens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .hall import BusinessHours, IssueWindow


def service_day(local_now: datetime, rollover_at: time) -> date:
    """The service day a local time belongs to: before the roll-over time it is still yesterday's."""
    shifted = local_now - timedelta(hours=rollover_at.hour, minutes=rollover_at.minute)
    return shifted.date()


@dataclass(frozen=True)
class OpenStatus:
    open: bool
    reason: str | None = None  # why closed, in Chinese for the screen
    reason_en: str | None = None
    next_open: datetime | None = None


def _issuing_intervals(hours: BusinessHours, windows: list[IssueWindow]) -> list[tuple[time, time]]:
    """Intervals of a day when tickets may be issued: sessions (minus the stop margin) cut by issue windows."""
    margin = timedelta(minutes=hours.stop_issuing_before_end_min)
    base = []
    for s in sorted(hours.sessions, key=lambda s: s.start):
        end = (datetime.combine(date.min, s.end) - margin).time()
        if end > s.start:
            base.append((s.start, end))
    if not windows:
        return base
    cut = []
    for start, end in base:
        for w in windows:
            lo, hi = max(start, w.start), min(end, w.end)
            if lo < hi:
                cut.append((lo, hi))
    return sorted(cut)


def is_open_day(day: date, hours: BusinessHours, is_workday: Callable[[date], bool] | None) -> bool:
    """A working day by the holiday calendar when one is given, else by the configured weekdays."""
    if is_workday is not None:
        return is_workday(day)
    return day.isoweekday() in hours.weekdays


def issuing_status(
    local_now: datetime,
    hours: BusinessHours,
    is_workday: Callable[[date], bool] | None,
    windows: list[IssueWindow] | None = None,
    lookahead_days: int = 40,
) -> OpenStatus:
    """Whether a ticket may be issued now; if not, why and when issuing next opens."""
    intervals = _issuing_intervals(hours, list(windows or []))
    tz = local_now.tzinfo
    today = local_now.date()
    now_t = local_now.time()
    if is_open_day(today, hours, is_workday):
        for start, end in intervals:
            if start <= now_t < end:
                return OpenStatus(True)
    next_open = None
    for offset in range(lookahead_days + 1):
        day = today + timedelta(days=offset)
        if not is_open_day(day, hours, is_workday):
            continue
        for start, _end in intervals:
            if offset == 0 and start <= now_t:
                continue
            next_open = datetime.combine(day, start, tzinfo=tz)
            break
        if next_open:
            break
    if not is_open_day(today, hours, is_workday):
        reason, reason_en = "今日休息，不办理业务", "The hall is closed today"
    elif intervals and now_t < intervals[0][0]:
        reason, reason_en = "尚未开始取号", "Ticket issuing has not started yet"
    elif any(end <= now_t < start2 for (_, end), (start2, _) in zip(intervals, intervals[1:], strict=False)):
        reason, reason_en = "午间休息，暂停取号", "Ticket issuing is paused for the midday break"
    else:
        reason, reason_en = "今日取号已结束", "Ticket issuing has ended for today"
    return OpenStatus(False, reason, reason_en, next_open)
