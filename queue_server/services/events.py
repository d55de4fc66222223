"""Events: appended to the hall's log inside the use case's transaction, published after it commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update

from ..policy import STATION_EVENT_STAFF_FIELDS, Audience, audience_of
from ..store.db import hall_head, write_tx
from ..store.schema import events, halls
from . import storage_health

if TYPE_CHECKING:
    from .context import HallContext


def hall_room(hall_id: str) -> str:
    return f"hall:{hall_id}"


def staff_room(hall_id: str) -> str:
    """Logged-in staff of the hall: every event, station events in their redacted form."""
    return f"staff:{hall_id}"


def _event_rooms(hall_id: str, audience: Audience, rooms: list[str]) -> list[str]:
    if audience is Audience.PUBLIC:
        named = [r for r in rooms if r not in (hall_room(hall_id), staff_room(hall_id))]
        return [hall_room(hall_id), *named, staff_room(hall_id)]
    if audience is Audience.STATION:
        return [*[r for r in rooms if r.startswith("station:")], staff_room(hall_id)]
    return [staff_room(hall_id)]


_NEXT_SEQ = (update(halls).where(halls.c.id == bindparam("b_hall")).values(event_seq=halls.c.event_seq + 1)
             .returning(halls.c.event_seq, halls.c.public_seq))
_SET_PUBLIC_SEQ = update(halls).where(halls.c.id == bindparam("b_hall")).values(public_seq=bindparam("b_public"))
_EVENT_INSERT = events.insert()


def append_event(
    conn: Connection, hall_id: str, type_: str, payload: dict[str, Any], rooms: list[str], at: datetime
) -> dict[str, Any]:
    """Give the event the hall's next sequence number and store it with the rooms its audience allows.

    Public events also carry ``prev``, the sequence number of the hall's previous public event: the hall room
    sees only public events, so a screen checks ``prev`` (not ``seq - 1``) to know it missed nothing.

    Inside the hall's write transaction the numbers come from the head it read and the row is stored with the
    transaction's other events when it ends (two statements however many events); elsewhere at once."""
    audience = audience_of(type_)
    public = audience is Audience.PUBLIC
    head = hall_head(conn, hall_id)
    if head is not None:
        head.seq += 1
        seq, last_public = head.seq, head.public_seq
        if public:
            head.public_seq = seq
    else:
        seq, last_public = conn.execute(_NEXT_SEQ, {"b_hall": hall_id}).one()
        if public:
            conn.execute(_SET_PUBLIC_SEQ, {"b_hall": hall_id, "b_public": seq})
    body = {**payload, "seq": seq, "at": at.isoformat()}
    if public:
        body["prev"] = last_public or 0
    all_rooms = _event_rooms(hall_id, audience, rooms)
    row = {"hall_id": hall_id, "seq": seq, "type": type_, "rooms": all_rooms, "payload": body, "at": at}
    if head is not None:
        head.events.append(row)
    else:
        conn.execute(_EVENT_INSERT, row)
    return {"type": type_, "seq": seq, "rooms": all_rooms, "payload": body}


def staff_projection(type_: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What the staff room sees of an event: station events without what only the station needs (a print job's
    document); everything else as it is."""
    fields = STATION_EVENT_STAFF_FIELDS.get(type_) if audience_of(type_) is Audience.STATION else None
    if fields is None:
        return payload
    return {k: payload[k] for k in (*fields, "seq", "at") if k in payload}


def deliveries(event: dict[str, Any]) -> list[tuple[list[str], dict[str, Any]]]:
    """(rooms, payload) pairs to emit: a station event goes whole to its station, redacted to staff."""
    if audience_of(event["type"]) is not Audience.STATION:
        return [(event["rooms"], event["payload"])]
    station = [r for r in event["rooms"] if r.startswith("station:")]
    others = [r for r in event["rooms"] if not r.startswith("station:")]
    out = [(station, event["payload"])] if station else []
    if others:
        out.append((others, staff_projection(event["type"], event["payload"])))
    return out


def current_seq(conn: Connection, hall_id: str) -> int:
    head = hall_head(conn, hall_id)
    if head is not None:
        return head.seq
    return conn.execute(select(halls.c.event_seq).where(halls.c.id == hall_id)).scalar_one()


def events_since(
    conn: Connection, hall_id: str, after_seq: int, rooms: set[str], limit: int = 1000
) -> tuple[list[dict], bool, int]:
    """Events after ``after_seq`` that went to any of ``rooms``, in order, each in the form those rooms see;
    True when ``limit`` cut the list; and the last sequence number looked at (where the next page starts: a
    room that sees few events may get an empty page that is not the end)."""
    rows = conn.execute(
        select(events.c.seq, events.c.type, events.c.rooms, events.c.payload)
        .where(events.c.hall_id == hall_id, events.c.seq > after_seq)
        .order_by(events.c.seq)
        .limit(limit + 1)
    ).all()
    found = []
    for r in rows[:limit]:
        shared = rooms.intersection(r.rooms)
        if not shared:
            continue
        whole = audience_of(r.type) is not Audience.STATION or any(x.startswith("station:") for x in shared)
        payload = r.payload if whole else staff_projection(r.type, r.payload)
        found.append({"type": r.type, "seq": r.seq, "rooms": sorted(shared), "payload": payload})
    truncated = len(rows) > limit
    return found, truncated, rows[limit - 1].seq if truncated and limit > 0 else after_seq


@contextmanager
def hall_write(ctx: HallContext) -> Iterator[tuple[Connection, list[dict[str, Any]]]]:
    """A use case's transaction and the list its events go into; they are published after the commit, in
    sequence order with every other writer of the hall (see ``store.db.write_tx``)."""
    published: list[dict[str, Any]] = []
    with write_tx(ctx.engine, ctx.hall_id, after_commit=lambda: _publish(ctx, published)) as conn:
        yield conn, published
        recovery = storage_health.recovery_payload(ctx)  # the first write after a storage fault records it
        if recovery is not None:
            published.append(append_event(conn, ctx.hall_id, storage_health.EVENT, recovery, [], ctx.now()))


def _publish(ctx: HallContext, published: list[dict[str, Any]]) -> None:
    ctx.publisher.publish(published)
    if any(ev["type"] == storage_health.EVENT for ev in published):
        storage_health.recovered(ctx)
