"""Call-next reads a bounded set of candidates with SQL and still calls exactly whom the policy would call from the
whole line; its work does not grow with the number of people waiting."""

from __future__ import annotations

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

def _seed_waiting(hall, n: int) -> None:  # type: ignore[no-untyped-def]
    """n waiting tickets in queue "a" (mixed classes), written straight into today's line."""
    now = hall.now()
    day = hall.today().isoformat()
    classes = [PriorityClass.NORMAL] * 8 + [PriorityClass.ELDERLY, PriorityClass.LEGAL]
    with hall.engine.begin() as conn:
        conn.execute(insert(tickets), [
            {"hall_id": hall.hall_id, "service_day": day, "queue_id": "a", "seq": i, "number": f"A{i:05d}",
             "priority": classes[i % len(classes)].value, "status": "waiting",
             "position": now - timedelta(seconds=n - i), "issued_at": now - timedelta(seconds=n - i), "recalls": 0,
             "tracker_token": secrets.token_hex(10)}
            for i in range(1, n + 1)
        ])


class Work:
    """Statements executed and SQLite virtual-machine steps (hundreds) spent, via SQLAlchemy and sqlite3 hooks:
    rows scanned show up as steps, whether or not they are returned."""

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
        event.listen(self.engine, "before_cursor_execute", self._stmt)
        event.listen(self.engine, "checkout", self._checkout)
        self.engine.dispose()  # fresh connections pass through checkout with the handler
        self.on = True
        return self

    def _stmt(self, *_args) -> None:  # type: ignore[no-untyped-def]
        if self.on:
            self.statements += 1

    def _checkout(self, dbapi_conn, *_args) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.set_progress_handler(self._count, 100)

    def __exit__(self, *_exc) -> None:  # type: ignore[no-untyped-def]
        self.on = False
        event.remove(self.engine, "before_cursor_execute", self._stmt)
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
    big = SimpleNamespace(**{k: getattr(hall, k) for k in hall.__dataclass_fields__})
    big = type(hall)(**{**vars(big), "engine": make_engine(str(big_db))})
    try:
        if coalesced:
            for ctx in (small, big):
                ctx.stats = SimpleNamespace(mark=lambda _ids: None)
        s_stmts, s_steps = _cost_of_calls(small, 10)
        b_stmts, b_steps = _cost_of_calls(big, 10_000)
    finally:
        big.engine.dispose()
    assert b_stmts == s_stmts
    if coalesced:
        assert b_steps <= s_steps * 1.25 + 5, (s_steps, b_steps)
    else:
        # the waiting COUNT of the queue figures: ~8 steps per waiting row and call, nothing else grows
        assert b_steps <= s_steps * 1.25 + 5 + 10_000 * 5 * 10 / 100, (s_steps, b_steps)
