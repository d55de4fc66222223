"""Storage health: when the database cannot be written, staff hear of it once (event ``storage_health``), and
the recovery is recorded in the hall's event log by the first write that succeeds again.

While the database is down its own log cannot hold the fault, so the fault event goes out unsequenced (live
clients that resync by ``seq`` ignore it) and the state is kept here, in the process, for ``GET /health``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..store.db import StorageUnavailable

# The edge classifies database errors through this module (it may not import the store itself).
from ..store.db import lock_timeout as lock_timeout
from ..store.db import storage_problem as storage_problem

if TYPE_CHECKING:
    from .context import HallContext

log = logging.getLogger("onewindow.storage")
EVENT = "storage_health"


@dataclass
class StorageHealth:
    """This process's view of its database: ``problem`` is None while writes succeed."""

    problem: str | None = None
    message: str = ""
    since: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def view(self) -> dict[str, Any]:
        return {"status": "unavailable" if self.problem else "ok", "problem": self.problem,
                "message": self.message, "since": self.since.isoformat() if self.since else None}


def report_fault(ctx: HallContext, exc: StorageUnavailable) -> None:
    """Called by the edge for each request that met the fault: the first one (or a new kind of fault) tells staff."""
    state = ctx.storage
    with state._lock:
        if state.problem == exc.problem:
            return
        state.problem, state.message, state.since = exc.problem, exc.message, ctx.now()
        payload = {"station": "server", "device": "storage", **state.view()}
    log.error("storage unavailable (%s): %s", exc.problem, exc.message)
    ctx.publisher.publish([{"type": EVENT, "rooms": [f"staff:{ctx.hall_id}"], "payload": payload}])  # staff only


def recovery_payload(ctx: HallContext) -> dict[str, Any] | None:
    """For the first write after a fault: the payload of the event that records the fault and its end (None while
    healthy); the write's transaction appends it to the log."""
    state = ctx.storage
    if state.problem is None:
        return None
    now = ctx.now()
    return {"station": "server", "device": "storage", "status": "ok", "problem": state.problem,
            "message": f"storage available again after: {state.message}",
            "since": state.since.isoformat() if state.since else None, "until": now.isoformat()}


def recovered(ctx: HallContext) -> None:
    """After the transaction holding the recovery event committed."""
    state = ctx.storage
    with state._lock:
        if state.problem is not None:
            log.warning("storage available again (was %s)", state.problem)
        state.problem, state.message, state.since = None, "", None
