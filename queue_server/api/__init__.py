"""The JSON REST API under /api/v1, described by /api/v1/openapi.json."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import case_routes, kiosk_routes, routes  # noqa: E402,F401  (routes register on bp)
