"""Clocks: the real one, and one that starts at a chosen local time (demos, tests) and runs at real speed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """Starts at ``start`` and advances with the monotonic clock; ``advance()`` jumps forward."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("OffsetClock needs an aware start time")
        self._start = start
        self._t0 = time.monotonic()
        self._extra = timedelta()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0) + self._extra

    def advance(self, delta: timedelta) -> None:
        self._extra += delta
