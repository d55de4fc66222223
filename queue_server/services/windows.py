"""Use cases at a window: call next or a chosen ticket, recall, start, finish, no-show, hold and call back,
transfer, pause and resume, open and close for the day. Each is one transaction, then its events.
What a window shows without changing anything is in `window_views.py`."""

from __future__ import annotations

import sys
from collections import namedtuple
from datetime import timedelta
from functools import lru_cache
from types import TracebackType
from typing import Any, Literal

from sqlalchemy import Connection, Row, bindparam, func, select, true, update

from ..domain.calling import WindowState
from ..domain.errors import DomainError, InvalidTransition, NotFound
from ..domain.tickets import Action, TicketStatus, next_status
from ..store.db import write_tx
from ..store.hot import HotStatement
from ..store.schema import TICKET_WAITING, tickets, window_states
from .common import (
    call_candidates,
    ensure_service_day,
    get_ticket,
    public_ticket,
    record_transition,
)
from .context import Actor, HallContext
from .events import append_event
from .stats import queues_changed
from .window_views import find_window as _window
from .window_views import window_view

# Built once and run on the DBAPI cursor (see store.hot): every window action runs these.
_STATE = HotStatement(select(window_states).where(window_states.c.hall_id == bindparam("b_hall"),
                                                  window_states.c.window_id == bindparam("b_window")))
# The window's state and the ticket it names, in one statement (one round trip on PostgreSQL instead of two). No
# row lock on the ticket: every writer of tickets holds the hall (store.db.write_tx), and each move's UPDATE is
# conditional on the status it read.
_STATE_AND_CURRENT_SELECT = (
    select(*window_states.c, *[c.label(f"t_{c.name}") for c in tickets.c])
    .select_from(window_states.outerjoin(tickets, (tickets.c.id == window_states.c.current_ticket_id)
                                         & (tickets.c.hall_id == window_states.c.hall_id)))
    .where(window_states.c.hall_id == bindparam("b_hall"), window_states.c.window_id == bindparam("b_window")))
_STATE_AND_CURRENT = HotStatement(_STATE_AND_CURRENT_SELECT)
_StateRow = namedtuple("_StateRow", [c.name for c in window_states.c])  # type: ignore[misc]
_TicketRow = namedtuple("_TicketRow", [c.name for c in tickets.c])  # type: ignore[misc]
_SERVED_SELECT = select(tickets.c.queue_id.label("served_queue"), func.count().label("served")).where(
    tickets.c.hall_id == bindparam("b_hall"), tickets.c.service_day == bindparam("b_day"),
    tickets.c.window_id == bindparam("b_window"), tickets.c.called_at.is_not(None)).group_by(tickets.c.queue_id)
_SERVED = HotStatement(_SERVED_SELECT)
# For call-next, which weighs the window's calls today per queue: the same row once per queue it has called from
# (still one round trip on PostgreSQL).
_served = _SERVED_SELECT.subquery("served")
_STATE_CURRENT_AND_SERVED = HotStatement(
    _STATE_AND_CURRENT_SELECT.add_columns(_served.c.served_queue, _served.c.served)
    .outerjoin_from(window_states, _served, true()))


def _state(conn: Connection, ctx: HallContext, window_id: str, day: str,
           served: dict[str, int] | None = None) -> tuple[Any, Any | None]:
    """The window's state row (made, closed, on its first use) and its current ticket's row, if it names one;
    with ``served``, filled with the window's calls today per queue as well."""
    params = {"b_hall": ctx.hall_id, "b_window": window_id}
    if served is None:
        rows = [_STATE_AND_CURRENT.first(conn, params)]
    else:
        rows = _STATE_CURRENT_AND_SERVED.all(conn, {**params, "b_day": day})
        served.update((r.served_queue, r.served) for r in rows if r.served_queue is not None)
    row = rows[0] if rows else None
    if row is None:
        conn.execute(window_states.insert().values(hall_id=ctx.hall_id, window_id=window_id, status="closed",
                                                   service_day=day, priority_streak=0))
        if served is not None:
            served.update(_SERVED.all(conn, {**params, "b_day": day}))
        return _STATE.one(conn, params), None  # inserted just above, in this transaction
    n = len(_StateRow._fields)
    current = _TicketRow._make(row[n:n + len(_TicketRow._fields)]) if row[n] is not None else None
    return _StateRow._make(row[:n]), current


