"""Hot statements on PostgreSQL run on psycopg's cursor, not through SQLAlchemy's execution, yet behave as
``Connection.execute`` would: the same type processing (aware datetimes stored as UTC, JSON), RETURNING rows,
executemany, SQLAlchemy's exceptions, and the caller's transaction (begun as execute would begin it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import Engine, bindparam, event, literal_column, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from queue_server.store.db import make_engine, migrate, storage_problem
from queue_server.store.hot import HotStatement
from queue_server.store.schema import events, halls
from tests.conftest_server import fresh_pg_database

pytestmark = pytest.mark.postgres
TZ = ZoneInfo("Asia/Shanghai")

_EVENT_KEYS = ("hall_id", "seq", "type", "rooms", "payload", "at")
INSERT_EVENT = HotStatement(events.insert().returning(events.c.id, events.c.at, events.c.payload),
                            column_keys=_EVENT_KEYS)
INSERT_EVENTS = HotStatement(events.insert().inline(), column_keys=_EVENT_KEYS)
EVENTS_OF = HotStatement(select(events).where(events.c.hall_id == bindparam("b_hall")).order_by(events.c.seq))
INSERT_HALL = HotStatement(halls.insert(), column_keys=("id", "event_seq", "public_seq"))
HALL_SEQ = HotStatement(select(halls.c.event_seq).where(halls.c.id == bindparam("b_hall")))


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with fresh_pg_database() as url:
        eng = make_engine(url)
        migrate(eng)
        try:
            yield eng
        finally:
            eng.dispose()


@pytest.fixture
def sqlalchemy_statements(engine: Engine) -> Iterator[list[str]]:
    """The statements that went through SQLAlchemy's execution meanwhile."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def _event(hall: str, seq: int, **over: object) -> dict[str, object]:
    row: dict[str, object] = {"hall_id": hall, "seq": seq, "type": "ticket.issued", "rooms": ["hall", "q:a"],
                              "payload": {"number": f"A{seq:03d}", "name": "张三", "n": [1, 2.5, None]},
                              "at": datetime(2026, 11, 26, 9, 30, seq, 123456, tzinfo=TZ)}
    row.update(over)
    return row


def test_returns_what_sqlalchemy_returns(engine: Engine, sqlalchemy_statements: list[str]) -> None:
    with engine.connect() as conn, conn.begin():
        inserted = INSERT_EVENT.one(conn, _event("h-types", 1))
        INSERT_EVENTS.many(conn, [_event("h-types", 2), _event("h-types", 3, payload={"k": "v"})])
        hot = EVENTS_OF.all(conn, {"b_hall": "h-types"})
        assert not sqlalchemy_statements, "the hot statements went through SQLAlchemy's execution"
        via_sqlalchemy = conn.execute(select(events).where(events.c.hall_id == "h-types").order_by(events.c.seq)).all()
    assert [tuple(r) for r in hot] == [tuple(r) for r in via_sqlalchemy]
    assert [r._asdict() for r in hot] == [dict(r._mapping) for r in via_sqlalchemy]
    assert inserted.id == hot[0].id
    # stored as UTC and given back aware, in UTC: the same instant as sent in Shanghai time
    assert inserted.at == hot[0].at == datetime(2026, 11, 26, 1, 30, 1, 123456, tzinfo=UTC)
    assert inserted.at.tzinfo is UTC and hot[2].at.tzinfo is UTC
    assert inserted.payload == hot[0].payload == {"number": "A001", "name": "张三", "n": [1, 2.5, None]}
    assert hot[0].rooms == ["hall", "q:a"] and hot[2].payload == {"k": "v"}


def test_a_unique_violation_is_sqlalchemys_integrity_error(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin():
        INSERT_HALL.all(conn, {"id": "h-dup", "event_seq": 0, "public_seq": 0})
    with pytest.raises(IntegrityError) as info, engine.connect() as conn, conn.begin():
        INSERT_HALL.all(conn, {"id": "h-dup", "event_seq": 5, "public_seq": 0})
    assert isinstance(info.value.orig, psycopg.errors.UniqueViolation)
    with pytest.raises(IntegrityError), engine.connect() as conn, conn.begin():
        INSERT_EVENTS.many(conn, [_event("h-dup", 1), _event("h-dup", 1)])


def test_runs_inside_the_callers_transaction(engine: Engine) -> None:
    with engine.connect() as conn:
        with conn.begin() as tx:
            INSERT_HALL.all(conn, {"id": "h-undone", "event_seq": 0, "public_seq": 0})
            INSERT_EVENTS.many(conn, [_event("h-undone", 1)])
            assert HALL_SEQ.scalar(conn, {"b_hall": "h-undone"}) == 0  # seen inside
            tx.rollback()
        assert HALL_SEQ.scalar(conn, {"b_hall": "h-undone"}) is None
        assert EVENTS_OF.all(conn, {"b_hall": "h-undone"}) == []


def test_a_connection_not_yet_begun_begins_as_execute_would(engine: Engine,
                                                            sqlalchemy_statements: list[str]) -> None:
    """SQLAlchemy's autobegin: conn.commit() commits what the statement did, conn.rollback() undoes it (psycopg
    would have begun a transaction SQLAlchemy knew nothing of, committed by neither)."""
    with engine.connect() as conn:
        INSERT_HALL.all(conn, {"id": "h-kept", "event_seq": 1, "public_seq": 0})
        assert conn.in_transaction()
        conn.commit()
        INSERT_HALL.all(conn, {"id": "h-dropped", "event_seq": 1, "public_seq": 0})
        conn.rollback()
    assert not sqlalchemy_statements, "the hot statements went through SQLAlchemy's execution"
    with engine.connect() as conn:
        assert HALL_SEQ.scalar(conn, {"b_hall": "h-kept"}) == 1
        assert HALL_SEQ.scalar(conn, {"b_hall": "h-dropped"}) is None


def test_a_lost_server_is_a_storage_fault_and_the_connection_is_dropped(engine: Engine) -> None:
    """The server ending the session (as a restart does) reaches the caller as SQLAlchemy's invalidated-connection
    error, which the edge answers as 503 storage_unavailable; the next connection works."""
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        conn.rollback()
        with engine.connect() as killer:
            killer.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            killer.commit()
        with pytest.raises(DBAPIError) as info:
            HALL_SEQ.scalar(conn, {"b_hall": "h-kept"})
        assert info.value.connection_invalidated and conn.invalidated
    fault = storage_problem(info.value)
    assert fault is not None and fault.problem == "unreachable"
    with engine.connect() as conn:
        HALL_SEQ.scalar(conn, {"b_hall": "h-kept"})


def test_sql_with_percent_signs_and_a_parameter_used_twice(engine: Engine) -> None:
    """Compiled to PostgreSQL's $n placeholders, sent as they are: a % is not doubled, a repeated name is one $n."""
    stmt = HotStatement(select(halls.c.event_seq % 4, literal_column("'50%'"), halls.c.id).where(
        or_(halls.c.id == bindparam("b_hall"), halls.c.id == bindparam("b_hall") + "-none")))
    with engine.connect() as conn, conn.begin():
        INSERT_HALL.all(conn, {"id": "h-pct", "event_seq": 7, "public_seq": 0})
        assert [tuple(r) for r in stmt.all(conn, {"b_hall": "h-pct"})] == [(3, "50%", "h-pct")]
        conn.rollback()
