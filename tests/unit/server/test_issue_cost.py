"""Issuing a ticket costs a fixed, small number of SQL statements (issue 11), whatever path runs them (SQLAlchemy or
the hot statements on the DBAPI cursor: counted by SQLite itself); the hot path returns what SQLAlchemy would; and
the people-ahead count equals the policy's ranking of the whole line."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, insert, select
from sqlalchemy.exc import IntegrityError

from queue_server.domain.calling import DefaultCallingPolicy
from queue_server.domain.hall import CallingPolicyConfig, PriorityClass
from queue_server.services import tickets as T
from queue_server.services.context import Actor
from queue_server.store.db import read_tx
from queue_server.store.hot import HotStatement
from queue_server.store.schema import metadata, ticket_transitions, tickets

KIOSK = Actor("kiosk", "k1")

# BEGIN IMMEDIATE, the hall's head, the queue's counter (UPDATE … RETURNING), the ticket (INSERT … RETURNING), its
# transition, then the view (people ahead, recent service times and open windows, in one statement), the event and
# the hall's sequence numbers, COMMIT. Raise it only for a reason worth ~20–60 µs per ticket (a round trip on
# PostgreSQL).
STATEMENTS_PER_ISSUE = 9
# With an Idempotency-Key: its lookup and its row.
STATEMENTS_PER_KEYED_ISSUE = STATEMENTS_PER_ISSUE + 2


@contextmanager
def statements(engine: Any) -> Iterator[list[str]]:
    """Every statement SQLite runs on the engine's connections meanwhile (sqlite3's trace callback).

    SQLite traces each trigger program a statement enters (``queue_waiting``'s, on tickets) as that statement again:
    a repeat of the statement just before is part of it, not another one."""
    seen: list[str] = []

    def trace(sql: str) -> None:
        if not seen or seen[-1] != sql:
            seen.append(sql)

    def checkout(dbapi_conn: Any, *_args: Any) -> None:
        dbapi_conn.set_trace_callback(trace)

    event.listen(engine, "checkout", checkout)
    engine.dispose()  # fresh connections pass through checkout with the callback
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", checkout)
        engine.dispose()


def test_issue_runs_a_fixed_number_of_statements(hall) -> None:  # type: ignore[no-untyped-def]
    hall.stats = type("Marks", (), {"mark": lambda self, ids: None})()  # coalesced queue figures, as served
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)  # the day's roll-over and first counter row
    for _ in range(20):
        T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    with statements(hall.engine) as seen:
        T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    assert len(seen) == STATEMENTS_PER_ISSUE, "\n".join(seen)
    assert seen[0] == "BEGIN IMMEDIATE" and seen[-1] == "COMMIT"
    with statements(hall.engine) as seen:
        T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK, idempotency_key="k-1")
    assert len(seen) == STATEMENTS_PER_KEYED_ISSUE, "\n".join(seen)
    with statements(hall.engine) as seen:
        replay = T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK, idempotency_key="k-1")
    assert not replay.created and not any(s.startswith("INSERT") for s in seen)


def test_hot_statements_return_what_sqlalchemy_returns(hall) -> None:  # type: ignore[no-untyped-def]
    """Types processed the same way (aware UTC datetimes, JSON), rows by column name."""
    t = T.issue_ticket(hall, T.IssueRequest(queue_id="a", name="张三"), KIOSK).ticket
    stmt = select(tickets).where(tickets.c.id == t["id"])
    with read_tx(hall.engine) as conn:
        via_sqlalchemy = conn.execute(stmt).one()
        hot = HotStatement(stmt).one(conn, {})
    assert tuple(hot) == tuple(via_sqlalchemy)
    assert hot.issued_at.tzinfo is UTC and hot.issued_at == via_sqlalchemy.issued_at
    assert hot._asdict() == dict(via_sqlalchemy._mapping)


T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
waiting_st = st.lists(st.tuples(st.sampled_from(list(PriorityClass)), st.integers(0, 6),
                                st.sampled_from(["waiting", "waiting", "called"])), max_size=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=waiting_st, per_normal=st.integers(1, 3))
def test_people_ahead_is_the_policy_rank(rows: list[tuple[PriorityClass, int, str]], per_normal: int) -> None:
    """Ties in position on purpose: the id breaks them, as the policy does."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    policy = DefaultCallingPolicy(CallingPolicyConfig(priority_per_normal=per_normal))
    ctx = type("Ctx", (), {"policy": policy, "hall_id": "h", "config": type("Config", (), {"windows": ()})()})()
    with engine.begin() as conn:
        for i, (prio, minute, status) in enumerate(rows, start=1):
            conn.execute(insert(tickets).values(
                id=i, hall_id="h", service_day="2026-11-26", queue_id="a", seq=i, number=f"A{i:03d}",
                priority=prio.value, status=status, position=T0 + timedelta(minutes=minute), issued_at=T0, recalls=0,
                tracker_token=secrets.token_hex(8)))
        all_rows = conn.execute(select(tickets)).all()
        for t in all_rows:
            if t.status != "waiting":
                continue
            key = (policy.class_rank(PriorityClass(t.priority)), t.position, t.id)
            expected = sum(1 for o in all_rows if o.status == "waiting" and o.id != t.id
                           and (policy.class_rank(PriorityClass(o.priority)), o.position, o.id) < key)
            assert T._waiting_facts(conn, ctx, t)[0] == expected
    engine.dispose()


def test_commit_on_a_native_thread_is_durable_and_maps_errors(hall, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Under gevent the commit runs on the hub's native threads (store.db._commit_sqlite): the ticket is committed
    when issue returns, by that commit (SQLAlchemy's own then finds nothing to do), and an error raised there
    reaches the caller as SQLAlchemy's (a storage fault becomes 503 storage_unavailable at the API)."""
    import gevent

    from queue_server.store import db

    commits: list[int] = []
    pool = gevent.get_hub().threadpool

    class CountingPool:
        def apply(self, fn: Any) -> Any:
            commits.append(1)
            return pool.apply(fn)

    monkeypatch.setattr(db, "_hub_threadpool", CountingPool)
    with statements(hall.engine) as seen:
        t = T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).ticket
    assert commits and seen.count("COMMIT") == 1
    other = create_engine(hall.engine.url)  # another connection sees it: committed, not merely written
    with other.connect() as conn:
        assert conn.execute(select(tickets.c.number).where(tickets.c.id == t["id"])).scalar() == t["number"]
    other.dispose()

    # A deferred foreign key fails at COMMIT itself: the error surfaces as SQLAlchemy's, nothing is kept, and the
    # connection is usable for the next writer.
    with pytest.raises(IntegrityError), db.write_tx(hall.engine, hall.hall_id) as conn:
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        conn.execute(insert(ticket_transitions).values(ticket_id=999_999, at=T0, action="issue",
                                                       to_status="waiting", actor="test"))
    assert len(commits) == 2  # it failed in the native thread's commit
    with read_tx(hall.engine) as conn:
        assert conn.execute(select(ticket_transitions.c.id).where(ticket_transitions.c.ticket_id == 999_999)).first() \
            is None
    assert T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).created


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "postgresql-alone"])
def test_group_commit_under_gevent(tmp_path, database) -> None:  # type: ignore[no-untyped-def]
    """40 kiosks at once on a gevent server's write path (``group_commit_probe``, its own process), on SQLite and on
    PostgreSQL: they share commits; each ticket is committed when its issue returns (another connection sees it);
    one that fails inside the write (the capped queue's fourth and later) leaves the others alone; numbers stay
    unique and events are stored and published once each, in sequence order, with no gap — also when the one that
    leads a group (the first of a burst, which runs without a savepoint) or a member fails after writing its
    ticket. ``postgresql-alone``: a server process with no message queue, which takes no advisory lock."""
    import contextlib
    import json
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest_server import fresh_pg_database

    repo = Path(__file__).resolve().parents[3]
    with contextlib.ExitStack() as stack:
        pg = database.startswith("postgresql")
        url = stack.enter_context(fresh_pg_database()) if pg else str(tmp_path / "g.db")
        argv = [url, "--alone"] if database.endswith("-alone") else [url]
        out = subprocess.run([sys.executable, "-m", "tests.unit.server.group_commit_probe", *argv],
                             cwd=repo, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["not_durable"] == []
    assert len(seen["acked"]) == 35 + 9 + 9 and seen["refused"] == ["b"] * 5 + ["a", "a"]
    # the failed leader's ticket row went with its transaction, the failed member's with its savepoint
    assert seen["rows"] == len(seen["acked"])
    numbers = [t["number"] for t in seen["acked"]]
    assert len(set(numbers)) == len(numbers)
    assert sorted(n for n in numbers if n.startswith("B")) == ["B001", "B002", "B003"]
    assert sorted(n for n in numbers if n.startswith("A")) == [f"A{n:03d}" for n in range(2, 2 + 32 + 9 + 9)]
    assert seen["published"] == seen["stored"] == list(range(1, seen["head"] + 1))
    assert seen["commits"] < len(seen["acked"]) / 4, seen["commits"]  # grouped: far fewer fsyncs than tickets


def test_a_staff_request_checks_its_login_in_one_statement(hall) -> None:  # type: ignore[no-untyped-def]
    """Every staff request asks whether its login is still valid: one SELECT, without BEGIN and ROLLBACK around it,
    and a revoked session is seen at once (nothing is cached)."""
    from queue_server.services import staff

    member = staff.add_user(hall.engine, hall.now(), "li", "李", "long-enough-password", ["window_staff"])
    raw = staff.open_session(hall.engine, hall.now(), member, "test")
    with statements(hall.engine) as seen:
        assert staff.session_member(hall.engine, raw, member.id) == member
    assert len(seen) == 1 and seen[0].startswith("SELECT"), seen
    staff.revoke_session(hall.engine, hall.now(), raw)
    assert staff.session_member(hall.engine, raw, member.id) is None