@lru_cache(maxsize=64)
def _set_window_statement(keys: tuple[str, ...]) -> HotStatement:
    return HotStatement(update(window_states)
                        .where(window_states.c.hall_id == bindparam("b_hall"),
                               window_states.c.window_id == bindparam("b_window"))
                        .values({k: bindparam(f"v_{k}") for k in keys})
                        .returning(*window_states.c))


@lru_cache(maxsize=64)
def _move_statement(keys: tuple[str, ...]) -> HotStatement:
    return HotStatement(update(tickets)
                        .where(tickets.c.id == bindparam("b_id"), tickets.c.status == bindparam("b_status"))
                        .values({k: bindparam(f"v_{k}") for k in keys})
                        .returning(*tickets.c))


def _set_window(conn: Connection, ctx: HallContext, window_id: str, actor: Actor, **values: Any) -> Row | None:
    """Update the window's state; returns the new state row."""
    values = {"actor": str(actor), "updated_at": ctx.now(), **values}
    keys = tuple(sorted(values))
    params = {f"v_{k}": values[k] for k in keys}
    return _set_window_statement(keys).first(conn, {"b_hall": ctx.hall_id, "b_window": window_id, **params})


class _Action:
    """The shared frame of a window use case: transaction, day roll-over, window state, then events."""

    def __init__(self, ctx: HallContext, window_id: str, actor: Actor, served: bool = False) -> None:
        self.ctx = ctx
        self.window = _window(ctx, window_id)
        self.actor = actor
        self.published: list[dict] = []
        self.now = ctx.now()
        self._rows: dict[int, Row] = {}  # tickets as this transaction last read or wrote them
        # The window's calls today per queue, read with its state when asked for (call-next weighs them).
        self.served: dict[str, int] | None = {} if served else None

    def __enter__(self) -> _Action:
        self._tx = write_tx(self.ctx.engine, self.ctx.hall_id,
                            after_commit=lambda: self.ctx.publisher.publish(self.published))
        self.conn = self._tx.__enter__()
        try:
            self.day = ensure_service_day(self.conn, self.ctx, self.published)
            self.state, current = _state(self.conn, self.ctx, self.window.id, self.day, self.served)
            if current is not None:
                self._rows[current.id] = current
        except BaseException:
            if not self._tx.__exit__(*sys.exc_info()):
                raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._tx.__exit__(exc_type, exc, tb)

    @property
    def rooms(self) -> list[str]:
        return [f"zone:{self.window.zone}", f"window:{self.window.id}"]

    def require_serving_window(self, auto_open: bool = False) -> None:
        status = self.state.status
        if status == "closed" and auto_open:
            self.set_window(status="open", service_day=self.day)
            self.emit_window_state()
            return
        if status == "paused":
            raise InvalidTransition(f"window {self.window.number} is paused (暂停服务); resume it first",
                                    code="window_paused")
        if status == "closed_for_day":
            raise InvalidTransition(f"window {self.window.number} has closed for the day", code="window_closed")
        if status == "closed":
            raise InvalidTransition(f"window {self.window.number} is not open; open it first", code="window_closed")

    def set_window(self, **values: Any) -> None:
        state = _set_window(self.conn, self.ctx, self.window.id, self.actor, **values)
        if state is not None:
            self.state = state

    def current(self) -> Row:
        """The ticket being served, or InvalidTransition saying to call one first."""
        t = self.current_or_none()
        if t is None:
            raise InvalidTransition(f"window {self.window.number} has no current ticket; call one first",
                                    code="no_current_ticket")
        return t

    def current_or_none(self) -> Row | None:
        tid = self.state.current_ticket_id
        if tid is None:
            return None
        return self.ticket(tid)  # read with the state (a dangling id: NotFound, as before)

    def ticket(self, ticket_id: int) -> Row:
        row = self._rows.get(ticket_id)
        if row is None:
            row = self._rows[ticket_id] = get_ticket(self.conn, self.ctx, ticket_id)
        return row

    def move(self, t: Row, action: Action, values: dict[str, Any], detail: dict | None = None) -> Row:
        to = next_status(action, TicketStatus(t.status), t.number)
        changes = {"status": to.value, **values}
        keys = tuple(sorted(changes))
        row = _move_statement(keys).first(self.conn, {"b_id": t.id, "b_status": t.status,
                                                      **{f"v_{k}": changes[k] for k in keys}})
        if row is None:  # somebody else moved it first; never act on a stale ticket
            raise InvalidTransition(f"ticket {t.number} changed meanwhile; refresh and try again", code="conflict")
        record_transition(self.conn, t.id, self.now, action.value, t.status, to, self.actor,
                          window_id=self.window.id, queue_id=values.get("queue_id", t.queue_id), detail=detail)
        self._rows[row.id] = row
        return row

    def emit(self, type_: str, t: Row, extra: dict | None = None, rooms: list[str] | None = None) -> None:
        queue = self.ctx.config.queue(t.queue_id)
        payload = {**public_ticket(self.ctx, t), "window_number": self.window.number, "window_name":
                   self.window.name.zh, **(extra or {})}
        all_rooms = [*self.rooms, f"zone:{queue.zone}", f"queue:{t.queue_id}", f"ticket:{t.id}", *(rooms or [])]
        self.published.append(append_event(self.conn, self.ctx.hall_id, type_, payload,
                                           list(dict.fromkeys(all_rooms)), self.now))

    def emit_window_state(self) -> None:
        state = self.state
        cur = self.ticket(state.current_ticket_id) if state.current_ticket_id else None
        self.published.append(append_event(self.conn, self.ctx.hall_id, "window_state",
                                           window_view(self.ctx, self.window, state, cur), self.rooms, self.now))

    def emit_stats(self, queue_ids: list[str]) -> None:
        ids = list(dict.fromkeys(queue_ids))
        rooms = [*self.rooms, *[f"queue:{q}" for q in ids]]
        queues_changed(self.conn, self.ctx, self.day, ids, rooms, self.now, self.published)

    def result(self, t: Row | None) -> dict[str, Any]:
        state = self.state
        cur = self.ticket(state.current_ticket_id) if state.current_ticket_id else None
        out = window_view(self.ctx, self.window, state, cur)
        out["ticket"] = public_ticket(self.ctx, t) if t is not None else None
        return out


