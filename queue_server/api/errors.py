"""JSON errors with a stable code and a human message, never an HTML page or a traceback.

The one place where an error becomes an HTTP status: ``STATUS_BY_CODE``. Domain, service and store errors carry a
code only; REST (the handlers below) and Socket.IO replies (``error_reply``) both read this table.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, jsonify
from flask.sansio.app import App
from flask.typing import ResponseReturnValue
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from ..domain.errors import DomainError
from ..hall_config import ConfigError
from ..services.storage_health import StorageUnavailable, lock_timeout, storage_problem

log = logging.getLogger("onewindow.api")

# code -> HTTP status. A specific code (``ticket_not_found``) not listed here takes the status of its class's
# code (``not_found``), found by walking the class hierarchy; every DomainError class's code must be listed
# (tests/unit/server/test_error_table.py checks it).
STATUS_BY_CODE: dict[str, int] = {
    "domain_error": 409,
    "invalid_input": 422,
    "not_found": 404,
    "invalid_transition": 409,
    "closed": 409,
    "daily_cap_reached": 409,
    # A deadline in a year no calendar covers: the server cannot do this until its calendar file is updated,
    # whoever asks and however often (409, not 503 + Retry-After: a retry never helps).
    "calendar_missing": 409,
    "cases_not_configured": 409,  # likewise: the hall runs without case settings until its files have them
    "not_logged_in": 401,
    "login_failed": 401,
    "forbidden": 403,
    "wrong_department": 403,
    "wrong_station": 403,
    "staff_cannot_rate": 403,
    "already_rated": 409,
    "account_locked": 423,
    "too_many_attempts": 429,  # the per-client login throttle
    "wrong_window": 403,
    "priority_not_allowed": 403,
    "busy": 503,
    "storage_unavailable": 503,
}
# Where the caller finds the valid values: API URLs belong to the edge, not to domain or service messages.
HINTS: dict[str, str] = {
    "window_not_found": "see GET /api/v1/windows",
    "queue_not_found": "see GET /api/v1/queues",
    "item_not_found": "see GET /api/v1/items",
}
RETRY_AFTER: dict[str, str] = {"busy": "1", "storage_unavailable": "30"}  # seconds worth waiting


class ApiError(Exception):
    """An error found by the edge itself (bad JSON, a bad query parameter): it names its status directly."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]


def status_for(exc: DomainError) -> int:
    """The status of an error's own code, else of the nearest class whose code the table lists."""
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    for cls in type(exc).__mro__:
        code = getattr(cls, "code", None)
        if code in STATUS_BY_CODE:
            return STATUS_BY_CODE[code]
    return STATUS_BY_CODE["domain_error"]  # pragma: no cover - DomainError itself is listed


def domain_error_response(exc: DomainError) -> tuple[dict[str, Any], int]:
    message = f"{exc.message}; {HINTS[exc.code]}" if exc.code in HINTS else exc.message
    return error_body(exc.code, message, exc.details or None), status_for(exc)


def error_reply(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Any exception as (status, JSON body): for Socket.IO acknowledgements and REST alike. An unexpected one is
    logged with its traceback and answered 500 ``internal_error``: a bug to fix, never disguised as "busy"."""
    if isinstance(exc, DomainError):
        _note_storage(exc)
        body, status = domain_error_response(exc)
        return status, body
    if isinstance(exc, ApiError):
        return exc.status, error_body(exc.code, exc.message, exc.details)
    if isinstance(exc, ValidationError):
        return 422, error_body("invalid_request", "the request has invalid fields; see details",
                               validation_details(exc))
    if isinstance(exc, TimeoutError):  # the client stopped sending its body (serving.py's read timeout)
        return 408, error_body("request_timeout", "the request body did not arrive in time; send it again")
    storage = storage_problem(exc) or lock_timeout(exc)
    if storage is not None:  # read-only, disk full, corrupt, server down: a clear 503, and staff are told
        return error_reply(storage)
    if isinstance(exc, ConfigError):
        log.error("configuration error: %s", exc)
        return 500, error_body("config_error", str(exc))
    log.error("unexpected error", exc_info=exc)
    return 500, error_body("internal_error", "an unexpected error occurred; it has been logged")


def _note_storage(exc: DomainError) -> None:
    """A storage fault reaches staff once (an event and the health record), whichever request met it first."""
    if not isinstance(exc, StorageUnavailable):
        return
    from ..services import storage_health

    try:
        storage_health.report_fault(current_app.extensions["onewindow"], exc)
    except Exception:  # telling staff must never turn the clear 503 into a 500
        log.exception("could not report the storage fault")


def register_error_handlers(app: App) -> None:
    @app.errorhandler(ApiError)
    def _api(exc: ApiError) -> ResponseReturnValue:
        return jsonify(error_body(exc.code, exc.message, exc.details)), exc.status

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> ResponseReturnValue:
        status, body = error_reply(exc)
        headers = {"Retry-After": RETRY_AFTER[exc.code]} if exc.code in RETRY_AFTER else {}
        return jsonify(body), status, headers

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> ResponseReturnValue:
        status, body = error_reply(exc)
        return jsonify(body), status

    @app.errorhandler(ConfigError)
    def _config(exc: ConfigError) -> ResponseReturnValue:
        status, body = error_reply(exc)
        return jsonify(body), status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        # Keep the exception's own headers (405's Allow, 401's WWW-Authenticate); the body is ours, JSON.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return jsonify(error_body(code, exc.description or exc.name)), exc.code or 500, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        status, body = error_reply(exc)  # a database fault becomes storage_unavailable there
        code = body["error"]["code"]
        return jsonify(body), status, {"Retry-After": RETRY_AFTER[code]} if code in RETRY_AFTER else {}
