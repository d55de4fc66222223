"""Call-next reads a bounded set of candidates with SQL and still calls exactly whom the policy would call from the
whole line; its work does not grow with the number of people waiting."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, insert, update

from queue_server.domain.calling import DefaultCallingPolicy, WindowState
from queue_server.domain.hall import CallingPolicyConfig, PriorityClass
from queue_server.services import windows as W
from queue_server.services.common import call_candidates, candidates
from queue_server.services.context import Actor
from queue_server.store.schema import metadata, tickets

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
DAY = "2026-11-26"
CLERK = Actor("staff", "clerk")

ticket_st = st.tuples(
    st.sampled_from(["a", "b", "c"]),  # queue ("c" is served by no window here)
    st.sampled_from(list(PriorityClass)),
    st.integers(0, 30),  # position, minutes (ties on purpose)
    st.integers(0, 30),  # issued_at, minutes (a transfer or re-queue moves position away from issue time)
    st.sampled_from([None, None, None, "w1", "w2"]),  # target window
)


@pytest.fixture(scope="module")
def engine():
    eng = create_engine("sqlite://")
    metadata.create_all(eng)
    yield eng
    eng.dispose()


def _fill(conn, rows) -> None:  # type: ignore[no-untyped-def]
    conn.execute(tickets.delete())
    for i, (queue, prio, pos, issued, target) in enumerate(rows, start=1):
        conn.execute(insert(tickets).values(
            id=i, hall_id="h", service_day=DAY, queue_id=queue, seq=i, number=f"N{i:04d}", priority=prio.value,
            status="waiting", position=T0 + timedelta(minutes=pos), issued_at=T0 + timedelta(minutes=issued),
            recalls=0, tracker_token=secrets.token_hex(8), target_window=target))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(ticket_st, max_size=25),
    weights=st.dictionaries(st.sampled_from(["a", "b"]), st.integers(1, 4), min_size=1),
    window_id=st.sampled_from(["w1", "w2"]),
    streak=st.integers(0, 3),
    per_normal=st.integers(1, 3),
    long_wait=st.sampled_from([None, 10, 20]),
    served=st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 5)),
)
def test_sql_heads_call_the_same_sequence_as_the_whole_line(engine, rows, weights, window_id, streak, per_normal,
                                                            long_wait, served) -> None:
    policy = DefaultCallingPolicy(CallingPolicyConfig(priority_per_normal=per_normal, long_wait_min=long_wait))
    ctx = SimpleNamespace(hall_id="h", policy=policy)
    now = T0 + timedelta(minutes=35)
    with engine.begin() as conn:
        _fill(conn, rows)
        state = WindowState(window_id, weights, streak, served)
        # Drain the line both ways, feeding back the streak and the share like call_next does.
        while True:
            whole = policy.choose(candidates(conn, ctx, DAY, list(weights)), state, now)
            heads = call_candidates(conn, ctx, DAY, window_id, list(weights))
            assert len(heads) <= len(weights) * (len(PriorityClass) + 1)
            pick = policy.choose(heads, state, now)
            if whole is None:
                assert pick is None
                break
            assert pick is not None
            assert (pick.candidate, pick.rule, pick.priority_streak) == (whole.candidate, whole.rule,
                                                                         whole.priority_streak)
            conn.execute(update(tickets).where(tickets.c.id == pick.candidate.ticket_id).values(status="called"))
            done = dict(state.served)
            done[pick.candidate.queue_id] = done.get(pick.candidate.queue_id, 0) + 1
            state = WindowState(window_id, weights, pick.priority_streak, done)


# ------------------------------------------------------------------ the cost of a call does not grow with the line

def _seed_waiting(hall, n: int, apart: timedelta = timedelta(seconds=1)) -> None:  # type: ignore[no-untyped-def]
    """n waiting tickets in queue "a" (mixed classes), issued ``apart`` from each other up to now, written straight
    into today's line."""
    now = hall.now()
    day = hall.today().isoformat()
    classes = [PriorityClass.NORMAL] * 8 + [PriorityClass.ELDERLY, PriorityClass.LEGAL]
    with hall.engine.begin() as conn:
        conn.execute(insert(tickets), [
            {"hall_id": hall.hall_id, "service_day": day, "queue_id": "a", "seq": i, "number": f"A{i:05d}",
             "priority": classes[i % len(classes)].value, "status": "waiting",
             "position": now - apart * (n - i), "issued_at": now - apart * (n - i), "recalls": 0,
             "tracker_token": secrets.token_hex(10)}
            for i in range(1, n + 1)
        ])


