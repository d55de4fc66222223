"""The day roll-over as a use case of its own (startup, the background loop)."""

from __future__ import annotations

from .common import ensure_service_day
from .context import HallContext
from .events import hall_write


def roll_over(ctx: HallContext) -> str:
    """Close yesterday's open tickets and reset windows if the service day has changed; returns today."""
    with hall_write(ctx) as (conn, published):
        today = ensure_service_day(conn, ctx, published)
    return today
