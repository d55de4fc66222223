"""Domain errors: each carries a stable code the API returns and a message a person can act on."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    status = 409

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class NotFound(DomainError):
    code = "not_found"
    status = 404


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = 409


class Closed(DomainError):
    """Outside business hours or a queue's issuing window."""

    code = "closed"
    status = 409


class CapReached(DomainError):
    code = "daily_cap_reached"
    status = 409


class CalendarUnknown(DomainError):
    code = "calendar_unknown"
    status = 500


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 422
