"""Engines and transactions: SQLite in WAL mode by default, PostgreSQL for several server processes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, bindparam, create_engine, event, insert, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from ..domain.errors import DomainError
from .group_commit import close_sqlite, grouped_write, sqlite_writer
from .hall_locks import advisory_key, process_lock
from .hot import HotStatement, run_sql
from .pg_write import pg_close, pg_commit, pg_engine, pg_hall_tx, pg_open
from .schema import events, halls, ticket_transitions

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be used as configured; the message says how to fix it."""


class HallBusy(DomainError):
    """Too many writers queued for one hall: refused rather than left waiting (the caller retries)."""

    code = "busy"


class StorageUnavailable(DomainError):
    """The database cannot be used right now (read-only, full, corrupt, unreachable): nothing the caller sent is
    wrong, and nothing was written. ``problem`` names the fault for staff; the message says what to check."""

    code = "storage_unavailable"

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message, details={"problem": problem})
        self.problem = problem


# What each storage fault means for the hall, and what to check first.
STORAGE_PROBLEMS: dict[str, str] = {
    "read_only": "the database is read-only (file or directory permissions, an immutable file, or a read-only "
                 "mount or server)",
    "disk_full": "the disk holding the database is full",
    "io_error": "the disk reported an input/output error",
    "corrupt": "the database file is damaged (restore the last backup)",
    "unreachable": "the database server cannot be reached",
}
_SQLITE_SIGNS = (("readonly", "read_only"), ("read-only", "read_only"), ("disk is full", "disk_full"),
                 ("disk i/o error", "io_error"), ("malformed", "corrupt"), ("not a database", "corrupt"),
             ("unable to open database", "unreachable"))


def lock_timeout(exc: BaseException) -> HallBusy | None:
    """SQLite's busy timeout ran out (another process held the write lock for 30 s): busy, not a bug."""
    if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig).lower():
        return HallBusy("the database stayed locked by another writer; try again in a moment")
    return None


def storage_problem(exc: BaseException) -> StorageUnavailable | None:
    """A database error that means "storage unavailable", as that error; None for anything else (a bug)."""
    if not isinstance(exc, DBAPIError):
        return None
    problem = None
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if exc.connection_invalidated or sqlstate.startswith(("08", "57P")):
        problem = "unreachable"
    elif sqlstate == "53100":
        problem = "disk_full"
    elif sqlstate == "25006":
        problem = "read_only"
    elif sqlstate.startswith("58"):
        problem = "io_error"
    elif not sqlstate:  # SQLite (no SQLSTATE), or a PostgreSQL connection that failed before any statement
        text_ = str(exc.orig).lower()
        problem = next((p for sign, p in _SQLITE_SIGNS if sign in text_), None)
        if problem is None and type(exc.orig).__module__.startswith("psycopg"):
            problem = "unreachable"  # psycopg gives no SQLSTATE only when there is no usable connection
    if problem is None:
        return None
    return StorageUnavailable(problem, f"storage unavailable: {STORAGE_PROBLEMS[problem]} ({str(exc.orig)[:120]}); "
                                       "nothing was saved, staff have been alerted — try again once it is fixed")


_HALL_HEAD = select(halls.c.event_seq, halls.c.public_seq, halls.c.service_day).where(
    halls.c.id == bindparam("b_hall"))
_HALL_HEAD_HOT = HotStatement(_HALL_HEAD)
_SET_SEQ = HotStatement(update(halls).where(halls.c.id == bindparam("b_hall")).values(
    event_seq=bindparam("b_seq"), public_seq=bindparam("b_public")))
# inline(): no RETURNING of the new ids (nothing reads them, and on PostgreSQL they are sent in a pipeline)
_EVENTS_INSERT = HotStatement(events.insert().inline(),
                              column_keys=("hall_id", "seq", "type", "rooms", "payload", "at"))
_TRANSITIONS_INSERT = HotStatement(ticket_transitions.insert().inline(), column_keys=(
    "ticket_id", "at", "action", "from_status", "to_status", "window_id", "queue_id", "actor", "detail"))
_PG_STORE_ROWS = 8  # up to this many transitions and events, a PostgreSQL write stores them in one statement


