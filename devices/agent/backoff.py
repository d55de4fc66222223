"""Exponential backoff with jitter, for reconnecting to the server and reopening devices."""

from __future__ import annotations

import random


class Backoff:
    """Delays ``initial * factor**n`` capped at ``maximum``, each shortened by up to ``jitter`` of itself.

    The jitter keeps a hall's agents from all knocking on a restarted server in the same instant.
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        if initial <= 0 or maximum < initial or factor < 1 or not 0 <= jitter < 1:
            raise ValueError(
                f"backoff needs 0 < initial <= maximum, factor >= 1, 0 <= jitter < 1; got initial={initial}, "
                f"maximum={maximum}, factor={factor}, jitter={jitter}"
            )
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rng = rng or random.Random()
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next attempt; each call counts one failed attempt."""
        delay = min(self.maximum, self.initial * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        return delay * (1 - self.jitter * self._rng.random())

    def reset(self) -> None:
        """After a success: the next failure starts again from ``initial``."""
        self.attempts = 0