def call_text(number: str, window_number: int) -> str:
    return f"请 {number} 号到 {window_number} 号窗口办理"


def _finish_current_for_next(a: _Action, clear: bool = True) -> bool:
    """Calling the next visitor ends the one being served; a called one must be dealt with first. True when one
    was finished; with ``clear=False`` the window still names it (the caller sets the next one in one update)."""
    cur = a.current_or_none()
    if cur is None:
        return False
    if cur.status == TicketStatus.SERVING.value:
        a.emit("ticket_finished", a.move(cur, Action.FINISH, {"finished_at": a.now}))
        if clear:
            a.set_window(current_ticket_id=None)
        return True
    raise InvalidTransition(
        f"window {a.window.number} has called {cur.number} and not started; start, recall, hold or mark it "
        "no-show first", code="current_ticket_pending", details={"current": cur.number})


def _do_call(a: _Action, t: Row, rule: str, streak: int | None) -> Row:
    t = a.move(t, Action.CALL, {"window_id": a.window.id, "called_at": a.now, "target_window": None},
               detail={"rule": rule})
    values: dict[str, Any] = {"current_ticket_id": t.id}
    if streak is not None:
        values["priority_streak"] = streak
    a.set_window(**values)
    a.emit("ticket_called", t, {"call_text": call_text(t.number, a.window.number), "rule": rule})
    a.emit_window_state()
    a.emit_stats([t.queue_id])
    return t


def call_next(ctx: HallContext, window_id: str, actor: Actor) -> dict[str, Any]:
    with _Action(ctx, window_id, actor, served=True) as a:
        a.require_serving_window(auto_open=True)
        finished = _finish_current_for_next(a, clear=False)  # (a finish leaves the served counts as they are)
        weights = {wq.queue: wq.weight for wq in a.window.queues}
        state = WindowState(a.window.id, weights, a.state.priority_streak, dict(a.served or {}))
        rows: dict[int, Row] = {}
        choice = ctx.policy.choose(call_candidates(a.conn, ctx, a.day, a.window.id, list(weights), rows), state,
                                   a.now)
        if choice is None:
            if finished:
                a.set_window(current_ticket_id=None)
            out = a.result(None)
            out["message"] = "当前无人等候 / nobody is waiting"
            return out
        # The heads query read the whole row (no second read); the move's UPDATE … WHERE status = 'waiting' is
        # what guarantees nobody else called it meanwhile.
        t = rows.get(choice.candidate.ticket_id) or get_ticket(a.conn, ctx, choice.candidate.ticket_id, lock=True)
        t = _do_call(a, t, choice.rule, choice.priority_streak)
        return a.result(t)