class Work:
    """Statements executed and SQLite virtual-machine steps (hundreds) spent, via sqlite3's own hooks (hot statements
    bypass SQLAlchemy's events): rows scanned show up as steps, whether or not they are returned."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.statements = 0
        self.steps = 0
        self.on = False

    def _count(self) -> int:
        if self.on:
            self.steps += 1
        return 0

    def __enter__(self) -> Work:
        event.listen(self.engine, "checkout", self._checkout)
        self.engine.dispose()  # fresh connections pass through checkout with the handler
        self.on = True
        return self

    def _stmt(self, _sql: str) -> None:
        if self.on:
            self.statements += 1

    def _checkout(self, dbapi_conn, *_args) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.set_progress_handler(self._count, 100)
        dbapi_conn.set_trace_callback(self._stmt)

    def __exit__(self, *_exc) -> None:  # type: ignore[no-untyped-def]
        self.on = False
        event.remove(self.engine, "checkout", self._checkout)


def _cost_of_calls(hall, n: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    _seed_waiting(hall, n)
    W.open_window(hall, "w2", CLERK)
    W.call_next(hall, "w2", CLERK)  # warm up: the window is open, a ticket is current
    W.start(hall, "w2", CLERK)
    with Work(hall.engine) as work:
        for _ in range(5):
            called = W.call_next(hall, "w2", CLERK)  # finishes the current one and calls the next
            assert called["ticket"] is not None
            W.start(hall, "w2", CLERK)
    return work.statements, work.steps


@pytest.mark.parametrize("coalesced", [True, False], ids=["coalesced_stats", "stats_in_write"])
def test_call_next_work_is_flat_from_10_to_10000_waiting(hall, template_db, tmp_path, coalesced) -> None:
    """Five call-next (+ start) at 10 and at 10,000 waiting: the same statements and the same SQLite work. The queue
    figures are measured too when computed in the write (tests, embedding): only their waiting COUNT walks the
    line, which bounds the steps there."""
    import shutil

    from queue_server.store.db import make_engine

    small = hall
    big_db = tmp_path / "big.db"
    shutil.copy(template_db, big_db)
    big = dataclasses.replace(hall, engine=make_engine(str(big_db)))
    try:
        if coalesced:
            for ctx in (small, big):
                ctx.stats = SimpleNamespace(mark=lambda _ids: None)
        s_stmts, s_steps = _cost_of_calls(small, 10)
        b_stmts, b_steps = _cost_of_calls(big, 10_000)
    finally:
        big.engine.dispose()
    assert b_stmts == s_stmts > 0
    if coalesced:
        assert b_steps <= s_steps * 1.25 + 5, (s_steps, b_steps)
    else:
        # the waiting COUNT of the queue figures: ~8 steps per waiting row and call, nothing else grows
        assert b_steps <= s_steps * 1.25 + 5 + 10_000 * 5 * 10 / 100, (s_steps, b_steps)


def _cost_of_gathers(hall, n: int) -> tuple[int, int, object]:  # type: ignore[no-untyped-def]
    from queue_server.services import alerts

    _seed_waiting(hall, n, timedelta(milliseconds=100))  # 10,000 issued over the last 17 minutes
    alerts.gather(hall)  # warm up: statements built, connection pooled
    with Work(hall.engine) as work:
        for _ in range(5):
            facts = alerts.gather(hall)
    return work.statements, work.steps, facts


def test_the_alert_watch_reads_the_same_rows_at_10_and_10000_waiting(hall, template_db, tmp_path) -> None:
    """The watch gathers the hall's facts up to twice a second: with nobody past the wait limit its statements and
    SQLite work are the same at 10 and 10,000 waiting (the longest waiters by index, the counts from the per-line
    table); with a backlog past the limit it adds one indexed count for that queue, and its facts are exact."""
    import shutil

    from queue_server.store.db import make_engine

    big_db = tmp_path / "big.db"
    shutil.copy(template_db, big_db)
    big = dataclasses.replace(hall, engine=make_engine(str(big_db)))
    try:
        s_stmts, s_steps, small_facts = _cost_of_gathers(hall, 10)
        b_stmts, b_steps, big_facts = _cost_of_gathers(big, 10_000)
        assert b_stmts == s_stmts > 0
        assert b_steps <= s_steps * 1.25 + 5, (s_steps, b_steps)
        assert small_facts.long_waits == big_facts.long_waits == {}  # type: ignore[attr-defined]
        # two hours later all 10,000 wait past the limit: the cap's longest (and one more) and one count
        hall.clock.advance(timedelta(hours=2))
        big.clock.advance(timedelta(hours=2))
        cap = big.config.supervision.ticket_wait_alerts_per_queue
        with Work(big.engine) as work:
            from queue_server.services import alerts

            facts = alerts.gather(big)
        assert work.statements == b_stmts // 5 + 1
        assert facts.long_waits == {"a": 10_000}
        assert [t.number for t in facts.waiting] == [f"A{i:05d}" for i in range(1, cap + 2)]
    finally:
        big.engine.dispose()


@pytest.mark.postgres
def test_the_alert_watch_gathers_the_same_facts_on_postgresql(hall) -> None:  # type: ignore[no-untyped-def]
    """The watch's statements (a union of per-queue LIMITs, a count past the limit) as PostgreSQL runs them: the
    same facts as on SQLite for the same line."""
    from queue_server.services import alerts
    from tests.conftest_server import migrated_pg_engine

    with migrated_pg_engine(hall.hall_id) as engine:
        seen = []
        for ctx in (hall, dataclasses.replace(hall, engine=engine)):
            _seed_waiting(ctx, 40, timedelta(seconds=70))  # the first 14 wait past 30 minutes (by 20 s or more)
            facts = alerts.gather(ctx)
            seen.append((facts.long_waits, [t.number for t in facts.waiting]))
    cap = hall.config.supervision.ticket_wait_alerts_per_queue
    assert seen[0] == seen[1]
    assert seen[0] == ({"a": 14}, [f"A{i:05d}" for i in range(1, min(cap + 1, 14) + 1)])


def test_call_next_weighs_the_windows_calls_today(hall) -> None:  # type: ignore[no-untyped-def]
    """w1 serves a and b at equal weights: it alternates between them, though all of a's came first — the window's
    calls per queue are read with its state (one statement), and count from its first call of the day."""
    _alternates(hall)


@pytest.mark.postgres
def test_call_next_weighs_the_windows_calls_today_on_postgresql(hall) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest_server import migrated_pg_engine

    with migrated_pg_engine(hall.hall_id) as engine:
        _alternates(dataclasses.replace(hall, engine=engine))


def _alternates(hall) -> None:  # type: ignore[no-untyped-def]
    from queue_server.services import tickets as T

    kiosk = Actor("kiosk", "k1")
    for queue in ("a", "a", "a", "b", "b", "b"):
        T.issue_ticket(hall, T.IssueRequest(queue_id=queue), kiosk)
        hall.clock.advance(timedelta(seconds=5))
    called = []
    for _ in range(6):
        called.append(W.call_next(hall, "w1", CLERK)["ticket"]["queue_id"])
        W.start(hall, "w1", CLERK)
    assert called == ["a", "b", "a", "b", "a", "b"]
