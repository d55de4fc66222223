"""Clocks: the real one, and one that starts at a chosen local time (demos, tests) and runs at real speed or
faster (a simulated service day in minutes: ``--clock-speed 60`` makes an hour pass in a minute)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

MAX_SPEED = 3600.0  # an hour a second: beyond that a service's minutes are shorter than a request


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """Starts at ``start`` and advances ``speed`` times as fast as the monotonic clock; ``advance()`` jumps."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("OffsetClock needs an aware start time")
        if not 0 < speed <= MAX_SPEED:
            raise ValueError(f"clock speed {speed!r} is out of range; allowed above 0 up to {MAX_SPEED:g}")
        self._start = start
        self._speed = speed
        self._t0 = time.monotonic()
        self._extra = timedelta()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self._speed) + self._extra

    def advance(self, delta: timedelta) -> None:
        self._extra += delta