def call_ticket(ctx: HallContext, window_id: str, ticket_id: int, actor: Actor) -> dict[str, Any]:
    """Call a chosen waiting ticket (e.g. a visitor the clerk knows is here), skipping the policy."""
    with _Action(ctx, window_id, actor) as a:
        a.require_serving_window(auto_open=True)
        t = get_ticket(a.conn, ctx, ticket_id, lock=True)
        served = {wq.queue for wq in a.window.queues}
        if t.queue_id not in served:
            raise InvalidTransition(f"window {a.window.number} does not serve queue {t.queue_id}; transfer the "
                                    "ticket first", code="queue_not_served")
        if t.target_window not in (None, a.window.id):
            raise InvalidTransition(f"ticket {t.number} was transferred to another window", code="other_window")
        if t.service_day != a.day:
            raise InvalidTransition(f"ticket {t.number} belongs to service day {t.service_day}", code="stale_ticket")
        next_status(Action.CALL, TicketStatus(t.status), t.number)
        _finish_current_for_next(a)
        return a.result(_do_call(a, t, "chosen", None))


def recall(ctx: HallContext, window_id: str, actor: Actor) -> dict[str, Any]:
    with _Action(ctx, window_id, actor) as a:
        a.require_serving_window()
        t = a.current()
        limit = ctx.config.calling.max_recalls
        if t.recalls >= limit:
            raise InvalidTransition(f"ticket {t.number} has been recalled {limit} times (the limit); mark it "
                                    "no-show or start", code="recall_limit")
        t = a.move(t, Action.RECALL, {"recalls": t.recalls + 1})
        a.emit("ticket_recalled", t, {"call_text": call_text(t.number, a.window.number)})
        return a.result(t)


def start(ctx: HallContext, window_id: str, actor: Actor) -> dict[str, Any]:
    with _Action(ctx, window_id, actor) as a:
        t = a.move(a.current(), Action.START, {"started_at": a.now})
        a.emit("ticket_started", t)
        a.emit_window_state()
        return a.result(t)


def finish(ctx: HallContext, window_id: str, actor: Actor) -> dict[str, Any]:
    with _Action(ctx, window_id, actor) as a:
        t = a.move(a.current(), Action.FINISH, {"finished_at": a.now})
        a.set_window(current_ticket_id=None)
        a.emit("ticket_finished", t)
        a.emit_window_state()
        a.emit_stats([t.queue_id])
        return a.result(t)


def no_show(ctx: HallContext, window_id: str, actor: Actor) -> dict[str, Any]:
    with _Action(ctx, window_id, actor) as a:
        t = a.move(a.current(), Action.NO_SHOW, {"finished_at": a.now})
        a.set_window(current_ticket_id=None)
        a.emit("ticket_no_show", t)
        a.emit_window_state()
        return a.result(t)


def hold(ctx: HallContext, window_id: str, actor: Actor, reason: str | None = None) -> dict[str, Any]:
    with _Action(ctx, window_id, actor) as a:
        t = a.move(a.current(), Action.HOLD, {}, detail={"reason": reason} if reason else None)
        a.set_window(current_ticket_id=None)
        a.emit("ticket_held", t)
        a.emit_window_state()
        return a.result(t)


def call_back(ctx: HallContext, window_id: str, ticket_id: int, actor: Actor) -> dict[str, Any]:
    with _Action(ctx, window_id, actor) as a:
        a.require_serving_window()
        t = get_ticket(a.conn, ctx, ticket_id, lock=True)
        if t.status == TicketStatus.HELD.value and t.window_id != a.window.id:
            raise InvalidTransition(f"ticket {t.number} is held by window {t.window_id}", code="other_window")
        next_status(Action.CALL_BACK, TicketStatus(t.status), t.number)
        if a.state.current_ticket_id is not None:
            raise InvalidTransition(f"window {a.window.number} already has a current ticket; finish or hold it "
                                    "first", code="current_ticket_pending")
        t = a.move(t, Action.CALL_BACK, {"called_at": a.now})
        a.set_window(current_ticket_id=t.id)
        a.emit("ticket_called", t, {"call_text": call_text(t.number, a.window.number), "rule": "call_back"})
        a.emit_window_state()
        return a.result(t)