@cache  # at most _PG_STORE_ROWS × _PG_STORE_ROWS shapes
def _pg_store(transitions: int, events_: int) -> tuple[HotStatement, tuple[Any, ...], tuple[Any, ...]]:
    """The rows of a PostgreSQL hall write as one statement: its transitions and events inserted in CTEs of the
    hall's sequence update. It is sent in the write's last pipeline, where psycopg spends ~60 µs of CPU on every
    statement: one instead of three saved ~150 µs per write (measured with two of each). With the parameter names
    of each row's columns, in order."""
    def rows(keys: tuple[str, ...], prefix: str, n: int) -> tuple[tuple[tuple[str, str], ...], ...]:
        return tuple(tuple((k, f"{prefix}{i}_{k}") for k in keys) for i in range(n))

    def values(table: Any, names: tuple[tuple[tuple[str, str], ...], ...]) -> list[dict[str, Any]]:
        return [{k: bindparam(name, type_=table.c[k].type) for k, name in row} for row in names]

    assert _TRANSITIONS_INSERT.column_keys is not None and _EVENTS_INSERT.column_keys is not None
    t_names = rows(_TRANSITIONS_INSERT.column_keys, "t", transitions)
    e_names = rows(_EVENTS_INSERT.column_keys, "e", events_)
    stmt = _SET_SEQ.stmt.add_cte(insert(events).values(values(events, e_names)).cte("stored_events"))
    if transitions:
        stmt = stmt.add_cte(insert(ticket_transitions).values(values(ticket_transitions, t_names)).cte(
            "stored_transitions"))
    return HotStatement(stmt), t_names, e_names


WRITE_WAIT_LIMIT = 5.0  # seconds a write may wait for its hall before it is refused


def normalise_url(url: str) -> str:
    """Accept a bare path for SQLite and plain postgresql:// (psycopg 3 is the driver we ship)."""
    if "://" not in url:
        path = Path(url).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


SQLITE_FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def secure_sqlite_files(url: str) -> None:
    """The database holds whole ID numbers and phones (cases): only the server's user may read it.

    SQLite creates its -wal/-shm files with the main file's permissions, so the main file is created 0600 before
    SQLite opens it (under a 077 umask in case SQLite gets there first) and existing files are narrowed to 0600.
    """
    path_part = url.removeprefix("sqlite:///")
    if not url.startswith("sqlite:///") or path_part in ("", ":memory:") or path_part.startswith("file:"):
        return
    path = Path(path_part)
    old = os.umask(0o077)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, SQLITE_FILE_MODE)
        os.close(fd)
        for suffix in SQLITE_SIDE_FILES:
            side = path.with_name(path.name + suffix)
            if side.exists() and (side.stat().st_mode & 0o777) != SQLITE_FILE_MODE:
                side.chmod(SQLITE_FILE_MODE)
    except OSError as exc:  # an immutable or read-only file, a read-only mount: one line, not a traceback
        raise DatabaseError(f"cannot use the database {url}: {STORAGE_PROBLEMS['read_only']} "
                            f"({exc.strerror}: {exc.filename})") from exc
    finally:
        os.umask(old)


def make_engine(url: str, *, synchronous: str = "FULL") -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        secure_sqlite_files(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=40,
            pool_pre_ping=False,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's BEGIN below be the only transaction control (pysqlite's own is off).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed ticket survives a power cut, not only a killed process.
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            if conn.info.get("single_read"):
                return  # one statement: sqlite3's autocommit is its own transaction
            # Writers take the write lock at BEGIN, so two transactions never both read and then fight to upgrade.
            run_sql(conn, "BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

        return engine
    if url.startswith("postgresql"):
        return pg_engine(url)
    raise DatabaseError(f"unsupported database URL {url!r}: use a SQLite file path or postgresql://host/db")


MIGRATION_LOCK = 0x6F6E6577  # one advisory lock for schema changes, whatever the hall


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic), on this engine's database.

    Several processes may start at once on a fresh PostgreSQL database: an advisory lock, taken inside the
    migration's own transaction, lets one migrate while the others wait and then find nothing to do.
    """
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def ensure_hall(engine: Engine, hall_id: str) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        if conn.execute(select(halls.c.id).where(halls.c.id == hall_id)).first() is None:
            conn.execute(halls.insert().values(id=hall_id, event_seq=0, service_day=None))
        else:  # a write that changes nothing: a read-only or immutable database is found at start, not later
            conn.execute(update(halls).where(halls.c.id == hall_id).values(event_seq=halls.c.event_seq))


class HallHead:
    """A hall's event sequences and service day inside its write transaction, and the events it appended."""

    __slots__ = ("hall_id", "seq", "public_seq", "service_day", "events", "transitions")

    def __init__(self, hall_id: str, seq: int, public_seq: int, service_day: str | None) -> None:
        self.hall_id = hall_id
        self.seq = seq
        self.public_seq = public_seq
        self.service_day = service_day
        self.events: list[dict] = []
        self.transitions: list[dict] = []  # ticket transitions, stored with the events at the end


