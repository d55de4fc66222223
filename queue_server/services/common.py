"""Helpers the use cases share: day roll-over inside a transaction, ticket views, stats, transitions."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, exists, func, literal, or_, select, union_all, update

from ..domain.calling import Candidate
from ..domain.errors import NotFound
from ..domain.estimate import estimate_wait
from ..domain.hall import PriorityClass
from ..domain.tickets import OPEN_STATUSES, TicketStatus
from ..store.db import hall_head, write_head
from ..store.hot import HotStatement, fixed_limit
from ..store.schema import TICKET_WAITING, halls, queue_waiting, ticket_transitions, tickets, window_states
from .context import SYSTEM, Actor, HallContext
from .events import append_event

ROLLOVER_REASON = "服务日结束，未办结的号自动关闭 / service day ended"

# Statements on the hot paths (issue, call) are built once with bound parameters: building a SQLAlchemy statement
# per request cost more CPU than running it. Parameter names avoid column names (reserved in INSERT/UPDATE).
_TRANSITION_INSERT = HotStatement(ticket_transitions.insert(), column_keys=(
    "ticket_id", "at", "action", "from_status", "to_status", "window_id", "queue_id", "actor", "detail"))
_SERVICE_DAY = select(halls.c.service_day).where(halls.c.id == bindparam("b_hall"))
_GET_TICKET_SELECT = select(tickets).where(tickets.c.id == bindparam("b_id"), tickets.c.hall_id == bindparam("b_hall"))
_GET_TICKET = HotStatement(_GET_TICKET_SELECT)
_GET_TICKET_LOCKED = HotStatement(_GET_TICKET_SELECT.with_for_update())
OPEN_WINDOWS_SELECT = select(window_states.c.window_id).where(
    window_states.c.hall_id == bindparam("b_hall"), window_states.c.status == "open")
_OPEN_WINDOWS = HotStatement(OPEN_WINDOWS_SELECT)


def day_str(day: date) -> str:
    return day.isoformat()


def record_transition(
    conn: Connection,
    ticket_id: int,
    at: datetime,
    action: str,
    from_status: str | None,
    to_status: str,
    actor: Actor,
    window_id: str | None = None,
    queue_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    row = {"ticket_id": ticket_id, "at": at, "action": action, "from_status": from_status, "to_status": to_status,
           "window_id": window_id, "queue_id": queue_id, "actor": str(actor), "detail": detail}
    head = write_head(conn)
    if head is not None:  # inside a hall write: stored with its events in one statement at the end
        head.transitions.append(row)
    else:
        _TRANSITION_INSERT.all(conn, row)


def ensure_service_day(conn: Connection, ctx: HallContext, out: list[dict]) -> str:
    """Roll the hall over to today's service day if it has not been yet; return today's day string.

    Yesterday's open tickets are closed with a reason and windows reset; numbering is per day so nothing carries.
    """
    now = ctx.now()
    today = day_str(ctx.today(now))
    head = hall_head(conn, ctx.hall_id)
    last = head.service_day if head is not None else conn.execute(_SERVICE_DAY, {"b_hall": ctx.hall_id}).scalar_one()
    if last == today:
        return today
    stale = conn.execute(
        select(tickets.c.id, tickets.c.status, tickets.c.queue_id).where(
            tickets.c.hall_id == ctx.hall_id,
            tickets.c.service_day < today,
            tickets.c.status.in_([s.value for s in OPEN_STATUSES]),
        )
    ).all()
    for t in stale:
        record_transition(conn, t.id, now, "close", t.status, TicketStatus.CLOSED, SYSTEM, queue_id=t.queue_id,
                          detail={"reason": ROLLOVER_REASON})
    if stale:
        conn.execute(
            update(tickets)
            .where(tickets.c.id.in_([t.id for t in stale]))
            .values(status=TicketStatus.CLOSED.value, close_reason=ROLLOVER_REASON, finished_at=now)
        )
    conn.execute(
        update(window_states)
        .where(window_states.c.hall_id == ctx.hall_id)
        .values(status="closed", current_ticket_id=None, priority_streak=0, pause_reason=None, service_day=today,
                updated_at=now)
    )
    conn.execute(update(halls).where(halls.c.id == ctx.hall_id).values(service_day=today))
    if head is not None:
        head.service_day = today
    out.append(
        append_event(conn, ctx.hall_id, "day_rolled_over", {"service_day": today, "previous": last,
                                                            "closed_tickets": len(stale)}, [], now)
    )
    return today


def get_ticket(conn: Connection, ctx: HallContext, ticket_id: int, *, lock: bool = False) -> Row:
    q = _GET_TICKET_LOCKED if lock and conn.dialect.name == "postgresql" else _GET_TICKET
    row = q.first(conn, {"b_id": ticket_id, "b_hall": ctx.hall_id})
    if row is None:
        raise NotFound(f"ticket {ticket_id} does not exist", code="ticket_not_found")
    return row


def window_number(ctx: HallContext, window_id: str | None) -> int | None:
    if window_id is None:
        return None
    try:
        return ctx.config.window(window_id).number
    except KeyError:
        return None


def public_ticket(ctx: HallContext, t: Row) -> dict[str, Any]:
    """What any screen may show about a ticket: no personal data."""
    queue = ctx.config.queue(t.queue_id)
    return {
        "id": t.id,
        "number": t.number,
        "queue_id": t.queue_id,
        "queue_name": queue.name.zh,
        "zone_id": queue.zone,
        "item_id": t.item_id,
        "status": t.status,
        "priority": t.priority,
        "window_id": t.window_id,
        "window_number": window_number(ctx, t.window_id),
        "target_window": t.target_window,
        "recalls": t.recalls,
        "service_day": t.service_day,
        "issued_at": t.issued_at.isoformat(),
        "called_at": t.called_at.isoformat() if t.called_at else None,
    }


_CANDIDATE_COLUMNS = (tickets.c.id, tickets.c.queue_id, tickets.c.priority, tickets.c.position, tickets.c.issued_at,
                      tickets.c.target_window)


def _candidate(r: Row) -> Candidate:
    return Candidate(r.id, r.queue_id, PriorityClass(r.priority), r.position, r.issued_at, r.target_window)


def candidates(conn: Connection, ctx: HallContext, day: str, queue_ids: list[str]) -> list[Candidate]:
    """Every waiting ticket of the queues (for a policy that needs the whole line, and for rankings)."""
    rows = conn.execute(
        select(*_CANDIDATE_COLUMNS).where(
            tickets.c.hall_id == ctx.hall_id,
            tickets.c.service_day == day,
            TICKET_WAITING,
            tickets.c.queue_id.in_(queue_ids),
        )
    ).all()
    return [_candidate(r) for r in rows]


def call_candidates(conn: Connection, ctx: HallContext, day: str, window_id: str, queue_ids: list[str],
                    rows: dict[int, Row] | None = None) -> list[Candidate]:
    """The waiting tickets a window's calling policy chooses among, read with bounded SQL when the policy allows;
    with ``rows``, their whole ticket rows by id as well (heads only).

    ``DefaultCallingPolicy`` only ever picks the head of a (queue, priority class) line (FIFO by position inside a
    class, weights across queues) or, with the long-wait rule, the eligible ticket issued first. So one indexed
    ``LIMIT 1`` per (queue, class), plus one per queue by issue time, gives it the same choice as the whole line:
    a call costs the same with 10 or 10,000 people waiting (``ix_tickets_heads`` / ``ix_tickets_waited``).
    """
    if not getattr(ctx.policy, "picks_from_heads", False):
        return candidates(conn, ctx, day, queue_ids)
    if not queue_ids:
        return []
    stmt = _heads_statement(tuple(queue_ids), bool(getattr(ctx.policy, "uses_issue_time", False)))
    seen: dict[int, Candidate] = {}
    for r in stmt.all(conn, {"b_hall": ctx.hall_id, "b_day": day, "b_window": window_id}):
        if r.id not in seen:
            seen[r.id] = _candidate(r)
            if rows is not None:
                rows[r.id] = r
    return list(seen.values())


@lru_cache(maxsize=256)
def _heads_statement(queue_ids: tuple[str, ...], by_issue_time: bool) -> HotStatement:
    mine = or_(tickets.c.target_window.is_(None), tickets.c.target_window == bindparam("b_window"))

    def waiting_in(queue_id: str) -> Any:
        # Whole rows: the one chosen is called without reading it again (a heads read is at most a few rows).
        return select(tickets).where(
            tickets.c.hall_id == bindparam("b_hall"), tickets.c.service_day == bindparam("b_day"),
            TICKET_WAITING, tickets.c.queue_id == queue_id, mine)

    parts = [
        waiting_in(q).where(tickets.c.priority == p.value).order_by(tickets.c.position, tickets.c.id)
        .limit(fixed_limit(1))
        for q in queue_ids for p in PriorityClass
    ]
    if by_issue_time:
        parts += [waiting_in(q).order_by(tickets.c.issued_at, tickets.c.id).limit(fixed_limit(1)) for q in queue_ids]
    return HotStatement(union_all(*[part.subquery().select() for part in parts]))


def open_window_weights(conn: Connection, ctx: HallContext) -> list[dict[str, int]]:
    """Queue weights of every window that is open and not paused."""
    return weights_of_open(ctx, {r.window_id for r in _OPEN_WINDOWS.all(conn, {"b_hall": ctx.hall_id})})


def weights_of_open(ctx: HallContext, open_ids: set[str]) -> list[dict[str, int]]:
    return [{wq.queue: wq.weight for wq in w.queues} for w in ctx.config.windows if w.id in open_ids]


# A queue's last services of the day (``b_hall``, ``b_day``, ``b_queue``), the latest first.
RECENT_SERVICE_SELECT = (
    select(tickets.c.started_at, tickets.c.finished_at)
    .where(
        tickets.c.hall_id == bindparam("b_hall"),
        tickets.c.service_day == bindparam("b_day"),
        tickets.c.queue_id == bindparam("b_queue"),
        tickets.c.finished_at.is_not(None),
        tickets.c.status == TicketStatus.DONE.value,
        tickets.c.started_at.is_not(None),
    )
    .order_by(tickets.c.finished_at.desc())
    .limit(fixed_limit(20))
)
_RECENT_SERVICE = HotStatement(RECENT_SERVICE_SELECT)


def recent_service_seconds(conn: Connection, ctx: HallContext, day: str, queue_id: str) -> list[float]:
    rows = _RECENT_SERVICE.all(conn, {"b_hall": ctx.hall_id, "b_day": day, "b_queue": queue_id})
    return service_seconds(rows)


def service_seconds(rows: list[Any]) -> list[float]:
    """Service times in seconds, oldest first, of rows with ``started_at`` and ``finished_at``."""
    return [(r.finished_at - r.started_at).total_seconds() for r in sorted(rows, key=lambda r: r.finished_at)]


def _waiting_in(queue_id: str) -> Any:
    return and_(tickets.c.hall_id == bindparam("b_hall"), tickets.c.service_day == bindparam("b_day"),
                TICKET_WAITING, tickets.c.queue_id == queue_id)


@lru_cache(maxsize=256)
def _stats_statements(ids: tuple[str, ...]) -> tuple[HotStatement, HotStatement]:
    """The waiting counts and the last number called of these queues: built once per set of queues (the alert watch
    asks for every queue twice a second; building the union afresh cost more than running it)."""
    # From the per-line counts the triggers keep (store.schema.queue_waiting): a few rows whatever the queue length.
    counts = select(queue_waiting.c.queue_id, func.sum(queue_waiting.c.waiting)).where(
        queue_waiting.c.hall_id == bindparam("b_hall"), queue_waiting.c.service_day == bindparam("b_day"),
        queue_waiting.c.queue_id.in_([bindparam(f"q{i}", q) for i, q in enumerate(ids)])
    ).group_by(queue_waiting.c.queue_id)
    last = union_all(*[
        select(literal(q).label("q"), tickets.c.number).where(
            tickets.c.hall_id == bindparam("b_hall"), tickets.c.service_day == bindparam("b_day"),
            tickets.c.queue_id == q, tickets.c.called_at.is_not(None))
        .order_by(tickets.c.called_at.desc()).limit(fixed_limit(1)).subquery().select()
        for q in ids])
    return HotStatement(counts), HotStatement(last)


@lru_cache(maxsize=256)
def _busy_statement(sharing: tuple[str, ...]) -> HotStatement:
    """Which of these queues have anyone waiting (one index probe each)."""
    return HotStatement(union_all(*[select(literal(q).label("q")).where(exists().where(_waiting_in(q)))
                                    for q in sharing]))


def queue_stats(conn: Connection, ctx: HallContext, day: str, queue_ids: list[str] | None = None) -> list[dict]:
    """Waiting counts and the estimated wait for someone taking a ticket now, per queue.

    Every read is per queue and indexed: the counts of the queues asked for, whether the queues sharing their open
    windows have anyone waiting (one index probe each), the last number called (``ix_tickets_called``) and the
    recent service times (``ix_tickets_finished``)."""
    ids = list(dict.fromkeys(queue_ids or [q.id for q in ctx.config.queues]))
    where = {"b_hall": ctx.hall_id, "b_day": day}
    count_stmt, last_stmt = _stats_statements(tuple(ids))
    counts: dict[str, int] = {q: int(n) for q, n in count_stmt.all(conn, where)}
    windows = open_window_weights(conn, ctx)
    # Whether a queue that shares a window with one of ours has people waiting changes our share of that window.
    sharing = sorted({q for w in windows if any(i in w for i in ids) for q in w} - set(ids))
    busy = {q for q, n in counts.items() if n}
    if sharing:
        busy.update(r[0] for r in _busy_statement(tuple(sharing)).all(conn, where))
    last_called: dict[str, Any] = dict(last_stmt.all(conn, where))
    out = []
    for qid in ids:
        queue = ctx.config.queue(qid)
        waiting = counts.get(qid, 0)
        est = estimate_wait(waiting, recent_service_seconds(conn, ctx, day, qid), queue.default_service_min,
                            windows, qid, busy)
        out.append(
            {
                "queue_id": qid,
                "name": queue.name.zh,
                "zone_id": queue.zone,
                "waiting": waiting,
                "estimated_wait_min": est.minutes,
                "open_capacity": est.capacity,
                "last_called": last_called.get(qid),
            }
        )
    return out
