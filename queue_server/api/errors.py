"""JSON errors with a stable code and a human message, never an HTML page or a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import jsonify
from flask.sansio.app import App
from flask.typing import ResponseReturnValue
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from ..domain.errors import DomainError
from ..hall_config import ConfigError

log = logging.getLogger("onewindow.api")


class ApiError(Exception):
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


def domain_error_response(exc: DomainError) -> tuple[dict[str, Any], int]:
    status = exc.status if exc.status != 500 else 503
    return error_body(exc.code, exc.message, exc.details or None), status


def register_error_handlers(app: App) -> None:
    @app.errorhandler(ApiError)
    def _api(exc: ApiError) -> ResponseReturnValue:
        return jsonify(error_body(exc.code, exc.message, exc.details)), exc.status

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> ResponseReturnValue:
        body, status = domain_error_response(exc)
        headers = {"Retry-After": "1"} if status == 503 else {}
        return jsonify(body), status, headers

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> ResponseReturnValue:
        return jsonify(error_body("invalid_request", "the request body has invalid fields; see details",
                                  validation_details(exc))), 422

    @app.errorhandler(ConfigError)
    def _config(exc: ConfigError) -> ResponseReturnValue:
        return jsonify(error_body("config_error", str(exc))), 500

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error_body(code, exc.description or exc.name)), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unexpected error")
        return jsonify(error_body("internal_error", "an unexpected error occurred; it has been logged")), 500