def hall_head(conn: Connection, hall_id: str) -> HallHead | None:
    """The head ``write_tx`` read for this hall on this connection, if the connection is inside one."""
    head = conn.info.get("hall_head")
    return head if head is not None and head.hall_id == hall_id else None


def write_head(conn: Connection) -> HallHead | None:
    """The head of the hall write this connection is inside, whichever hall, if any."""
    head = conn.info.get("hall_head")
    return head if isinstance(head, HallHead) else None


def _hub_threadpool() -> Any | None:
    """gevent's pool of native threads when the process is monkey-patched (``serve`` in gevent mode), else None."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return None
    import gevent

    return gevent.get_hub().threadpool


def _commit_sqlite(conn: Connection, threadpool: Any | None) -> None:
    """Commit a SQLite write transaction; under gevent on a native thread.

    The commit's fsync (0.3 ms on a quiet disk, several ms on a busy one) is a blocking C call: on the hub it stops
    the whole process — every other request, socket and timer — for its duration. On a native thread (sqlite3
    releases the GIL) the hub keeps reading and answering other requests meanwhile; this writer still holds the hall
    and waits, so nothing is acknowledged before its commit is durable. SQLAlchemy's own commit then finds no open
    transaction (a no-op in sqlite3). Errors go through SQLAlchemy's handler, as they would from its commit."""
    if threadpool is None:
        return
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    try:
        threadpool.apply(dbapi.commit)
    except conn.dialect.loaded_dbapi.Error as exc:
        conn._handle_dbapi_exception(exc, "COMMIT", (), None, None)


def _hall_busy() -> HallBusy:
    return HallBusy(f"the hall's server is busy (over {WRITE_WAIT_LIMIT:g} s of queue); try again in a moment")


def _open_sqlite_write(engine: Engine, hall_id: str) -> tuple[Connection, HallHead]:
    conn = engine.connect()
    try:
        conn.info["write"] = True
        conn.begin()
        row = _HALL_HEAD_HOT.one(conn, {"b_hall": hall_id})
        head = conn.info["hall_head"] = HallHead(hall_id, row.event_seq, row.public_seq or 0, row.service_day)
    except BaseException:
        close_sqlite(conn)
        raise
    return conn, head


def _finish_sqlite_write(conn: Connection, head: HallHead, threadpool: Any) -> None:
    _store_pending(conn, head)
    _commit_sqlite(conn, threadpool)
    conn.commit()  # SQLAlchemy's bookkeeping: sqlite3 finds no open transaction


@contextmanager
def write_tx(engine: Engine, hall_id: str, after_commit: Callable[[], None] | None = None) -> Iterator[Connection]:
    """One write transaction for a hall: serialised with every other writer of that hall, on any database.

    ``after_commit`` (publishing the transaction's events) runs before the hall is released, so events leave every
    process in the order of their sequence numbers: a thread lock orders the writers of one process, and on
    PostgreSQL a session advisory lock, held across commit and publish, orders the processes. Under gevent
    (``serve``) writers that queue meanwhile share the next commit (``store.group_commit``); each returns only once
    its writes are durable.
    """
    pg = engine.dialect.name == "postgresql"
    threadpool = _hub_threadpool()
    if threadpool is not None and pg:
        key = advisory_key(engine, hall_id)
        with grouped_write(process_lock(engine, hall_id), after_commit,
                           open_=lambda: pg_open(engine, hall_id, key,
                                                 lambda conn, row: _start_pending(conn, hall_id, row)),
                           finish=lambda conn, head: pg_commit(engine, conn, _store_pending, head),
                           close=lambda conn: pg_close(engine, conn, key, _forget), writer=None,
                           publish_before_close=True, busy=_hall_busy, wait_limit=WRITE_WAIT_LIMIT) as conn:
            yield conn
        return
    if threadpool is not None:
        with grouped_write(process_lock(engine, hall_id), after_commit,
                           open_=lambda: _open_sqlite_write(engine, hall_id),
                           finish=lambda conn, head: _finish_sqlite_write(conn, head, threadpool),
                           close=close_sqlite, writer=sqlite_writer(engine), publish_before_close=False,
                           busy=_hall_busy, wait_limit=WRITE_WAIT_LIMIT) as conn:
            yield conn
        return
    lock = process_lock(engine, hall_id)
    # Admission control: a request that would queue longer than this for the hall is answered "busy" at once,
    # so an overload cannot pile up minutes of backlog (under gevent that starved the keep-alive pings).
    if not lock.acquire(timeout=WRITE_WAIT_LIMIT):
        raise _hall_busy()
    try:
        if pg:
            with pg_hall_tx(engine, hall_id, advisory_key(engine, hall_id), after_commit, store=_store_pending,
                            start=lambda conn, row: _start_pending(conn, hall_id, row), done=_forget) as conn:
                yield conn
        else:
            with _sqlite_hall_tx(engine, hall_id, after_commit) as conn:
                yield conn
    finally:
        lock.release()


