"""``queue_waiting`` (waiting tickets per queue and priority class of a day) is kept by triggers on tickets: after
any sequence of the hall's real use cases — and of raw updates no use case makes yet — it equals the count of
waiting tickets, on SQLite and on PostgreSQL; the people ahead read from it equal the policy's ranking of the whole
line; and a database migrated from 0009 with people already waiting has the right counts at once."""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Iterator
from contextlib import suppress
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, insert, select, text, update

from queue_server.clock import OffsetClock
from queue_server.domain.calling import DefaultCallingPolicy, people_ahead
from queue_server.domain.errors import DomainError
from queue_server.domain.hall import HallConfig, PriorityClass
from queue_server.domain.workdays import WorkCalendar
from queue_server.services import tickets as T
from queue_server.services import windows as W
from queue_server.services.common import candidates, open_window_weights, recent_service_seconds
from queue_server.services.context import Actor, HallContext, NullPublisher
from queue_server.store import schema
from queue_server.store.db import MIGRATIONS, ensure_hall, make_engine, migrate, read_tx
from queue_server.store.schema import queue_waiting, ticket_transitions, tickets
from queue_server.store.tables import metadata
from tests.conftest_server import fresh_pg_database

from .conftest import SMALL_HALL, TZ

CLERK = Actor("staff", "clerk")
WINDOWS = ["w1", "w2", "w3"]
QUEUES = ["a", "b", "c"]
SERVES = {"w1": "b", "w2": "a", "w3": "c"}
START = datetime(2026, 11, 26, 9, 30, tzinfo=TZ)

# Staff grant any class; each request below earns exactly its class.
CLASS_REQUEST: dict[PriorityClass, dict[str, Any]] = {
    PriorityClass.NORMAL: {},
    PriorityClass.ELDERLY: {"birth_date": date(1940, 1, 1)},
    PriorityClass.LEGAL: {"legal_reason": "military"},
    PriorityClass.APPOINTMENT: {"appointment_code": "APPT"},
    PriorityClass.GREEN: {"green": True},
}

window_st = st.sampled_from(WINDOWS)
pick_st = st.integers(0, 1000)  # a ticket of the hall, by index in id order
# What a window does with the ticket it calls: several use cases in a row, or a sequence would rarely reach them.
AFTER_CALL = [(), ("start", "finish"), ("no_show",), ("hold",), ("start", "hold"), ("transfer",),
              ("start", "transfer")]
issue_st = st.tuples(st.just("issue"), st.sampled_from(QUEUES), st.sampled_from(list(PriorityClass)))
serve_st = st.tuples(st.just("serve"), window_st, st.sampled_from(AFTER_CALL), st.sampled_from(QUEUES),
                     st.sampled_from(["front", "back", "original"]), st.sampled_from(list(PriorityClass)))
step_st = st.one_of(  # issuing and serving repeated (and a roll-over rarer): the others need someone in line
    issue_st, issue_st, issue_st, issue_st, serve_st, serve_st, serve_st, serve_st,
    st.tuples(st.just("call_ticket"), window_st, pick_st),
    st.tuples(st.sampled_from(["start", "finish", "no_show", "hold"]), window_st),
    st.tuples(st.just("call_back"), window_st, pick_st),
    st.tuples(st.sampled_from(["requeue", "cancel", "delete"]), pick_st),
    st.tuples(st.just("reclass"), pick_st, st.sampled_from(list(PriorityClass))),
    st.tuples(st.just("roll_over")),
)


def _hall(engine: Engine) -> HallContext:
    """A hall of its own on the shared database (counts are per hall: the others must not move)."""
    raw = {**SMALL_HALL, "hall": {**SMALL_HALL["hall"], "id": f"h{secrets.token_hex(4)}"}}  # type: ignore[dict-item]
    config = HallConfig.model_validate(raw)
    ensure_hall(engine, config.hall.id)
    return HallContext(config=config, engine=engine, clock=OffsetClock(START), policy=DefaultCallingPolicy(
        config.calling), calendar=WorkCalendar(), publisher=NullPublisher(), person_secret=b"k", always_open=True)


