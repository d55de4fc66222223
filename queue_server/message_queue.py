"""The Redis message queue between server processes, with a bounded publish.

Events are published while the hall's write lock is held (that keeps them in seq order across processes), so a
publish that waits on a hung Redis would stall every write of the hall. Here a publish waits at most
``PUBLISH_TIMEOUT``; after a failure, publishing is skipped for ``RETRY_AFTER`` so that each write does not pay the
timeout again. Clients of this process still get every event (python-socketio delivers locally before it
publishes); screens on other processes see the gap by ``prev`` once events flow again, or at their periodic
check, and fetch what they missed from the event log. The database stays the record: nothing is lost.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
import socketio

log = logging.getLogger("onewindow.message_queue")

# Seconds, connect and reply. A healthy Redis answers in well under 1 ms; a slow link between sites may take a good
# part of a second and must still be waited for (the event would otherwise reach the other processes' screens
# only at their next resync).
PUBLISH_TIMEOUT = 2.0
RETRY_AFTER = 5.0  # seconds without publish attempts after a failure


@dataclass
class QueueHealth:
    """This process's view of the message queue, for ``GET /health``; logged once per outage and recovery."""

    problem: str | None = None
    since: datetime | None = None
    skipped: int = 0  # events not sent to other processes during the current outage
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def down(self, problem: str) -> None:
        with self._lock:
            first = self.problem is None
            if first:
                self.problem, self.since, self.skipped = problem, datetime.now(UTC), 0
            self.skipped += 1
        if first:
            log.error("message queue unavailable (%s): events reach only this process's clients; the other "
                      "processes' screens catch up from the event log when it is back", problem)

    def up(self) -> None:
        with self._lock:
            if self.problem is None:
                return
            was, skipped = self.problem, self.skipped
            self.problem, self.since, self.skipped = None, None, 0
        log.warning("message queue available again (was %s; %d event(s) not relayed meanwhile)", was, skipped)

    def view(self) -> dict[str, Any]:
        with self._lock:
            return {"status": "unavailable" if self.problem else "ok", "problem": self.problem,
                    "since": self.since.isoformat() if self.since else None, "skipped": self.skipped}


class BoundedRedisManager(socketio.RedisManager):
    """python-socketio's Redis manager whose publishes cannot hold the caller for long (see the module's text).

    The listening side keeps the library's own connection (no read timeout: an idle channel is normal) and its
    reconnect loop."""

    def __init__(self, url: str, channel: str = "flask-socketio") -> None:
        super().__init__(url, channel=channel)
        self.health = QueueHealth()
        self._publisher: redis.Redis | None = None
        self._skip_until = 0.0
        self._publish_lock = threading.Lock()

    def _publish(self, data: Any) -> int | None:
        now = time.monotonic()
        if now < self._skip_until:
            self.health.down("skipped after a recent failure")
            return None
        with self._publish_lock:
            try:
                if self._publisher is None:
                    self._publisher = redis.Redis.from_url(self.redis_url, socket_timeout=PUBLISH_TIMEOUT,
                                                           socket_connect_timeout=PUBLISH_TIMEOUT)
                receivers = int(self._publisher.publish(self.channel, self.json.dumps(data)))
            except redis.RedisError as exc:
                self._drop_publisher()
                self._skip_until = time.monotonic() + RETRY_AFTER
                self.health.down(f"{type(exc).__name__}: {exc}"[:200])
                return None
        self.health.up()
        return receivers

    def _drop_publisher(self) -> None:
        # A connection that timed out mid-reply is in an unknown state: never reuse it.
        if self._publisher is not None:
            with contextlib.suppress(redis.RedisError):
                self._publisher.close()
            self._publisher = None
