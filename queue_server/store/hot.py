"""Hot statements: the few that run on every ticket, executed on the driver's own cursor (SQLite, PostgreSQL).

SQLAlchemy's execution machinery (execution context, events, result wrapping) costs ~20 µs of Python per statement
against ~2 µs for sqlite3 itself, and issuing a ticket runs about ten; on PostgreSQL it is ~70 µs more per
statement than the driver's own (psycopg's query parsing and cursor description included). A ``HotStatement`` is
compiled once per dialect by SQLAlchemy — the same SQL (in ``$n`` placeholders for psycopg's raw cursor), the same
bind and result type processing (``UTCDateTime``, JSON) — and runs straight on the connection's DBAPI cursor, inside
the transaction SQLAlchemy began (begun here first if it had not, as ``Connection.execute`` would). A DBAPI error goes
through SQLAlchemy's own handler, so callers see the same exceptions as before (storage faults, a lost PostgreSQL
server, lock timeouts). With any other driver the statement runs through ``Connection.execute`` as usual.

Only plain statements qualify: no expanding ``IN`` parameters and no Python-side column defaults (``prepare``
refuses them, so a statement that would need them fails in the tests, not in the hall).
"""

from __future__ import annotations

import copy
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

_MISSING = object()
_ON_CURSOR = frozenset({"pysqlite", "psycopg"})  # the drivers whose cursors this module knows (sqlite3, psycopg 3)
_CURSOR = "onewindow.hot_cursor"  # the pool entry's info key for its psycopg cursor


def _dollar_dialect(dialect: Dialect) -> Dialect:
    """The dialect, compiling to PostgreSQL's own ``$1`` placeholders (psycopg's raw cursor sends those as they are;
    its usual ``%(name)s`` is parsed by psycopg, and a statement over 4 KB is parsed again on every execute).
    A copy with its own identifier preparer: ``%`` is no longer doubled in the SQL either."""
    copy_ = copy.copy(dialect)
    copy_.paramstyle = "numeric_dollar"
    copy_.positional = True
    copy_.identifier_preparer = copy_.preparer(copy_)
    return copy_


class _Prepared:
    __slots__ = ("sql", "binds", "row", "processors")

    def __init__(self, stmt: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None) -> None:
        compile_for = _dollar_dialect(dialect) if dialect.driver == "psycopg" else dialect
        compiled: Any = stmt.compile(dialect=compile_for, column_keys=list(column_keys) if column_keys else None)
        if not compiled.positional or getattr(compiled, "insert_prefetch", None) or compiled.literal_execute_params \
                or compiled.post_compile_params:
            raise ValueError(f"not a plain statement for the hot path: {compiled.string}")
        self.sql: str = compiled.string
        procs = compiled._bind_processors
        binds: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            default = bind.value if bind.value is not None or not bind.required else _MISSING
            binds.append((name, default, procs.get(name)))
        self.binds = tuple(binds)
        columns = compiled._result_columns
        self.row: Any = namedtuple("HotRow", [c.keyname for c in columns], rename=True) if columns else None
        self.processors = tuple(c.type._cached_result_processor(dialect, None) for c in columns)

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for key, default, proc in self.binds:
            value = params.get(key, default)
            if value is _MISSING:
                raise KeyError(f"missing parameter {key!r} for {self.sql}")
            out.append(proc(value) if proc is not None else value)
        return tuple(out)

    def rows(self, raw: Sequence[Any]) -> list[Any]:
        procs, row = self.processors, self.row
        if not any(procs):
            return [row._make(r) for r in raw]
        return [row._make([p(v) if p is not None else v for p, v in zip(procs, r, strict=True)]) for r in raw]


def fixed_limit(n: int) -> Any:
    """A LIMIT written into a hot statement's SQL. As a parameter, a PostgreSQL generic plan (what a prepared
    statement settles on) assumes it keeps a tenth of the rows, finds itself far costlier than the custom plans, and
    the statement is planned afresh on every run: 1.5–2 ms of the server's time for call-next's heads query with
    10,000 waiting, while the hall is held."""
    return literal_column(str(int(n)))


