"""Domain errors: each carries a stable code and a message a person can act on.

No HTTP here: the edge (``api/errors.py``) owns the one table from code to status, for REST and Socket.IO.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class NotFound(DomainError):
    code = "not_found"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class Closed(DomainError):
    """Outside business hours or a queue's issuing window."""

    code = "closed"


class CapReached(DomainError):
    code = "daily_cap_reached"


class CalendarUnknown(DomainError):
    """A date in a year no working-day calendar covers: a configuration gap a retry never closes."""

    code = "calendar_missing"


class InvalidInput(DomainError):
    code = "invalid_input"
