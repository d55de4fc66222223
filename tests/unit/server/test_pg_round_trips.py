"""On PostgreSQL every round trip to the server is paid while the hall is locked: call-next and start cost a fixed,
small number of them (counted on the wire by a relay), the same with 10 or 10,000 people waiting."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import insert

from queue_server.clock import OffsetClock
from queue_server.domain.calling import DefaultCallingPolicy
from queue_server.domain.hall import HallConfig, PriorityClass
from queue_server.domain.workdays import WorkCalendar
from queue_server.services import windows as W
from queue_server.services.context import Actor, HallContext, NullPublisher
from queue_server.store.db import ensure_hall, make_engine, migrate
from queue_server.store.hall_locks import alone_on_hall
from queue_server.store.schema import tickets
from tests.conftest_server import fresh_pg_database
from tests.support.turns import TurnCounter

from .conftest import SMALL_HALL, TZ

pytestmark = pytest.mark.postgres
CLERK = Actor("staff", "clerk")
# [BEGIN + advisory lock + head] · window state with its current ticket and its calls today per queue · its finish ·
# heads (whole rows) · the call · window state · [transitions + events + head + COMMIT] · unlock
CALL_NEXT_TRIPS = 8
START_TRIPS = 5  # [BEGIN + lock + head] · window state with its current ticket · the start · [… COMMIT] · unlock


@pytest.fixture(scope="module")
def relay() -> Iterator[TurnCounter]:
    r = TurnCounter(("127.0.0.1", 5432))
    yield r
    r.close()


def _hall(url: str, relay: TurnCounter, waiting: int, alone: bool = False) -> HallContext:
    engine = make_engine(url.replace(":5432/", f":{relay.port}/"))
    if alone:
        alone_on_hall(engine)
    migrate(engine)
    ensure_hall(engine, "test")
    config = HallConfig.model_validate(SMALL_HALL)
    ctx = HallContext(config=config, engine=engine, clock=OffsetClock(datetime(2026, 11, 26, 9, 30, tzinfo=TZ)),
                      policy=DefaultCallingPolicy(config.calling), calendar=WorkCalendar(), publisher=NullPublisher(),
                      person_secret=b"k")
    ctx.stats = SimpleNamespace(mark=lambda _ids: None)  # type: ignore[assignment]  # as the server: coalesced
    now, day = ctx.now(), ctx.today().isoformat()
    classes = [PriorityClass.NORMAL] * 8 + [PriorityClass.ELDERLY, PriorityClass.LEGAL]
    with engine.begin() as conn:
        conn.execute(insert(tickets), [
            {"hall_id": "test", "service_day": day, "queue_id": "a", "seq": i, "number": f"A{i:05d}",
             "priority": classes[i % len(classes)].value, "status": "waiting",
             "position": now - timedelta(seconds=waiting - i), "issued_at": now - timedelta(seconds=waiting - i),
             "recalls": 0, "tracker_token": secrets.token_hex(10)} for i in range(1, waiting + 1)])
    return ctx


def _trips(url: str, relay: TurnCounter, waiting: int, alone: bool = False) -> tuple[list[int], list[int]]:
    ctx = _hall(url, relay, waiting, alone)
    try:
        W.open_window(ctx, "w2", CLERK)
        for _ in range(15):  # psycopg prepares a statement on its fifth use (one more round trip): warm up past it
            W.call_next(ctx, "w2", CLERK)
            W.start(ctx, "w2", CLERK)
        calls, starts = [], []
        for _ in range(5):
            relay.reset()
            assert W.call_next(ctx, "w2", CLERK)["ticket"] is not None
            calls.append(relay.reset())
            W.start(ctx, "w2", CLERK)
            starts.append(relay.reset())
        return calls, starts
    finally:
        ctx.engine.dispose()


def test_call_next_round_trips_are_few_and_flat(relay: TurnCounter) -> None:
    for waiting in (10, 10_000):
        with fresh_pg_database() as url:
            calls, starts = _trips(url, relay, waiting + 25)
        assert calls == [CALL_NEXT_TRIPS] * 5, (waiting, calls)
        assert starts == [START_TRIPS] * 5, (waiting, starts)


class _LockWatch:
    """A publisher that looks, from another session, at the advisory locks held while a write publishes (before the
    hall is released)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.held: list[int] = []

    def publish(self, _events: list) -> None:  # type: ignore[type-arg]
        import psycopg

        with psycopg.connect(self.url) as c:
            row = c.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        self.held.append(row[0] if row else -1)


@pytest.mark.parametrize("alone", [False, True], ids=["shared", "alone"])
def test_a_server_alone_on_its_hall_takes_no_advisory_lock(relay: TurnCounter, alone: bool) -> None:
    """Without a message queue no other process publishes the hall's events: the write takes no advisory lock (none
    is held while it publishes), so it has no unlock to send (one round trip fewer). Processes that share the hall
    hold it."""
    with fresh_pg_database() as url:
        calls, starts = _trips(url, relay, 35, alone=alone)
    with fresh_pg_database() as url:
        ctx = _hall(url, relay, 5, alone=alone)
        watch = ctx.publisher = _LockWatch(url)  # type: ignore[assignment]
        try:
            W.open_window(ctx, "w2", CLERK)
            W.call_next(ctx, "w2", CLERK)
        finally:
            ctx.engine.dispose()
    fewer = 1 if alone else 0
    assert calls == [CALL_NEXT_TRIPS - fewer] * 5, calls
    assert starts == [START_TRIPS - fewer] * 5, starts
    assert watch.held == [0 if alone else 1] * 2, watch.held


def test_staff_session_check_is_one_round_trip(relay: TurnCounter) -> None:
    """Every staff request checks its session: one statement, sent without BEGIN/ROLLBACK around it."""
    from queue_server.services import staff

    with fresh_pg_database() as url:
        engine = make_engine(url.replace(":5432/", f":{relay.port}/"))
        try:
            migrate(engine)
            now = datetime(2026, 11, 26, 1, 30, tzinfo=TZ)
            member = staff.add_user(engine, now, "li", "李", "a-long-enough-password-1", ["window_staff"])
            raw = staff.open_session(engine, now, member, None)
            staff.session_member(engine, raw, member.id)  # warm: the pool has its connection
            relay.reset()
            found = staff.session_member(engine, raw, member.id)
            assert relay.reset() == 1
            assert found is not None and found.username == "li"
            staff.revoke_session(engine, now, raw)
            assert staff.session_member(engine, raw, member.id) is None
            # the connection went back to the pool as it came: the next write is still one transaction
            staff.set_disabled(engine, "li", True, now)
            assert staff.find_user(engine, "li").disabled
        finally:
            engine.dispose()


# [BEGIN + head] · the queue's counter · the ticket · its view (people ahead, recent services, open windows: one
# statement) · [transition + event + head + COMMIT]
ISSUE_TRIPS = 5


def test_issue_round_trips(relay: TurnCounter) -> None:
    from queue_server.services import tickets as T

    kiosk = Actor("kiosk", "k1")
    with fresh_pg_database() as url:
        ctx = _hall(url, relay, 30, alone=True)
        try:
            W.open_window(ctx, "w2", CLERK)
            for _ in range(12):  # past psycopg's prepare threshold
                T.issue_ticket(ctx, T.IssueRequest(queue_id="a"), kiosk)
            trips = []
            for _ in range(3):
                relay.reset()
                T.issue_ticket(ctx, T.IssueRequest(queue_id="a"), kiosk)
                trips.append(relay.reset())
        finally:
            ctx.engine.dispose()
    assert trips == [ISSUE_TRIPS] * 3, trips