@contextmanager
def _sqlite_hall_tx(engine: Engine, hall_id: str, after_commit: Callable[[], None] | None) -> Iterator[Connection]:
    with engine.connect() as conn:
        conn.info["write"] = True  # BEGIN IMMEDIATE (see make_engine): the database's write lock orders writers
        try:
            with conn.begin():
                # The hall's head (event sequence, service day), read once: the transaction numbers its events
                # from it and stores them in one statement at the end (services.events.append_event).
                row = _HALL_HEAD_HOT.one(conn, {"b_hall": hall_id})
                pending = HallHead(hall_id, row.event_seq, row.public_seq or 0, row.service_day)
                conn.info["hall_head"] = pending
                yield conn
                _store_pending(conn, pending)
                _commit_sqlite(conn, _hub_threadpool())
            if after_commit is not None:
                after_commit()
        finally:
            conn.info.pop("write", None)
            conn.info.pop("hall_head", None)


def _start_pending(conn: Connection, hall_id: str, row: tuple[int, int | None, str | None]) -> HallHead:
    conn.info["write"] = True
    head = conn.info["hall_head"] = HallHead(hall_id, row[0], row[1] or 0, row[2])
    return head


def _forget(conn: Connection) -> None:
    if conn.invalidated:  # its info went with its DBAPI connection (reading it would raise PendingRollbackError)
        return
    conn.info.pop("write", None)
    conn.info.pop("hall_head", None)


def _store_pending(conn: Connection, pending: HallHead) -> None:
    nt, ne = len(pending.transitions), len(pending.events)
    if conn.dialect.name == "postgresql" and 0 < ne <= _PG_STORE_ROWS and nt <= _PG_STORE_ROWS:
        stmt, t_names, e_names = _pg_store(nt, ne)
        params: dict[str, Any] = {"b_hall": pending.hall_id, "b_seq": pending.seq, "b_public": pending.public_seq}
        for names, rows in ((t_names, pending.transitions), (e_names, pending.events)):
            for row_names, row in zip(names, rows, strict=True):
                for key, name in row_names:
                    params[name] = row[key]
        stmt.all(conn, params)
        return
    if pending.transitions:
        _TRANSITIONS_INSERT.many(conn, pending.transitions)
    if pending.events:
        _EVENTS_INSERT.many(conn, pending.events)
        _SET_SEQ.all(conn, {"b_hall": pending.hall_id, "b_seq": pending.seq, "b_public": pending.public_seq})


@contextmanager
def plain_write_tx(engine: Engine) -> Iterator[Connection]:
    """A write transaction outside any hall (staff accounts, tokens): on SQLite it takes the write lock at BEGIN
    like every writer, so it waits its turn instead of failing with "database is locked" when upgrading (under
    gevent it first waits, cooperatively, for any group commit in progress)."""
    if engine.dialect.name == "sqlite" and _hub_threadpool() is not None:
        with sqlite_writer(engine), _plain_write(engine) as conn:
            yield conn
        return
    with _plain_write(engine) as conn:
        yield conn


@contextmanager
def _plain_write(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        conn.info["write"] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info.pop("write", None)


@contextmanager
def single_read(engine: Engine) -> Iterator[Connection]:
    """A connection for one read statement, without BEGIN and ROLLBACK around it (on PostgreSQL two round trips of
    three; one statement sees one snapshot either way). Only for reads: nothing here is atomic."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn
            return
        conn.info["single_read"] = True
        try:
            yield conn
        finally:
            conn.info.pop("single_read", None)


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


def check_connection(engine: Engine) -> None:
    """Open the database and read its schema (a damaged or foreign file fails here, not on the first ticket)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM sqlite_master" if engine.dialect.name == "sqlite" else "SELECT 1"))
    except DBAPIError as exc:
        raise start_failure(engine, exc) from exc


def start_failure(engine: Engine, exc: DBAPIError) -> DatabaseError:
    """One line for the technician: which database, what is wrong with it, the driver's own words (first line)."""
    fault = storage_problem(exc)
    what = STORAGE_PROBLEMS[fault.problem] if fault else "it cannot be used"
    driver = " ".join(str(exc.orig).split())[:200]
    return DatabaseError(f"cannot use the database {engine.url.render_as_string(hide_password=True)}: {what} "
                         f"({driver})")
