"""Bounds at the edge: ids and cursors a request may carry, limited to what BOTH databases can store.

Every id column is SQLAlchemy ``Integer``: int4 on PostgreSQL (±2**31), int64 on SQLite. A larger number in a URL
used to reach the driver and come back as a 500 (OverflowError on SQLite, NumericValueOutOfRange on PostgreSQL);
here it is refused before any query: an id out of range names nothing (404), a cursor out of range is a bad
parameter (400).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from flask import Flask, request
from pydantic import Field
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from .errors import ApiError

INT4_MAX = 2**31 - 1  # PostgreSQL ``integer``; SQLite's int64 holds more, so this is the common bound

# Pydantic types for ids and cursors inside JSON bodies and Socket.IO payloads (422 when out of range).
DbId = Annotated[int, Field(ge=1, le=INT4_MAX, description="a record id (1 to 2147483647)")]
Cursor = Annotated[int, Field(ge=0, le=INT4_MAX, description="an event sequence number (0 to 2147483647)")]

# ASCII digits only: ``int()`` also reads "٣", " 7" and "1_0", which no client means.
_INT_RE = re.compile(r"-?[0-9]{1,19}")


class IdConverter(BaseConverter):
    """``<id:ticket_id>``: a positive record id that both databases can hold. A number out of that range names no
    record: 404, like an id that does not exist, with a message that says the range (a non-number matches no
    route at all)."""

    regex = r"[0-9]+"
    part_isolating = True

    def to_python(self, value: str) -> int:
        # Length first: int() of a few thousand digits is slow, and refused past Python's digit limit.
        if len(value) > 10 or not 1 <= int(value) <= INT4_MAX:
            # Raised from the matcher, an HTTPException becomes the request's routing error (Flask).
            raise NotFound(f"no record has the id {value[:20]}: ids are whole numbers from 1 to {INT4_MAX}")
        return int(value)

    def to_url(self, value: Any) -> str:  # werkzeug's signature: url_for passes what the caller gave
        return str(int(value))


def register_converters(app: Flask) -> None:
    """Before any blueprint is registered: the rules are compiled with the converters known at that moment."""
    app.url_map.converters["id"] = IdConverter


def int_arg(name: str, default: int | None, *, minimum: int, maximum: int, what: str) -> int:
    """A bounded integer query parameter (a cursor or a limit): 400 ``bad_parameter`` naming the range."""
    raw = request.args.get(name)
    if raw is None or (raw == "" and default is not None):
        if default is None:
            raise ApiError(400, "bad_parameter", f"{name} is required: {what} from {minimum} to {maximum}")
        return default
    if not _INT_RE.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise ApiError(400, "bad_parameter", f"{name} must be {what} from {minimum} to {maximum}; got {raw[:40]!r}")
    return int(raw)
