"""Queue figures (waiting, estimated wait, last called) for the screens, coalesced: at most one `queue_stats` event
per changed queue per interval, computed outside the write that changed the queue.

Recomputing them inside every issue and call held the hall's write lock for the counts; a screen needs them a few
times a second at most. A write marks its queues; the server's background loop (``run``) publishes the marked queues' figures
every ``interval`` seconds, in one transaction of its own (events are still in sequence order). Nothing is started
from inside a write: a thread started there (a timer) yields to the hub under gevent while the hall is locked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from .common import ensure_service_day, queue_stats
from .events import append_event, hall_write

if TYPE_CHECKING:
    from .context import HallContext

log = logging.getLogger("onewindow.stats")


def stats_rooms(ctx: HallContext, queue_ids: Iterable[str]) -> list[str]:
    """Where a queue's figures go: its zone and queue rooms and the windows that serve it (their panels)."""
    ids = set(queue_ids)
    rooms: list[str] = []
    for qid in sorted(ids):
        rooms += [f"zone:{ctx.config.queue(qid).zone}", f"queue:{qid}"]
    rooms += [f"window:{w.id}" for w in ctx.config.windows if ids.intersection(wq.queue for wq in w.queues)]
    return list(dict.fromkeys(rooms))


class StatsCoalescer:
    def __init__(self, ctx: HallContext, interval: float) -> None:
        self.ctx = ctx
        self.interval = interval
        self._dirty: set[str] = set()
        self._lock = threading.Lock()

    def mark(self, queue_ids: Iterable[str]) -> None:
        with self._lock:
            self._dirty.update(queue_ids)

    def run(self, sleep: Callable[[float], None]) -> None:
        """The background loop: flush, sleep, forever (``sleep`` is the async mode's, e.g. socketio.sleep)."""
        while True:
            sleep(self.interval)
            self.flush()

    def flush(self) -> None:
        with self._lock:
            ids, self._dirty = sorted(self._dirty), set()
        if not ids:
            return
        try:
            with hall_write(self.ctx) as (conn, published):
                day = ensure_service_day(conn, self.ctx, published)
                published.append(append_event(conn, self.ctx.hall_id, "queue_stats",
                                              {"queues": queue_stats(conn, self.ctx, day, ids)},
                                              stats_rooms(self.ctx, ids), self.ctx.now()))
        except Exception:  # the next change flushes again; a screen also reads the figures in its snapshot
            log.exception("queue figures for %s were not published", ", ".join(ids))


def queues_changed(conn: Connection, ctx: HallContext, day: str, queue_ids: list[str], rooms: list[str],
                   at: datetime, published: list[dict[str, Any]]) -> None:
    """A write changed these queues' lines: publish their figures, coalesced when the hall runs a coalescer,
    else (tests, embedding) in this transaction."""
    ids = list(dict.fromkeys(queue_ids))
    coalescer = ctx.stats
    if coalescer is not None:
        coalescer.mark(ids)
        return
    published.append(append_event(conn, ctx.hall_id, "queue_stats", {"queues": queue_stats(conn, ctx, day, ids)},
                                  rooms, at))
