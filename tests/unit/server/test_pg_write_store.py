"""A PostgreSQL hall write stores its ticket transitions and events at the end, in one statement when they are few:
every row as given (JSON, aware datetimes), the hall's sequence numbers moved, and nothing if the write fails."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from queue_server.store.db import _PG_STORE_ROWS, ensure_hall, hall_head, make_engine, migrate, write_tx
from queue_server.store.schema import events, halls, ticket_transitions, tickets
from tests.conftest_server import fresh_pg_database

pytestmark = pytest.mark.postgres
AT = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with fresh_pg_database() as url:
        eng = make_engine(url)
        migrate(eng)
        with eng.begin() as conn:  # the tickets the transitions are of
            conn.execute(tickets.insert(), [
                {"id": 1000 + i, "hall_id": "h", "service_day": "2026-11-26", "queue_id": "a", "seq": i,
                 "number": f"A{i:03d}", "priority": "normal", "status": "waiting", "position": AT, "issued_at": AT,
                 "recalls": 0, "tracker_token": f"t{i}"} for i in range(20)])
        try:
            yield eng
        finally:
            eng.dispose()


def _write(engine: Engine, hall: str, transitions: int, events_: int, *, seq_from: int | None = None) -> None:
    with write_tx(engine, hall) as conn:
        head = hall_head(conn, hall)
        assert head is not None
        for i in range(transitions):
            head.transitions.append({"ticket_id": 1000 + i, "at": AT + timedelta(seconds=i), "action": "call",
                                     "from_status": "waiting", "to_status": "called", "window_id": f"w{i}",
                                     "queue_id": "a", "actor": "staff:li", "detail": {"i": i} if i % 2 else None})
        for i in range(events_):
            head.seq = (head.seq + 1) if seq_from is None else seq_from + i
            head.public_seq = head.seq
            head.events.append({"hall_id": hall, "seq": head.seq, "type": "ticket.called", "rooms": ["hall"],
                                "payload": {"seq": head.seq, "名": "张三"}, "at": AT + timedelta(seconds=i)})


@pytest.mark.parametrize(("transitions", "events_"), [(0, 1), (1, 1), (2, 3), (3, 0), (_PG_STORE_ROWS + 1, 2),
                                                      (1, _PG_STORE_ROWS + 1)])
def test_the_rows_of_a_write_are_stored_as_given(engine: Engine, transitions: int, events_: int) -> None:
    hall = f"h-{transitions}-{events_}"
    ensure_hall(engine, hall)
    _write(engine, hall, transitions, events_)
    with engine.connect() as conn:
        stored_t = conn.execute(select(ticket_transitions).where(ticket_transitions.c.actor == "staff:li",
                                                                 ticket_transitions.c.window_id.like("w%"),
                                                                 ticket_transitions.c.queue_id == "a")
                                .order_by(ticket_transitions.c.id)).all()
        stored_e = conn.execute(select(events).where(events.c.hall_id == hall).order_by(events.c.seq)).all()
        head = conn.execute(select(halls.c.event_seq, halls.c.public_seq).where(halls.c.id == hall)).one()
        conn.execute(ticket_transitions.delete().where(ticket_transitions.c.actor == "staff:li"))
        conn.commit()
    assert [(r.ticket_id, r.at, r.window_id, r.detail) for r in stored_t] == [
        (1000 + i, AT + timedelta(seconds=i), f"w{i}", {"i": i} if i % 2 else None) for i in range(transitions)]
    assert [(r.seq, r.rooms, r.payload, r.at) for r in stored_e] == [
        (i + 1, ["hall"], {"seq": i + 1, "名": "张三"}, AT + timedelta(seconds=i)) for i in range(events_)]
    assert tuple(head) == ((events_, events_) if events_ else (0, 0))


def test_a_failed_store_leaves_nothing(engine: Engine) -> None:
    """An event number taken twice: the whole write (its transitions too) is rolled back, and the hall is usable."""
    ensure_hall(engine, "h-fail")
    _write(engine, "h-fail", 0, 1)
    with pytest.raises(IntegrityError):
        _write(engine, "h-fail", 2, 2, seq_from=1)
    _write(engine, "h-fail", 0, 1)
    with engine.connect() as conn:
        assert conn.execute(select(events.c.seq).where(events.c.hall_id == "h-fail")).scalars().all() == [1, 2]
        assert conn.execute(select(halls.c.event_seq).where(halls.c.id == "h-fail")).scalar() == 2
        assert conn.execute(select(ticket_transitions.c.id).where(ticket_transitions.c.actor == "staff:li")).all() == []
