"""The priority class of a visitor: green channel, legal priority, elderly by birth date, appointment, normal."""

from __future__ import annotations

from datetime import date

from .hall import LEGAL_PRIORITY_REASONS, PriorityClass


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def classify(
    *,
    today: date,
    elderly_age: int,
    birth_date: date | None = None,
    legal_reason: str | None = None,
    appointment: bool = False,
    green: bool = False,
) -> PriorityClass:
    """The highest class the visitor qualifies for."""
    if legal_reason is not None and legal_reason not in LEGAL_PRIORITY_REASONS:
        raise ValueError(f"unknown legal priority reason {legal_reason!r}; allowed: {', '.join(LEGAL_PRIORITY_REASONS)}")
    if green:
        return PriorityClass.GREEN
    if legal_reason:
        return PriorityClass.LEGAL
    if birth_date is not None and age_on(birth_date, today) >= elderly_age:
        return PriorityClass.ELDERLY
    if appointment:
        return PriorityClass.APPOINTMENT
    return PriorityClass.NORMAL
