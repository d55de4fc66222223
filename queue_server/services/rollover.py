"""The day roll-over as a use case of its own (startup, the background loop)."""

from __future__ import annotations

from ..store.db import write_tx
from .common import ensure_service_day
from .context import HallContext


def roll_over(ctx: HallContext) -> str:
    """Close yesterday's open tickets and reset windows if the service day has changed; returns today."""
    published: list[dict] = []
    with write_tx(ctx.engine, ctx.hall_id) as conn:
        today = ensure_service_day(conn, ctx, published)
    ctx.publisher.publish(published)
    return today
