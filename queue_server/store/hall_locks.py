"""What orders a hall's writers: a lock per hall in this process, and on PostgreSQL an advisory lock across the
processes that share the hall (held across commit and publishing, so their events leave in sequence order)."""

from __future__ import annotations

import threading
import zlib

from sqlalchemy import Engine

_LOCKS_GUARD = threading.Lock()


def process_lock(engine: Engine, hall_id: str) -> threading.RLock:
    lock = engine.__dict__.get("_onewindow_hall_locks", {}).get(hall_id)
    if lock is not None:  # every write asks: no guard once the hall has its lock
        return lock
    with _LOCKS_GUARD:
        locks = engine.__dict__.setdefault("_onewindow_hall_locks", {})
        return locks.setdefault(hall_id, threading.RLock())


def advisory_key(engine: Engine, hall_id: str) -> int | None:
    """The hall's PostgreSQL advisory lock; None for a process alone on the hall (``alone_on_hall``)."""
    if engine.__dict__.get("_onewindow_alone"):
        return None
    return zlib.crc32(f"onewindow:{hall_id}".encode())


def alone_on_hall(engine: Engine) -> None:
    """Mark the engine of a server process that publishes to no other process (no message queue): its writers need
    no advisory lock (see ``store.pg_write``). Anything not marked (tools, a process on a message queue) takes it."""
    engine.__dict__["_onewindow_alone"] = True