def _pick(ctx: HallContext, i: int, status: str | None = None) -> int | None:
    with read_tx(ctx.engine) as conn:
        q = select(tickets.c.id).where(tickets.c.hall_id == ctx.hall_id).order_by(tickets.c.id)
        ids = list(conn.execute(q if status is None else q.where(tickets.c.status == status)).scalars())
    return ids[i % len(ids)] if ids else None


def _step(ctx: HallContext, step: tuple[Any, ...]) -> None:
    op, *args = step
    if op == "issue":
        queue, cls = args
        t = T.issue_ticket(ctx, T.IssueRequest(queue_id=queue, **CLASS_REQUEST[cls]), CLERK).ticket
        assert t["priority"] == cls.value
    elif op == "serve":  # someone joins one of the window's lines, the window calls (whom the policy picks)
        window, then, to_queue, position, cls = args
        _step(ctx, ("issue", SERVES[window], cls))
        W.call_next(ctx, window, CLERK)
        for action in then:
            if action == "transfer":
                W.transfer(ctx, window, CLERK, to_queue=to_queue, position=position)
            else:
                getattr(W, action)(ctx, window, CLERK)
    elif op in ("start", "finish", "no_show", "hold"):
        getattr(W, op)(ctx, args[0], CLERK)
    elif op in ("call_ticket", "call_back"):
        ticket_id = _pick(ctx, args[1], "waiting" if op == "call_ticket" else "held")
        if ticket_id is not None:
            getattr(W, op)(ctx, args[0], ticket_id, CLERK)
    elif op in ("requeue", "cancel"):
        ticket_id = _pick(ctx, args[0], "no_show" if op == "requeue" else None)
        if ticket_id is not None:
            getattr(T, op)(ctx, ticket_id, CLERK)
    elif op in ("delete", "reclass"):  # no use case does these yet: the triggers must hold for them all the same
        ticket_id = _pick(ctx, args[0])
        if ticket_id is not None:
            with ctx.engine.begin() as conn:
                if op == "delete":
                    conn.execute(delete(ticket_transitions).where(ticket_transitions.c.ticket_id == ticket_id))
                    conn.execute(delete(tickets).where(tickets.c.id == ticket_id))
                else:
                    conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(priority=args[1].value))
    else:  # roll_over: tomorrow's first write closes today's open tickets in one UPDATE
        ctx.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        for w in WINDOWS:
            W.open_window(ctx, w, CLERK)


def _check(ctx: HallContext) -> None:
    with read_tx(ctx.engine) as conn:
        kept = conn.execute(select(queue_waiting)).all()
        assert all(r.waiting >= 0 for r in kept), kept
        counted = conn.execute(
            select(tickets.c.hall_id, tickets.c.service_day, tickets.c.queue_id, tickets.c.priority, func.count())
            .where(tickets.c.status == "waiting")
            .group_by(tickets.c.hall_id, tickets.c.service_day, tickets.c.queue_id, tickets.c.priority)).all()
        assert {tuple(r[:4]): r.waiting for r in kept if r.waiting} == {tuple(r[:4]): r[4] for r in counted}
        now = ctx.now()
        for t in conn.execute(select(tickets).where(tickets.c.hall_id == ctx.hall_id,
                                                     tickets.c.status == "waiting")).all():
            line = candidates(conn, ctx, t.service_day, [t.queue_id])
            # the view's one statement reads what the three reads of any other policy read
            assert T._waiting_facts(conn, ctx, t) == (
                people_ahead(ctx.policy, line, t.id, now), recent_service_seconds(conn, ctx, t.service_day, t.queue_id),
                open_window_weights(conn, ctx)), t


def _run(ctx: HallContext, steps: list[tuple[Any, ...]]) -> None:
    for w in WINDOWS:
        W.open_window(ctx, w, CLERK)
    for step in steps:
        with suppress(DomainError):  # not allowed now (nothing to start, a daily cap, …): the counts hold still
            _step(ctx, step)
        _check(ctx)


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(str(tmp_path_factory.mktemp("waiting") / "hall.db"), synchronous="OFF")
    migrate(engine)
    yield engine
    engine.dispose()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step_st, min_size=10, max_size=40))
