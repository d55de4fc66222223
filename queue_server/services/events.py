"""Events: appended to the hall's log inside the use case's transaction, published after it commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update

from ..store.db import write_tx
from ..store.schema import events, halls

if TYPE_CHECKING:
    from .context import HallContext


def hall_room(hall_id: str) -> str:
    return f"hall:{hall_id}"


def append_event(
    conn: Connection, hall_id: str, type_: str, payload: dict[str, Any], rooms: list[str], at: datetime
) -> dict[str, Any]:
    """Give the event the hall's next sequence number and store it; the hall room always receives it."""
    seq = conn.execute(
        update(halls).where(halls.c.id == hall_id).values(event_seq=halls.c.event_seq + 1).returning(halls.c.event_seq)
    ).scalar_one()
    all_rooms = [hall_room(hall_id), *[r for r in rooms if r != hall_room(hall_id)]]
    body = {**payload, "seq": seq, "at": at.isoformat()}
    conn.execute(events.insert().values(hall_id=hall_id, seq=seq, type=type_, rooms=all_rooms, payload=body, at=at))
    return {"type": type_, "seq": seq, "rooms": all_rooms, "payload": body}


def current_seq(conn: Connection, hall_id: str) -> int:
    return conn.execute(select(halls.c.event_seq).where(halls.c.id == hall_id)).scalar_one()


def events_since(
    conn: Connection, hall_id: str, after_seq: int, rooms: set[str], limit: int = 1000
) -> tuple[list[dict], bool]:
    """Events after ``after_seq`` that went to any of ``rooms``, in order; True when ``limit`` cut the list."""
    rows = conn.execute(
        select(events.c.seq, events.c.type, events.c.rooms, events.c.payload)
        .where(events.c.hall_id == hall_id, events.c.seq > after_seq)
        .order_by(events.c.seq)
        .limit(limit + 1)
    ).all()
    found = [
        {"type": r.type, "seq": r.seq, "rooms": r.rooms, "payload": r.payload}
        for r in rows[:limit]
        if rooms.intersection(r.rooms)
    ]
    return found, len(rows) > limit


@contextmanager
def hall_write(ctx: HallContext) -> Iterator[tuple[Connection, list[dict[str, Any]]]]:
    """A use case's transaction and the list its events go into; they are published after the commit, in
    sequence order with every other writer of the hall (see ``store.db.write_tx``)."""
    published: list[dict[str, Any]] = []
    with write_tx(ctx.engine, ctx.hall_id, after_commit=lambda: ctx.publisher.publish(published)) as conn:
        yield conn, published
