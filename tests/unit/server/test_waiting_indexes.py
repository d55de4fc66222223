"""The line's indexes hold waiting tickets only (migration 0011): the statements of the line, as prepared with their
parameters, are planned on them without a scan or a sort — by SQLite, and by the generic plan a PostgreSQL prepared
statement settles on, which can read a partial index only when the statement's own SQL says ``status = 'waiting'``
(``TICKET_WAITING``; with the status as a parameter the PostgreSQL test fails)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from queue_server.services import alerts, common, tickets

LINE = ("a", "b")
HEADS_PARAMS = {"b_hall": "test", "b_day": "2026-11-26", "b_window": "w1"}


def _statements() -> dict[str, tuple[Any, dict[str, Any], str]]:
    """name → (hot statement, its parameters, the index it must read)."""
    from datetime import UTC, datetime

    at = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    return {
        "call-next heads": (common._heads_statement(LINE, False), HEADS_PARAMS, "ix_tickets_heads"),
        "call-next heads, long-wait rule": (common._heads_statement(LINE, True), HEADS_PARAMS, "ix_tickets_waited"),
        "alert watch: longest waiters": (alerts._longest_statement(LINE, 3),
                                         {"b_hall": "test", "b_day": "2026-11-26", "b_cutoff": at},
                                         "ix_tickets_waited"),
        "people ahead": (tickets._view_statement(("normal",), ("normal",)),
                         {"b_hall": "test", "b_day": "2026-11-26", "b_queue": "a", "b_position": at, "b_id": 7},
                         "ix_tickets_heads"),
    }


def _sqlite_plan(engine: Engine, stmt: Any, params: dict[str, Any]) -> str:
    with engine.connect() as conn:
        p = stmt.prepare(conn.dialect)
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {p.sql}", p.args(params)).all()
    return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize("name", list(_statements()))
def test_sqlite_plans_the_line_on_its_waiting_only_index(hall, name: str) -> None:
    stmt, params, index = _statements()[name]
    assert "?" in stmt.prepare(hall.engine.dialect).sql  # planned with parameters, not the values
    plan = _sqlite_plan(hall.engine, stmt, params)
    assert index in plan, plan
    assert "SCAN tickets\n" not in plan + "\n" and "TEMP B-TREE" not in plan, plan  # no full scan, no sort


def test_the_migrated_line_indexes_are_partial_and_status_lookups_have_their_own(hall) -> None:
    with hall.engine.connect() as conn:
        sql = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                     "AND tbl_name = 'tickets'")).all())
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM tickets WHERE hall_id = ? AND service_day = ? AND status = ?",
            ("test", "2026-11-26", "held")).all()
    assert sql["ix_tickets_heads"].endswith("WHERE status = 'waiting'")
    assert sql["ix_tickets_waited"].endswith("WHERE status = 'waiting'")
    assert "ix_tickets_report" not in sql
    assert "ix_tickets_status" in " ".join(str(r[-1]) for r in plan)  # a window's held tickets, the called ones


@pytest.mark.postgres
def test_postgresql_generic_plans_read_the_waiting_only_indexes() -> None:
    from tests.conftest_server import migrated_pg_engine

    with migrated_pg_engine() as engine, engine.connect() as conn:
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql("SET enable_seqscan = off")  # an empty table: the index, if it can be used
        dbapi: Any = conn.connection.dbapi_connection
        for i, (name, (stmt, params, index)) in enumerate(_statements().items()):
            p = stmt.prepare(conn.dialect)
            assert "$1" in p.sql, name
            args = p.args(params)
            with dbapi.cursor() as cur:
                cur.execute(f"PREPARE line_{i} AS {p.sql}")
                literal = ", ".join(_pg_literal(a) for a in args)
                cur.execute(f"EXPLAIN EXECUTE line_{i}({literal})")
                plan = "\n".join(r[0] for r in cur.fetchall())
            assert index in plan, (name, plan)


def _pg_literal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


@pytest.mark.postgres
def test_postgresql_settles_on_generic_plans_for_the_line_with_statistics() -> None:
    """With the table analysed (autovacuum does it in a hall) and 10,000 waiting, psycopg's prepared statements of
    the line settle on their generic plan instead of being planned afresh on every run: with a LIMIT given as a
    parameter the generic plan looked far costlier than the custom ones, and the heads query spent ~2 ms planning
    on every call-next (``store.hot.fixed_limit``)."""
    import secrets
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from queue_server.store.schema import tickets as tickets_table
    from tests.conftest_server import migrated_pg_engine

    at = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    with migrated_pg_engine() as engine:
        with engine.begin() as conn:
            conn.execute(insert(tickets_table), [
                {"hall_id": "test", "service_day": "2026-11-26", "queue_id": LINE[i % 2], "seq": i,
                 "number": f"N{i:05d}", "priority": "normal", "status": "waiting" if i > 2000 else "done",
                 "position": at + timedelta(seconds=i), "issued_at": at + timedelta(seconds=i), "recalls": 0,
                 "tracker_token": secrets.token_hex(10)} for i in range(1, 12_001)])
            conn.exec_driver_sql("ANALYZE tickets")
        with engine.begin() as conn:
            for name, (stmt, params, _index) in _statements().items():
                sql = stmt.prepare(conn.dialect).sql
                for _ in range(20):  # psycopg prepares it at its 6th run; PostgreSQL tries 5 custom plans
                    stmt.all(conn, params)
                generic, custom = conn.exec_driver_sql(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = %(sql)s",
                    {"sql": sql}).one()
                assert generic >= 8 and custom <= 5, (name, generic, custom)
