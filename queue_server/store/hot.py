"""Hot statements: the few that run on every ticket, executed on the driver's own cursor (SQLite, PostgreSQL).

SQLAlchemy's execution machinery (execution context, events, result wrapping) costs ~20 µs of Python per statement
against ~2 µs for sqlite3 itself, and issuing a ticket runs about ten. A ``HotStatement`` is compiled once per
dialect by SQLAlchemy — the same SQL in the dialect's paramstyle, the same bind and result type processing
(``UTCDateTime``, JSON) — and runs straight on the connection's DBAPI cursor, inside the transaction SQLAlchemy
began (begun here first if it had not, as ``Connection.execute`` would). A DBAPI error goes through SQLAlchemy's own
handler, so callers see the same exceptions as before (storage faults, a lost PostgreSQL server, lock timeouts). On
any other dialect the statement runs through ``Connection.execute`` as usual.

Only plain statements qualify: no expanding ``IN`` parameters and no Python-side column defaults (``prepare``
refuses them, so a statement that would need them fails in the tests, not in the hall).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

_MISSING = object()
_ON_CURSOR = frozenset({"pysqlite", "psycopg"})  # the drivers whose cursors this module knows (sqlite3, psycopg 3)


class _Prepared:
    __slots__ = ("sql", "binds", "positional", "row", "processors")

    def __init__(self, stmt: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None) -> None:
        compiled: Any = stmt.compile(dialect=dialect, column_keys=list(column_keys) if column_keys else None)
        if getattr(compiled, "insert_prefetch", None) or compiled.literal_execute_params \
                or compiled.post_compile_params:
            raise ValueError(f"not a plain statement for the hot path: {compiled.string}")
        self.sql: str = compiled.string
        self.positional: bool = compiled.positional
        if self.positional:  # sqlite3: "?" in order
            names = list(compiled.positiontup)
        elif dialect.paramstyle == "pyformat":  # psycopg: "%(name)s"; only the names the SQL uses (an UPDATE's SET
            escaped = compiled.escaped_bind_names  # may leave some unrendered)
            names = [n for n in compiled.binds if compiled.bindtemplate % {"name": escaped.get(n, n)} in self.sql]
        else:
            raise ValueError(f"paramstyle {dialect.paramstyle!r} is not supported on the hot path")
        procs = compiled._bind_processors
        binds: list[tuple[str, str, Any, Callable[[Any], Any] | None]] = []
        for name in names:
            bind = compiled.binds[name]
            default = bind.value if bind.value is not None or not bind.required else _MISSING
            binds.append((name, compiled.escaped_bind_names.get(name, name), default, procs.get(name)))
        self.binds = tuple(binds)
        columns = compiled._result_columns
        self.row: Any = namedtuple("HotRow", [c.keyname for c in columns], rename=True) if columns else None
        self.processors = tuple(c.type._cached_result_processor(dialect, None) for c in columns)

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The DBAPI parameters: a tuple (positional paramstyle) or a dict by the names in the SQL."""
        values = []
        for key, _sql_name, default, proc in self.binds:
            value = params.get(key, default)
            if value is _MISSING:
                raise KeyError(f"missing parameter {key!r} for {self.sql}")
            values.append(proc(value) if proc is not None else value)
        if self.positional:
            return tuple(values)
        return {b[1]: v for b, v in zip(self.binds, values, strict=True)}

    def rows(self, raw: Sequence[Any]) -> list[Any]:
        procs, row = self.processors, self.row
        if not any(procs):
            return [row._make(r) for r in raw]
        return [row._make([p(v) if p is not None else v for p, v in zip(procs, r, strict=True)]) for r in raw]


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
    storage fault or a lost server still becomes a 503 at the edge, and the lost connection is invalidated)."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    try:
        cur = dbapi.cursor()
        try:
            return run(cur, sql, args)
        finally:
            cur.close()
    except conn.dialect.loaded_dbapi.Error as exc:
        conn._handle_dbapi_exception(exc, sql, args, None, None)


class HotStatement:
    """A statement built once at import and run on every ticket (see the module's docstring).

    ``column_keys``: for an INSERT, the columns the parameters give (the statement is compiled for exactly those).
    Results are named tuples with the columns' names, as ``Row`` gives them by attribute."""

    def __init__(self, stmt: Any, column_keys: Sequence[str] | None = None) -> None:
        self.stmt = stmt
        self.column_keys = tuple(column_keys) if column_keys else None
        self._prepared: dict[str, _Prepared] = {}

    def prepare(self, dialect: Dialect) -> _Prepared:
        p = self._prepared.get(dialect.name)
        if p is None:
            p = self._prepared[dialect.name] = _Prepared(self.stmt, dialect, self.column_keys)
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
