"""The estimated wait: people ahead × recent service time ÷ the window capacity open to the queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

MIN_SAMPLES = 3
RECENT = 20


@dataclass(frozen=True)
class WaitEstimate:
    minutes: float | None  # None: no window is open for the queue
    service_min: float  # the per-ticket time used
    capacity: float  # windows' worth of service open to the queue
    basis: str  # "recent" (today's finished services) or "default" (the queue's configured time)


def service_minutes(recent_seconds: Sequence[float], default_min: float) -> tuple[float, str]:
    """Mean of the most recent service times; blended with the default until there are enough samples."""
    samples = [s for s in recent_seconds[-RECENT:] if s > 0]
    if not samples:
        return default_min, "default"
    mean_min = fmean(samples) / 60.0
    if len(samples) < MIN_SAMPLES:
        w = len(samples) / MIN_SAMPLES
        return w * mean_min + (1 - w) * default_min, "recent"
    return mean_min, "recent"


def window_share(queue_id: str, window_weights: dict[str, int], busy_queues: set[str]) -> float:
    """The share of one window's time a queue gets: its weight over the weights of the queues with people waiting."""
    if queue_id not in window_weights:
        return 0.0
    total = sum(w for q, w in window_weights.items() if q in busy_queues or q == queue_id)
    return window_weights[queue_id] / total if total else 0.0


def estimate_wait(
    ahead: int,
    recent_seconds: Sequence[float],
    default_min: float,
    open_windows: Sequence[dict[str, int]],
    queue_id: str,
    busy_queues: set[str],
) -> WaitEstimate:
    minutes_each, basis = service_minutes(recent_seconds, default_min)
    capacity = sum(window_share(queue_id, w, busy_queues) for w in open_windows)
    if capacity <= 0:
        return WaitEstimate(None, minutes_each, 0.0, basis)
    # Everyone ahead plus half a service already in progress at the windows.
    minutes = (ahead + 0.5) * minutes_each / capacity if ahead else 0.0
    return WaitEstimate(round(minutes, 1), round(minutes_each, 2), round(capacity, 3), basis)
