"""Advance warning of a missing working-day calendar: "2027 calendar not loaded" from November 1 until the
calendar file (or the chinesecalendar package) has the next year, for the supervisor pages."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.workdays import missing_calendar_years
from .context import HallContext

CALENDAR_FILE = "config/calendar.yaml"


@dataclass(frozen=True)
class CalendarWarning:
    year: int
    message: str  # Chinese first: the supervisor reads it
    fix: str

    def as_dict(self) -> dict[str, object]:
        return {"kind": "calendar_missing", "year": self.year, "message": self.message, "fix": self.fix}


def calendar_warnings(ctx: HallContext) -> list[CalendarWarning]:
    """What the hall's calendar lacks today (the hall's local service day decides "from November 1")."""
    return [
        CalendarWarning(
            year,
            f"{year} 年工作日历未载入 / {year} calendar not loaded: 限时办结 deadlines running into {year} "
            f"cannot be computed",
            f"add {year}'s holidays and make-up working days (调休) to {CALENDAR_FILE} with "
            f"full_years: [{year}], or upgrade the chinesecalendar package, then restart the server",
        )
        for year in missing_calendar_years(ctx.today(), ctx.calendar.knows_year)
    ]