def test_counts_follow_every_use_case_on_sqlite(sqlite_engine: Engine, steps: list[tuple[Any, ...]]) -> None:
    _run(_hall(sqlite_engine), steps)


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    with fresh_pg_database() as url:
        engine = make_engine(url)
        migrate(engine)
        yield engine
        engine.dispose()


@pytest.mark.postgres
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step_st, min_size=10, max_size=30))
def test_counts_follow_every_use_case_on_postgres(pg_engine: Engine, steps: list[tuple[Any, ...]]) -> None:
    _run(_hall(pg_engine), steps)


def test_a_fresh_schema_has_the_triggers_migration_0010_creates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Tests build databases with ``create_all`` too: it must keep the counts exactly as a migrated database."""
    migrated = make_engine(str(tmp_path / "migrated.db"))
    migrate(migrated)
    created = make_engine(str(tmp_path / "created.db"))
    metadata.create_all(created)
    triggers = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'tickets' ORDER BY name"
    with migrated.connect() as a, created.connect() as b:
        want = a.execute(text(triggers)).all()
        assert len(want) == 4 and want == b.execute(text(triggers)).all()
    migrated.dispose()
    created.dispose()


def test_the_schema_builds_the_triggers_of_migration_0010() -> None:
    spec = importlib.util.spec_from_file_location("m0010", MIGRATIONS / "versions" / "0010_queue_waiting.py")
    assert spec is not None and spec.loader is not None
    m0010 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0010)
    assert m0010.SQLITE_TRIGGERS == schema.SQLITE_WAITING_TRIGGERS
    assert m0010.PG_TRIGGERS == schema.PG_WAITING_TRIGGERS


def _at_0009_with_people_waiting(engine: Engine) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009")
    now = START
    rows = [("h1", "2026-11-25", "a", "normal", "waiting")] * 2 + [("h1", "2026-11-26", "a", "normal", "waiting")] * 3 \
        + [("h1", "2026-11-26", "a", "green", "waiting"), ("h1", "2026-11-26", "a", "normal", "called"),
           ("h1", "2026-11-26", "b", "legal", "waiting"), ("h2", "2026-11-26", "a", "normal", "waiting"),
           ("h2", "2026-11-26", "a", "normal", "done")]
    with engine.begin() as conn:
        conn.execute(insert(tickets), [
            {"hall_id": h, "service_day": d, "queue_id": q, "seq": i, "number": f"N{i:03d}", "priority": p,
             "status": s, "position": now, "issued_at": now, "recalls": 0, "tracker_token": secrets.token_hex(8)}
            for i, (h, d, q, p, s) in enumerate(rows)])


def _upgraded_counts(engine: Engine) -> dict[tuple[str, ...], int]:
    migrate(engine)
    with engine.connect() as conn:
        return {tuple(r[:4]): r.waiting for r in conn.execute(select(queue_waiting))}


UPGRADED = {("h1", "2026-11-25", "a", "normal"): 2, ("h1", "2026-11-26", "a", "normal"): 3,
            ("h1", "2026-11-26", "a", "green"): 1, ("h1", "2026-11-26", "b", "legal"): 1,
            ("h2", "2026-11-26", "a", "normal"): 1}


def test_upgrade_from_0009_counts_those_already_waiting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(str(tmp_path / "old.db"))
    _at_0009_with_people_waiting(engine)
    assert _upgraded_counts(engine) == UPGRADED
    with engine.begin() as conn:  # and the triggers keep it from there
        conn.execute(update(tickets).where(tickets.c.hall_id == "h1", tickets.c.status == "waiting",
                                           tickets.c.service_day == "2026-11-25").values(status="closed"))
    with engine.connect() as conn:
        assert conn.execute(select(queue_waiting.c.waiting).where(
            queue_waiting.c.service_day == "2026-11-25")).scalar() == 0
    engine.dispose()


@pytest.mark.postgres
def test_upgrade_from_0009_counts_those_already_waiting_on_postgres() -> None:
    with fresh_pg_database() as url:
        engine = make_engine(url)
        _at_0009_with_people_waiting(engine)
        assert _upgraded_counts(engine) == UPGRADED
        engine.dispose()
