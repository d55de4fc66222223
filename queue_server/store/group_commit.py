"""Group commit under gevent (``serve``): one commit for the writers of a hall that queued meanwhile.

A SQLite commit costs an fsync (0.3 ms on a quiet disk, several ms on a busy one); a PostgreSQL write costs its
round trips to take the hall (BEGIN, advisory lock, head), to commit (a WAL flush) and to release it; and the
hall's writers run one after another, so that price per ticket bounds the tickets per second whatever the CPU.
Here, writers that queue on the hall while one is in flight share the next transaction: the first of them (the
leader) begins it and runs its use case; every later one (a member) runs in its own SAVEPOINT, so one that fails
rolls back to it (and the hall head's sequence numbers with it) and leaves the others alone; the leader then lets
the hall's queued writers run theirs, takes the hall back, stores the events, commits once and publishes every
member's events in sequence order; the members answer after that. **No member answers before the commit is
durable**, and a failed commit fails every member. ``store.db.write_tx`` supplies how to open, finish and close
the transaction (this module imports nothing of it). On PostgreSQL, when processes share the hall, its advisory
lock is held from the open to after the publishing, so they still publish in sequence order.

Every other writer of a SQLite file (another hall's group, ``plain_write_tx``) waits on ``sqlite_writer`` while a
group is open: in SQLite's own busy wait it would stop the gevent hub, which the group needs to finish.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from .hot import run_sql

_GUARD = threading.Lock()


class _Group:
    """One SQLite transaction shared by the writers of a hall that queued while the one before it committed."""

    def __init__(self, conn: Connection, head: Any) -> None:
        self.conn = conn
        self.head = head
        self.after_commits: list[Callable[[], None] | None] = []
        self.errors: dict[int, BaseException] = {}  # member → what to raise to it (the commit's error: to all)
        self.broken: BaseException | None = None  # a member's fault that took the transaction with it
        self.done = threading.Event()


_GROUPS: dict[int, _Group] = {}  # the open group of each hall lock (a lock belongs to one engine and hall)


def sqlite_writer(engine: Engine) -> threading.Lock:
    """Held from a group's BEGIN IMMEDIATE to its COMMIT; other writers of the file wait here, cooperatively."""
    with _GUARD:
        lock: threading.Lock = engine.__dict__.setdefault("_onewindow_sqlite_writer", threading.Lock())
        return lock


@contextmanager
def grouped_write(lock: Any, after_commit: Callable[[], None] | None, *,
                  open_: Callable[[], tuple[Connection, Any]], finish: Callable[[Connection, Any], None],
                  close: Callable[[Connection], None], writer: threading.Lock | None, publish_before_close: bool,
                  busy: Callable[[], BaseException], wait_limit: float) -> Iterator[Connection]:
    """One use case's share of a group transaction (see the module's docstring).

    ``lock``: the hall's; ``open_()`` checks out a connection, starts the transaction and returns it with the
    hall's head (``seq``, ``public_seq``, ``service_day``, ``events``, ``transitions``); ``finish(conn, head)``
    stores the events and transitions and commits durably; ``close(conn)`` rolls back what was not committed and
    returns the connection (on PostgreSQL it also releases the hall's advisory lock, so there the events are
    published before it: ``publish_before_close``). ``writer``: the SQLite file's (see ``sqlite_writer``)."""
    if not lock.acquire(timeout=wait_limit):
        raise busy()
    held = True
    groups = _GROUPS
    key = id(lock)  # one group per hall
    group = groups.get(key)
    leader = group is None
    closed = False

    def end() -> None:
        nonlocal closed
        if not closed:
            closed = True
            assert group is not None
            try:
                close(group.conn)
            finally:
                if writer is not None:
                    writer.release()

    try:
        if group is None:
            if writer is not None:
                writer.acquire()
            try:
                conn, head = open_()
            except BaseException:
                if writer is not None:
                    writer.release()
                raise
            group = groups[key] = _Group(conn, head)
        conn, head = group.conn, group.head
        member = len(group.after_commits)
        mark = (head.seq, head.public_seq, head.service_day, len(head.events), len(head.transitions))
        # The leader needs no savepoint: nobody can join before it lets go of the hall, so its failure ends the
        # whole transaction (two statements and SQLAlchemy's bookkeeping saved on every lone write).
        savepoint = None if leader else f"member_{member}"
        if savepoint is not None:
            run_sql(conn, f"SAVEPOINT {savepoint}")
        try:
            yield conn
        except BaseException as exc:
            head.seq, head.public_seq, head.service_day = mark[:3]
            del head.events[mark[3]:]
            del head.transitions[mark[4]:]  # this member's ticket transitions go with its savepoint
            try:
                if savepoint is not None:
                    run_sql(conn, f"ROLLBACK TO SAVEPOINT {savepoint}")
                    run_sql(conn, f"RELEASE SAVEPOINT {savepoint}")
            except Exception:  # after some faults (disk full, I/O, a lost server) the whole transaction is gone
                group.broken = exc
            finally:
                if leader:  # nobody could join yet (the hall was ours throughout): end the group
                    del groups[key]
                    end()
            raise
        if savepoint is not None:
            run_sql(conn, f"RELEASE SAVEPOINT {savepoint}")
        group.after_commits.append(after_commit)
        lock.release()
        held = False
        if not leader:
            group.done.wait()
            if member in group.errors:
                raise group.errors[member]
            return
        import gevent

        gevent.sleep(0)  # the writers queued on the hall take it, in turn, and join
        lock.acquire()
        held = True
        del groups[key]
        try:
            if group.broken is not None:  # every member fails as the one that lost the transaction did
                raise group.broken
            finish(conn, head)
        except BaseException as exc:
            group.errors.update(dict.fromkeys(range(len(group.after_commits)), exc))
            end()
            raise
        try:
            if not publish_before_close:
                end()
            for i, publish in enumerate(group.after_commits):  # in the order the members numbered their events
                if publish is not None:
                    try:
                        publish()
                    except Exception as exc:  # that member's error, as if its own commit had published
                        group.errors[i] = exc
        finally:
            end()
        if 0 in group.errors:
            raise group.errors[0]
    finally:
        if leader and group is not None:
            group.done.set()
        if held:
            lock.release()


def close_sqlite(conn: Connection) -> None:
    """``close`` for a SQLite group."""
    conn.info.pop("write", None)
    conn.info.pop("hall_head", None)
    conn.close()  # rolls back whatever was not committed