def transfer(
    ctx: HallContext,
    window_id: str,
    actor: Actor,
    *,
    ticket_id: int | None = None,
    to_queue: str | None = None,
    to_window: str | None = None,
    position: Literal["front", "back", "original"] = "back",
) -> dict[str, Any]:
    """Send the current (or a held) ticket to another queue or window, placed at the front, the back, or by
    its original issue time."""
    if to_queue is None and to_window is None:
        raise DomainError("name to_queue or to_window", code="transfer_target_required", details={})
    with _Action(ctx, window_id, actor) as a:
        t = get_ticket(a.conn, ctx, ticket_id, lock=True) if ticket_id is not None else a.current()
        if ticket_id is not None and t.id != a.state.current_ticket_id and not (
            t.status == TicketStatus.HELD.value and t.window_id == a.window.id
        ):
            raise InvalidTransition(f"ticket {t.number} is not at window {a.window.number}", code="other_window")
        target_window = _window(ctx, to_window) if to_window else None
        queue_id = to_queue or t.queue_id
        try:
            ctx.config.queue(queue_id)
        except KeyError:
            raise NotFound(f"queue {queue_id!r} does not exist", code="queue_not_found") from None
        if target_window is not None and queue_id not in {wq.queue for wq in target_window.queues}:
            if to_queue is None:
                queue_id = target_window.queues[0].queue
            else:
                raise InvalidTransition(f"window {target_window.number} does not serve queue {queue_id}",
                                        code="queue_not_served")
        if position == "original":
            pos = t.issued_at
        elif position == "front":
            earliest = a.conn.execute(
                select(func.min(tickets.c.position)).where(
                    tickets.c.hall_id == ctx.hall_id, tickets.c.service_day == a.day, tickets.c.queue_id == queue_id,
                    TICKET_WAITING)
            ).scalar()
            pos = min(earliest - timedelta(milliseconds=1), a.now) if earliest else a.now
        else:
            pos = a.now
        was_current = t.id == a.state.current_ticket_id
        old_queue = t.queue_id
        t = a.move(t, Action.TRANSFER, {"queue_id": queue_id, "position": pos, "window_id": None,
                                        "target_window": target_window.id if target_window else None},
                   detail={"from_queue": old_queue, "to_queue": queue_id, "to_window": to_window,
                           "position": position})
        if was_current:
            a.set_window(current_ticket_id=None)
        extra_rooms = [f"window:{target_window.id}"] if target_window else []
        a.emit("ticket_transferred", t, {"from_queue": old_queue, "to_window_number":
                                         target_window.number if target_window else None}, extra_rooms)
        a.emit_window_state()
        a.emit_stats([old_queue, queue_id])
        return a.result(t)


def open_window(ctx: HallContext, window_id: str, actor: Actor) -> dict[str, Any]:
    with _Action(ctx, window_id, actor) as a:
        if a.state.status == "open":
            return a.result(None)
        if a.state.status == "paused":
            raise InvalidTransition("the window is paused; resume it", code="window_paused")
        a.set_window(status="open", service_day=a.day, pause_reason=None)
        a.emit_window_state()
        a.emit_stats([wq.queue for wq in a.window.queues])
        return a.result(None)


def pause(ctx: HallContext, window_id: str, actor: Actor, reason: str | None = None) -> dict[str, Any]:
    with _Action(ctx, window_id, actor) as a:
        if a.state.status != "open":
            raise InvalidTransition(f"only an open window can pause; window {a.window.number} is "
                                    f"{a.state.status}", code="window_not_open")
        cur = a.current_or_none()
        if cur is not None and cur.status == TicketStatus.CALLED.value:
            raise InvalidTransition(f"{cur.number} has been called; start, hold or mark it no-show before pausing",
                                    code="current_ticket_pending")
        a.set_window(status="paused", pause_reason=reason)
        a.emit_window_state()
        a.emit_stats([wq.queue for wq in a.window.queues])
        return a.result(None)


def resume(ctx: HallContext, window_id: str, actor: Actor) -> dict[str, Any]:
    with _Action(ctx, window_id, actor) as a:
        if a.state.status != "paused":
            raise InvalidTransition(f"window {a.window.number} is not paused", code="window_not_paused")
        a.set_window(status="open", pause_reason=None)
        a.emit_window_state()
        a.emit_stats([wq.queue for wq in a.window.queues])
        return a.result(None)


def close_for_day(ctx: HallContext, window_id: str, actor: Actor) -> dict[str, Any]:
    with _Action(ctx, window_id, actor) as a:
        cur = a.current_or_none()
        if cur is not None:
            raise InvalidTransition(f"finish, hold or transfer {cur.number} before closing", code="current_ticket_pending")
        a.set_window(status="closed_for_day", pause_reason=None)
        a.emit_window_state()
        a.emit_stats([wq.queue for wq in a.window.queues])
        return a.result(None)
