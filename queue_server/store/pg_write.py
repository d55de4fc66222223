"""PostgreSQL: the engine (liveness without a ping per checkout) and a hall's write transaction in few round trips.

Every statement is a network round trip, and the hall is locked for all of them, so the write is
sent in as few as the driver allows: [BEGIN, advisory lock, head FOR UPDATE] in one (a simple query: three
statements in one message), the use case's own statements, [transitions, events, head, COMMIT] in one (psycopg 3
pipeline mode: they carry parameters), and the unlock in one. A server process alone on its hall (no message queue:
nobody else publishes the hall's events) takes no advisory lock: the head's row lock orders the writers, and its own
process lock orders commit and publishing; that saves the unlock's round trip. The driver is in autocommit for the whole write and
BEGIN/COMMIT are ours: psycopg's own BEGIN would be a round trip of its own (it syncs after BEGIN in a pipeline). SQLAlchemy's rollback still reaches the server (psycopg sends ROLLBACK
whenever the session is in a transaction). The session advisory lock is taken inside the transaction:
PostgreSQL keeps a session lock after its transaction ends, commit or rollback, until it is unlocked or the
session closes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError

T = TypeVar("T")

PING_AFTER_IDLE = 2.0  # seconds a pooled PostgreSQL connection may sit unused before its checkout pings it


def pg_engine(url: str) -> Engine:
    """PostgreSQL with a pool that pings a connection only when it has sat idle (``pool_pre_ping`` cost a round trip
    on every checkout). A server restarted under traffic is found by the first statement instead: SQLAlchemy then
    drops the whole pool, and a hall write retries its first round trip once on a fresh connection (``_open``);
    a read that met the dead connection answers 503 storage_unavailable once. LIFO keeps the busy connections hot
    and lets the extra ones go idle (and be pinged) rather than spreading the work over all of them."""
    engine = create_engine(url, pool_size=20, max_overflow=40, pool_pre_ping=False, pool_use_lifo=True)

    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:  # the pool reconnects (DisconnectionError means "retry")
            raise DisconnectionError(f"idle connection lost: {exc}") from exc

    return engine


_PG_OPEN = "BEGIN; SELECT pg_advisory_lock({key}); SELECT event_seq, public_seq, service_day FROM halls WHERE id = {hall} FOR UPDATE"
# One process alone on the hall: the row lock orders the writers; nothing to hold across the publishing.
_PG_OPEN_ALONE = "BEGIN; SELECT event_seq, public_seq, service_day FROM halls WHERE id = {hall} FOR UPDATE"
_PG_UNLOCK = "SELECT pg_advisory_unlock({key})"
_open_sql: dict[tuple[str, int | None], str] = {}


def _open_query(raw: Any, hall_id: str, key: int | None) -> str:
    """[BEGIN, the hall's advisory lock, its head FOR UPDATE] as one simple query: one message, one round trip, and
    none of psycopg's pipeline machinery, which cost ~2x the CPU (~280 µs against ~120 µs per write, measured).
    A simple query takes no parameters: the hall id is quoted by psycopg, once per hall."""
    text = _open_sql.get((hall_id, key))
    if text is None:
        from psycopg import sql

        if key is None:
            text = sql.SQL(_PG_OPEN_ALONE).format(hall=sql.Literal(hall_id)).as_string(raw)
        else:
            text = sql.SQL(_PG_OPEN).format(key=sql.Literal(int(key)), hall=sql.Literal(hall_id)).as_string(raw)
        _open_sql[(hall_id, key)] = text
    return text


def _driver(conn: Connection) -> Any:
    """The psycopg connection under a SQLAlchemy one (its pipeline and autocommit are driver features)."""
    return conn.connection.dbapi_connection


def _driver_error(engine: Engine, conn: Connection, exc: Any) -> DBAPIError:
    """A psycopg error raised outside SQLAlchemy (pipeline), as SQLAlchemy would have raised it; the session is
    closed, which also releases any advisory lock it held, and after a lost server every pooled connection is
    dropped so the next request connects afresh (what SQLAlchemy does for its own statements)."""
    dbapi = engine.dialect.loaded_dbapi
    raw = None if conn.invalidated else _driver(conn)
    lost = engine.dialect.is_disconnect(exc, raw, None) or (getattr(exc, "sqlstate", None) or "").startswith(
        ("08", "57P"))
    conn.invalidate(exc)
    if lost:
        engine.dispose()
    error = DBAPIError.instance(None, None, exc, dbapi.Error, connection_invalidated=lost)
    assert isinstance(error, DBAPIError)
    return error


def _open(engine: Engine, hall_id: str, key: int | None) -> tuple[Connection, tuple[int, int | None, str | None]]:
    """Check out a connection, begin, take the hall's advisory lock and read its head, in one round trip.

    Pooled connections are not pinged on every checkout (see make_engine): when this first round trip finds the
    server gone (a restart), nothing has been done yet, so it is tried once more on a fresh connection."""
    for attempt in (1, 2):
        conn = engine.connect()
        try:
            raw = _driver(conn)
            raw.autocommit = True  # until _unlock: BEGIN and COMMIT are ours (see the module's docstring)
            conn.begin()
            try:
                with raw.cursor() as cur:
                    cur.execute(_open_query(raw, hall_id, key))
                    cur.nextset()
                    if key is not None:
                        cur.nextset()  # the third result: the head
                    row = cur.fetchone()
            except engine.dialect.loaded_dbapi.Error as exc:
                raise _driver_error(engine, conn, exc) from exc
            if row is None:
                raise LookupError(f"hall {hall_id!r} is not in the database")
            return conn, (row[0], row[1], row[2])
        except BaseException as exc:
            if not conn.invalidated:
                conn.invalidate()  # the advisory lock may be held: closing the session releases it
            conn.close()
            if attempt == 2 or not (isinstance(exc, DBAPIError) and exc.connection_invalidated):
                raise
    raise AssertionError("unreachable")


def _unlock(engine: Engine, conn: Connection, key: int | None) -> None:
    if conn.invalidated or conn.closed:
        return  # the session is gone, and its locks with it
    raw = _driver(conn)
    if raw is None or raw.closed:
        return
    try:
        if raw.info.transaction_status != 0:  # not idle: a write that failed before its end (normally rolled back)
            raw.rollback()
        if key is not None:
            raw.execute(_PG_UNLOCK.format(key=int(key)))  # autocommit since _open: one round trip, a simple query
        raw.autocommit = False
    except engine.dialect.loaded_dbapi.Error as exc:
        # The write itself is done (committed or rolled back): do not report it failed. Closing the session
        # releases the lock all the same.
        _driver_error(engine, conn, exc)


def pg_open(engine: Engine, hall_id: str, key: int | None,
            start: Callable[[Connection, tuple[int, int | None, str | None]], T]) -> tuple[Connection, T]:
    """The hall's write begun: a connection holding its lock, and the pending head ``start`` made from its row."""
    conn, row = _open(engine, hall_id, key)
    try:
        return conn, start(conn, row)
    except BaseException:
        pg_close(engine, conn, key, lambda _conn: None)
        raise


def pg_commit(engine: Engine, conn: Connection, store: Callable[[Connection, T], None], pending: T) -> None:
    """The end of the write in one round trip: the stored rows and COMMIT queued, sent with one Sync.
    SQLAlchemy's commit then finds the driver's transaction over and sends nothing. If any of them fails,
    PostgreSQL skips the rest (COMMIT too) and the session is closed, so nothing is half-written."""
    raw = _driver(conn)
    try:
        with raw.pipeline():
            store(conn, pending)
            raw.execute("COMMIT")
    except engine.dialect.loaded_dbapi.Error as exc:
        raise _driver_error(engine, conn, exc) from exc
    tx = conn.get_transaction()
    if tx is not None:
        tx.commit()


def pg_close(engine: Engine, conn: Connection, key: int | None, done: Callable[[Connection], None]) -> None:
    """After the write, committed or not: roll back what was not committed, forget the write (``done``), release
    the hall and return the connection."""
    try:
        tx = None if conn.invalidated else conn.get_transaction()
        try:
            if tx is not None and tx.is_active:
                tx.rollback()
        finally:
            done(conn)
    finally:
        _unlock_and_close(engine, conn, key)


@contextmanager
def pg_hall_tx(engine: Engine, hall_id: str, key: int | None, after_commit: Callable[[], None] | None, *,
               start: Callable[[Connection, tuple[int, int | None, str | None]], T],
               store: Callable[[Connection, T], None], done: Callable[[Connection], None]) -> Iterator[Connection]:
    """A hall's write transaction on PostgreSQL (see the module's docstring). ``start(conn, head_row)`` makes the
    write's pending head from the hall row read under the lock; ``store(conn, pending)`` queues its rows at the
    end; ``done(conn)`` forgets the write (store.db gives these, so this module does not import it)."""
    conn, pending = pg_open(engine, hall_id, key, start)
    try:
        yield conn
        pg_commit(engine, conn, store, pending)
    except BaseException:
        pg_close(engine, conn, key, done)
        raise
    try:
        done(conn)
        if after_commit is not None:  # published before the hall is released: events leave in sequence order
            after_commit()
    finally:
        _unlock_and_close(engine, conn, key)


def _unlock_and_close(engine: Engine, conn: Connection, key: int | None) -> None:
    try:
        _unlock(engine, conn, key)
    finally:
        conn.close()