def _in_transaction(conn: Connection) -> bool:
    """Whether the statement may run on the cursor: SQLAlchemy's transaction is begun (here, if it had not been:
    on PostgreSQL a statement it did not know of would not be committed by ``conn.commit()``) and usable. False
    where ``Connection.execute`` would raise instead (a transaction failed or ended inside ``with conn.begin()``):
    the caller then runs the statement through it, for the same error."""
    if conn._transaction is None and not conn._trans_context_manager:
        conn._autobegin()
    tx, nested = conn._transaction, conn._nested_transaction
    return tx is not None and tx.is_active and (nested is None or nested.is_active)


def _on_cursor(conn: Connection, sql: str, args: Any, run: Callable[[Any, str, Any], Any]) -> Any:
    """``run(cursor, sql, args)`` on the connection's own DBAPI cursor, a DBAPI error raised as SQLAlchemy's (a
    storage fault or a lost server still becomes a 503 at the edge, and the lost connection is invalidated).

    psycopg: one raw cursor per connection, kept with it (making one costs about as much Python as the statement's
    own parameters); sqlite3's cursors are cheap and closed after each statement."""
    pooled = conn.connection
    dbapi = pooled.dbapi_connection
    assert dbapi is not None
    try:
        if conn.dialect.driver == "psycopg":
            cur = pooled.info.get(_CURSOR)
            if cur is None or cur.connection is not dbapi:
                cur = pooled.info[_CURSOR] = conn.dialect.loaded_dbapi.RawCursor(dbapi)
            return run(cur, sql, args)
        cur = dbapi.cursor()
        try:
            return run(cur, sql, args)
        finally:
            cur.close()
    except conn.dialect.loaded_dbapi.Error as exc:
        conn._handle_dbapi_exception(exc, sql, args, None, None)


def run_sql(conn: Connection, sql: str) -> None:
    """A fixed statement without parameters or rows (BEGIN, SAVEPOINT …) on the DBAPI cursor, inside whatever
    SQLAlchemy has begun or not: SQLAlchemy's own ``exec_driver_sql`` costs ~30 µs of Python, ``begin_nested``
    compiles its savepoint clause afresh every time."""
    _on_cursor(conn, sql, (), lambda cur, text, _args: cur.execute(text))


class HotStatement:
    """A statement built once at import and run on every ticket (see the module's docstring).

    ``column_keys``: for an INSERT, the columns the parameters give (the statement is compiled for exactly those).
    Results are named tuples with the columns' names, as ``Row`` gives them by attribute."""

    def __init__(self, stmt: Any, column_keys: Sequence[str] | None = None) -> None:
        self.stmt = stmt
        self.column_keys = tuple(column_keys) if column_keys else None
        self._prepared: dict[type, _Prepared] = {}

    def prepare(self, dialect: Dialect) -> _Prepared:
        p = self._prepared.get(type(dialect))
        if p is None:
            p = self._prepared[type(dialect)] = _Prepared(self.stmt, dialect, self.column_keys)
        return p

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Run it; the rows it returns (none for a statement without RETURNING)."""
        if conn.dialect.driver not in _ON_CURSOR or not _in_transaction(conn):
            result = conn.execute(self.stmt, dict(params))
            return list(result.all()) if result.returns_rows else []
        p = self.prepare(conn.dialect)

        def fetch(cur: Any, sql: str, args: Any) -> list[Any]:
            cur.execute(sql, args)
            return cur.fetchall() if p.row is not None else []

        raw = _on_cursor(conn, p.sql, p.args(params), fetch)
        return p.rows(raw) if raw else []

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run it once per parameter set, in one ``executemany`` (no RETURNING)."""
        if conn.dialect.driver not in _ON_CURSOR or not _in_transaction(conn):
            conn.execute(self.stmt, [dict(r) for r in rows])
            return
        p = self.prepare(conn.dialect)
        _on_cursor(conn, p.sql, [p.args(r) for r in rows], lambda cur, sql, args: cur.executemany(sql, args))

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        rows = self.all(conn, params)
        return rows[0] if rows else None

    def one(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        rows = self.all(conn, params)
        if len(rows) != 1:
            raise LookupError(f"expected one row, got {len(rows)}: {self.stmt}")
        return rows[0]

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        row = self.first(conn, params)
        return None if row is None else row[0]
