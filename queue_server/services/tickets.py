"""Use cases of a ticket outside a window: issue, look up, track, re-queue after 过号, cancel."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    tuple_,
    union_all,
    update,
)

from ..domain.calling import people_ahead
from ..domain.errors import CapReached, Closed, DomainError, InvalidInput, InvalidTransition, NotFound
from ..domain.estimate import estimate_wait
from ..domain.hall import PriorityClass, format_number
from ..domain.hours import issuing_status
from ..domain.priority import classify
from ..domain.privacy import birth_date_of, mask_name, validate_id_number
from ..domain.tickets import Action, TicketStatus, next_status
from ..store.db import read_tx
from ..store.hot import HotStatement
from ..store.schema import (
    TICKET_WAITING,
    day_counters,
    device_inputs,
    idempotency_keys,
    queue_waiting,
    tickets,
)
from .common import (
    OPEN_WINDOWS_SELECT,
    RECENT_SERVICE_SELECT,
    candidates,
    ensure_service_day,
    get_ticket,
    open_window_weights,
    public_ticket,
    recent_service_seconds,
    record_transition,
    service_seconds,
    weights_of_open,
)
from .context import Actor, HallContext
from .events import append_event, hall_write
from .stats import queues_changed


@dataclass(frozen=True)
class IssueRequest:
    queue_id: str | None = None
    item_id: str | None = None
    id_number: str | None = None  # from the ID card read; never stored, only a keyed hash
    name: str | None = None  # stored masked only
    birth_date: date | None = None
    legal_reason: str | None = None
    appointment_code: str | None = None
    green: bool = False
    source: str | None = None
    card_input_id: str | None = None  # a card read by a kiosk's agent: priority and one ticket per person
    extra: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        body = json.dumps(
            {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items()},
            sort_keys=True, ensure_ascii=False, default=str,
        )
        return hashlib.sha256(body.encode()).hexdigest()


class PriorityNotAllowed(DomainError):
    code = "priority_not_allowed"


@dataclass(frozen=True)
class Grants:
    """What the caller of ``issue_ticket`` may grant, decided from its authenticated identity (REST or Socket.IO).

    A client may ask; only a trusted source grants: staff any class (recorded with them); a device station the
    elderly class from a card read by its own reader; a verified appointment (the kiosk's check-in) its class."""

    staff: bool = False
    station: str | None = None  # a device token's station: card reads recorded for it are its own
    appointment_verified: bool = False  # the caller checked the code: valid, unused, inside its window

    @classmethod
    def of(cls, actor: Actor) -> Grants:
        """The grants of an actor as the edge authenticated it (staff session or device token)."""
        if actor.kind == "staff":
            return cls(staff=True)
        if actor.kind == "device":
            return cls(station=actor.id)
        return cls()


def _refuse_claims(req: IssueRequest, grants: Grants) -> None:
    """Priority is earned, never claimed: a class the caller cannot grant is refused (403), never dropped silently,
    so a kiosk or a phone knows at once that the ticket it wanted was not issued."""
    if grants.staff:
        return
    claims = [name for name, claimed in (
        ("green", req.green), ("legal_reason", req.legal_reason is not None),
        ("appointment_code", req.appointment_code is not None and not grants.appointment_verified),
        ("birth_date", req.birth_date is not None), ("id_number", req.id_number is not None),
        ("card_input_id", req.card_input_id is not None and grants.station is None)) if claimed]
    if claims:
        raise PriorityNotAllowed(
            f"{', '.join(claims)}: only staff may grant this; an elderly priority comes from an ID card read by "
            "this kiosk's own reader (card_input_id, with the kiosk's device token), an appointment from checking "
            "in its QR at a kiosk / 优先资格须由工作人员或本机读卡核实", details={"claims": claims})


@dataclass(frozen=True)
class IssueResult:
    ticket: dict[str, Any]
    created: bool  # False: an existing ticket was returned (idempotent retry, or the same person again)
    reason: str | None = None  # why an existing ticket came back: "idempotent_replay" | "already_has_ticket"


def _person_key(ctx: HallContext, id_number: str) -> str:
    return hmac.new(ctx.person_secret, id_number.encode(), hashlib.sha256).hexdigest()


# Built once and run on the DBAPI cursor (see store.hot): these run on every ticket.
_COUNTER_WHERE = and_(day_counters.c.hall_id == bindparam("b_hall"), day_counters.c.kind == bindparam("b_kind"),
                      day_counters.c.key == bindparam("b_key"), day_counters.c.service_day == bindparam("b_day"))
_COUNTER_BUMP = HotStatement(update(day_counters).where(_COUNTER_WHERE).values(value=day_counters.c.value + 1)
                             .returning(day_counters.c.value))
_COUNTER_INSERT = HotStatement(day_counters.insert(), column_keys=("hall_id", "kind", "key", "service_day", "value"))
_COUNTER_READ = HotStatement(select(day_counters.c.value).where(_COUNTER_WHERE))
_TICKET_KEYS = ("hall_id", "service_day", "queue_id", "seq", "number", "item_id", "priority", "priority_reason",
                "status", "position", "issued_at", "recalls", "tracker_token", "person_key", "person_label",
                "appointment_code", "source", "target_window", "called_at", "started_at", "finished_at", "window_id",
                "close_reason")
_TICKET_INSERT = HotStatement(tickets.insert().returning(*tickets.c), column_keys=_TICKET_KEYS)
_IDEMPOTENCY_INSERT = HotStatement(idempotency_keys.insert(),
                                   column_keys=("hall_id", "key", "request_hash", "ticket_id", "at"))
_IDEMPOTENCY_READ = HotStatement(select(idempotency_keys).where(idempotency_keys.c.hall_id == bindparam("b_hall"),
                                                                idempotency_keys.c.key == bindparam("b_key")))


def _next_counter(conn: Connection, hall_id: str, kind: str, key: str, day: str) -> int:
    """Increment a per-day counter; the hall's write lock makes update-then-insert race-free."""
    where = {"b_hall": hall_id, "b_kind": kind, "b_key": key, "b_day": day}
    value = _COUNTER_BUMP.scalar(conn, where)
    if value is None:
        _COUNTER_INSERT.all(conn, {"hall_id": hall_id, "kind": kind, "key": key, "service_day": day, "value": 1})
        value = 1
    return int(value)


def _counter(conn: Connection, hall_id: str, kind: str, key: str, day: str) -> int:
    return int(_COUNTER_READ.scalar(conn, {"b_hall": hall_id, "b_kind": kind, "b_key": key, "b_day": day}) or 0)


def ticket_view(conn: Connection, ctx: HallContext, t: Any) -> dict[str, Any]:
    """A ticket as the kiosk and the tracker show it: public fields, people ahead and the estimated wait."""
    view = public_ticket(ctx, t)
    queue = ctx.config.queue(t.queue_id)
    zone = ctx.config.zone(queue.zone)
    view["zone_name"] = zone.name.zh
    view["tracker_token"] = t.tracker_token
    view["tracker_url"] = f"{ctx.config.hall.tracker_base_url.rstrip('/')}/t/{t.tracker_token}"
    if t.status == TicketStatus.WAITING.value:
        ahead, recent, open_windows = _waiting_facts(conn, ctx, t)
        est = estimate_wait(ahead, recent, queue.default_service_min, open_windows, t.queue_id, {t.queue_id})
        view["ahead"] = ahead
        view["estimated_wait_min"] = est.minutes
        view["estimate_basis"] = est.basis
        if est.minutes is None:
            # No window of this queue is open yet (early morning, a demo): the queue's configured service time over
            # the windows that serve it, rather than no estimate at all.
            serving = ctx.config.windows_serving(t.queue_id) or 1
            view["estimated_wait_min"] = round((ahead + 0.5) * queue.default_service_min / serving, 1)
            view["estimate_basis"] = "configured"
    else:
        view["ahead"] = 0
        view["estimated_wait_min"] = None
    return view


def _waiting_facts(conn: Connection, ctx: HallContext, t: Any) -> tuple[int, list[float], list[dict[str, int]]]:
    """What a waiting ticket's view estimates from: the people the policy would call before it, its queue's recent
    service times and the open windows' weights. With a policy that ranks by class then position (the default)
    one statement reads all three (``_view_statement``: one round trip and one snapshot on PostgreSQL); any other
    policy ranks the whole queue."""
    class_rank = getattr(ctx.policy, "class_rank", None)
    if class_rank is None:
        ahead = people_ahead(ctx.policy, candidates(conn, ctx, t.service_day, [t.queue_id]), t.id, ctx.now())
        return ahead, recent_service_seconds(conn, ctx, t.service_day, t.queue_id), open_window_weights(conn, ctx)
    mine = class_rank(PriorityClass(t.priority))
    before = tuple(p.value for p in PriorityClass if class_rank(p) <= mine)
    same = tuple(p.value for p in PriorityClass if class_rank(p) == mine)
    rows = _view_statement(before, same).all(conn, {
        "b_hall": ctx.hall_id, "b_day": t.service_day, "b_queue": t.queue_id, "b_id": t.id, "b_position": t.position,
    })
    ahead, services, open_ids = 0, [], set()
    for r in rows:
        if r.kind == "ahead":
            ahead = int(r.n or 0)
        elif r.kind == "service":
            services.append(r)
        else:
            open_ids.add(r.window_id)
    return ahead, service_seconds(services), weights_of_open(ctx, open_ids)


@lru_cache(maxsize=32)
def _view_statement(ranked_up_to_mine: tuple[str, ...], ranked_as_mine: tuple[str, ...]) -> HotStatement:
    """One row ``kind = 'ahead'`` with the people ahead (``n``), a row ``'service'`` per recent service of the queue
    (``started_at``, ``finished_at``) and a row ``'window'`` per open window (``window_id``).

    The people ahead are those waiting in the lines ranked up to this ticket's class (``queue_waiting``, one row per
    line), less those of its rank from it on in line (itself included, if it is waiting: then it is in both). The
    second is a range of ``ix_tickets_heads`` (waiting only: queue, class, position, id), short for a ticket near
    the end of the line — a new one — so the cost does not grow with the queue (counting the first over the index,
    one entry per waiting ticket, added ~0.4 ms of CPU per issue from 1,000 to 7,000 waiting:
    tests/bench/issue_service.py)."""
    in_line = select(func.coalesce(func.sum(queue_waiting.c.waiting), 0)).where(
        queue_waiting.c.hall_id == bindparam("b_hall"), queue_waiting.c.service_day == bindparam("b_day"),
        queue_waiting.c.queue_id == bindparam("b_queue"),
        or_(*(queue_waiting.c.priority == c for c in ranked_up_to_mine)))
    position = bindparam("b_position", type_=tickets.c.position.type)
    from_me_on = select(func.count()).where(
        tickets.c.hall_id == bindparam("b_hall"), tickets.c.service_day == bindparam("b_day"),
        TICKET_WAITING, tickets.c.queue_id == bindparam("b_queue"),
        or_(*(tickets.c.priority == c for c in ranked_as_mine)),
        tuple_(tickets.c.position, tickets.c.id) >= tuple_(position, bindparam("b_id", type_=tickets.c.id.type)))
    no_time, no_count, no_window = (cast(null(), tickets.c.started_at.type), cast(null(), Integer),
                                    cast(null(), String))
    recent, opened = RECENT_SERVICE_SELECT.subquery(), OPEN_WINDOWS_SELECT.subquery()
    return HotStatement(union_all(
        select(literal_column("'ahead'").label("kind"),
               (in_line.scalar_subquery() - from_me_on.scalar_subquery()).label("n"),
               no_time.label("started_at"), no_time.label("finished_at"), no_window.label("window_id")),
        select(literal_column("'service'"), no_count, recent.c.started_at, recent.c.finished_at, no_window),
        select(literal_column("'window'"), no_count, no_time, no_time, opened.c.window_id),
    ))


def _resolve_queue(ctx: HallContext, req: IssueRequest) -> tuple[str, Any]:
    item = None
    if req.item_id is not None:
        try:
            item = ctx.config.item(req.item_id)
        except KeyError:
            raise NotFound(f"service item {req.item_id!r} does not exist",
                           code="item_not_found") from None
        if req.queue_id is not None and req.queue_id != item.queue:
            raise DomainError(f"item {item.id!r} is served by queue {item.queue!r}, not {req.queue_id!r}; "
                              "send only item_id", code="queue_item_mismatch", details={"queue_id": item.queue})
        return item.queue, item
    if req.queue_id is None:
        raise InvalidInput("name a queue_id or an item_id", code="queue_required")
    try:
        ctx.config.queue(req.queue_id)
    except KeyError:
        raise NotFound(f"queue {req.queue_id!r} does not exist",
                       code="queue_not_found") from None
    return req.queue_id, None


def issue_ticket(ctx: HallContext, req: IssueRequest, actor: Actor, idempotency_key: str | None = None,
                 grants: Grants | None = None, also: Callable[[Connection, int], None] | None = None) -> IssueResult:
    """``grants`` default to what ``actor`` (authenticated by the caller) may grant: see ``Grants``. ``also`` runs
    in the new ticket's transaction with its id (a check-in marking its appointment used), so both commit or
    neither: raising there issues no ticket."""
    grants = grants or Grants.of(actor)
    _refuse_claims(req, grants)
    queue_id, item = _resolve_queue(ctx, req)
    queue = ctx.config.queue(queue_id)
    try:
        id_number = validate_id_number(req.id_number) if req.id_number else None
    except ValueError as exc:
        raise InvalidInput(f"id_number: {exc}", code="invalid_id_number") from None
    birth = req.birth_date or (birth_date_of(id_number) if id_number else None)
    card = _card_input(ctx, req.card_input_id, None if grants.staff else grants.station) \
        if req.card_input_id else None
    if card is not None:
        birth = birth or date.fromisoformat(card["birth_date"])
    now = ctx.now()
    local = ctx.local(now)
    if not ctx.always_open:
        status = issuing_status(local, ctx.config.hours, ctx.is_workday,
                                list(queue.issue_windows) + list(item.issue_windows if item else []))
        if not status.open:
            nxt = status.next_open
            raise Closed(
                f"{status.reason}; {status.reason_en}."
                + (f" 下次开始取号 / next opening: {nxt:%Y-%m-%d %H:%M}" if nxt else ""),
                details={"next_open": nxt.isoformat() if nxt else None, "reason_en": status.reason_en},
            )
    priority = classify(today=local.date(), elderly_age=ctx.config.hall.elderly_age, birth_date=birth,
                        legal_reason=req.legal_reason, appointment=bool(req.appointment_code), green=req.green)
    fingerprint = req.fingerprint() if idempotency_key else None  # a hash of the whole request: only to compare
    with hall_write(ctx) as (conn, published):
        day = ensure_service_day(conn, ctx, published)
        if idempotency_key:
            prior = _IDEMPOTENCY_READ.first(conn, {"b_hall": ctx.hall_id, "b_key": idempotency_key})
            if prior is not None:
                if prior.request_hash != fingerprint:
                    raise DomainError(
                        "this Idempotency-Key was already used for a different request; use a new key per ticket",
                        code="idempotency_key_reused",
                    )
                t = get_ticket(conn, ctx, prior.ticket_id)
                return IssueResult(ticket_view(conn, ctx, t), False, "idempotent_replay")
        person_key = _person_key(ctx, id_number) if id_number else (card["person_key"] if card else None)
        if person_key:
            existing = conn.execute(
                select(tickets).where(
                    tickets.c.hall_id == ctx.hall_id, tickets.c.person_key == person_key,
                    tickets.c.queue_id == queue_id, tickets.c.service_day == day,
                    tickets.c.status.in_([TicketStatus.WAITING.value, TicketStatus.CALLED.value,
                                          TicketStatus.SERVING.value, TicketStatus.HELD.value]),
                )
            ).first()
            if existing is not None:
                return IssueResult(ticket_view(conn, ctx, existing), False, "already_has_ticket")
        if queue.daily_cap is not None and _counter(conn, ctx.hall_id, "queue", queue_id, day) >= queue.daily_cap:
            raise CapReached(f"今日{queue.name.zh}号已取完 / today's {queue.daily_cap} tickets for this queue are "
                             "all issued", details={"cap": queue.daily_cap})
        if item is not None and item.daily_cap is not None:
            if _counter(conn, ctx.hall_id, "item", item.id, day) >= item.daily_cap:
                raise CapReached(f"今日“{item.name}”号已取完 / today's {item.daily_cap} tickets for this item are "
                                 "all issued", details={"cap": item.daily_cap})
            _next_counter(conn, ctx.hall_id, "item", item.id, day)
        seq = _next_counter(conn, ctx.hall_id, "queue", queue_id, day)
        number = format_number(queue.prefix, seq, queue.number_digits)
        t = _TICKET_INSERT.one(conn, dict(
            hall_id=ctx.hall_id, service_day=day, queue_id=queue_id, seq=seq, number=number,
            item_id=item.id if item else None, priority=priority.value, priority_reason=req.legal_reason,
            status=TicketStatus.WAITING.value, position=now, issued_at=now, recalls=0,
            tracker_token=secrets.token_urlsafe(16), person_key=person_key,
            person_label=mask_name(req.name) if req.name else (card or {}).get("name_masked"),
            appointment_code=req.appointment_code, source=req.source, target_window=None, called_at=None,
            started_at=None, finished_at=None, window_id=None, close_reason=None,
        ))
        ticket_id = t.id
        detail: dict[str, Any] = {"priority": priority.value, "source": req.source}
        if priority is not PriorityClass.NORMAL:
            detail["granted_by"] = str(actor)  # who vouched for the class (staff, the kiosk's reader, a check-in)
        if req.extra.get("claimed_legal_reason"):
            detail["claimed_legal_reason"] = req.extra["claimed_legal_reason"]  # for staff to verify
        record_transition(conn, ticket_id, now, "issue", None, TicketStatus.WAITING, actor, queue_id=queue_id,
                          detail=detail)
        if idempotency_key:
            _IDEMPOTENCY_INSERT.all(conn, {"hall_id": ctx.hall_id, "key": idempotency_key,
                                           "request_hash": fingerprint, "ticket_id": ticket_id, "at": now})
        if also is not None:
            also(conn, ticket_id)
        view = ticket_view(conn, ctx, t)
        rooms = [f"zone:{queue.zone}", f"queue:{queue_id}"]
        published.append(append_event(conn, ctx.hall_id, "ticket_issued", public_ticket(ctx, t), rooms, now))
        queues_changed(conn, ctx, day, [queue_id], rooms, now, published)
    return IssueResult(view, True)


CARD_VALID_FOR = timedelta(minutes=10)


def _card_input(ctx: HallContext, input_id: str, station: str | None) -> dict[str, Any]:
    """A recent card read recorded from a device agent (birth date, keyed hash, masked name); with ``station``,
    only one read by that station's own reader (another kiosk's read is unknown here, not forbidden: no oracle)."""
    with read_tx(ctx.engine) as conn:
        row = conn.execute(select(device_inputs).where(
            device_inputs.c.hall_id == ctx.hall_id, device_inputs.c.input_id == input_id)).first()
    if row is None or row.kind != "card_read" or not row.data or (station is not None and row.station != station):
        raise NotFound("this card read is unknown; tap the card again", code="card_input_not_found")
    if ctx.now() - row.at > CARD_VALID_FOR:
        raise InvalidTransition("this card read is too old; tap the card again", code="card_input_expired")
    return dict(row.data)


def get_ticket_view(ctx: HallContext, ticket_id: int) -> dict[str, Any]:
    with read_tx(ctx.engine) as conn:
        return ticket_view(conn, ctx, get_ticket(conn, ctx, ticket_id))


def track(ctx: HallContext, token: str) -> dict[str, Any]:
    """The phone tracker's view of one ticket: its own position only, nothing about anyone else."""
    with read_tx(ctx.engine) as conn:
        t = conn.execute(
            select(tickets).where(tickets.c.hall_id == ctx.hall_id, tickets.c.tracker_token == token)
        ).first()
        if t is None:
            raise NotFound("no ticket has this tracking code; scan the QR on your ticket again",
                           code="tracker_not_found")
        view = ticket_view(conn, ctx, t)
    keep = ("id", "number", "queue_id", "queue_name", "zone_id", "zone_name", "status", "window_number", "ahead",
            "estimated_wait_min", "estimate_basis", "service_day", "issued_at", "called_at", "recalls")
    out = {k: view.get(k) for k in keep}
    if t.status in (TicketStatus.CALLED.value, TicketStatus.SERVING.value) and view["window_number"]:
        out["message"] = f"请 {t.number} 号到 {view['window_number']} 号窗口办理"
        out["message_en"] = f"Number {t.number}, please go to window {view['window_number']}"
    return out


def requeue(ctx: HallContext, ticket_id: int, actor: Actor) -> dict[str, Any]:
    """A late arrival after 过号 goes back in line, if the hall's policy allows and it is not too late."""
    policy = ctx.config.calling.no_show
    with hall_write(ctx) as (conn, published):
        day = ensure_service_day(conn, ctx, published)
        t = get_ticket(conn, ctx, ticket_id, lock=True)
        next_status(Action.REQUEUE, TicketStatus(t.status), t.number)
        if t.service_day != day:
            raise InvalidTransition(f"ticket {t.number} belongs to service day {t.service_day}; take a new ticket")
        now = ctx.now()
        if not policy.requeue_allowed:
            raise InvalidTransition("this hall does not re-queue missed numbers; please take a new ticket",
                                    code="requeue_not_allowed")
        missed_at = t.finished_at or t.called_at or now
        if now - missed_at > timedelta(minutes=policy.requeue_within_min):
            raise InvalidTransition(
                f"ticket {t.number} was missed more than {policy.requeue_within_min} minutes ago; please take a new "
                "ticket", code="requeue_too_late")
        if policy.requeue_position == "original":
            position = t.issued_at
        elif policy.requeue_position == "front":
            earliest = conn.execute(
                select(func.min(tickets.c.position)).where(
                    tickets.c.hall_id == ctx.hall_id, tickets.c.service_day == day,
                    tickets.c.queue_id == t.queue_id, TICKET_WAITING)
            ).scalar()
            position = (earliest - timedelta(milliseconds=1)) if earliest else now
        else:
            position = now
        conn.execute(update(tickets).where(tickets.c.id == t.id).values(
            status=TicketStatus.WAITING.value, position=position, window_id=None, finished_at=None))
        record_transition(conn, t.id, now, "requeue", t.status, TicketStatus.WAITING, actor, queue_id=t.queue_id,
                          detail={"position": policy.requeue_position})
        t = get_ticket(conn, ctx, t.id)
        queue = ctx.config.queue(t.queue_id)
        rooms = [f"zone:{queue.zone}", f"queue:{t.queue_id}", f"ticket:{t.id}"]
        published.append(append_event(conn, ctx.hall_id, "ticket_requeued", public_ticket(ctx, t), rooms, now))
        queues_changed(conn, ctx, day, [t.queue_id], rooms, now, published)
        view = ticket_view(conn, ctx, t)
    return view


def cancel(ctx: HallContext, ticket_id: int, actor: Actor) -> dict[str, Any]:
    with hall_write(ctx) as (conn, published):
        day = ensure_service_day(conn, ctx, published)
        t = get_ticket(conn, ctx, ticket_id, lock=True)
        next_status(Action.CANCEL, TicketStatus(t.status), t.number)
        now = ctx.now()
        conn.execute(update(tickets).where(tickets.c.id == t.id).values(status=TicketStatus.CANCELLED.value,
                                                                       finished_at=now))
        record_transition(conn, t.id, now, "cancel", t.status, TicketStatus.CANCELLED, actor, queue_id=t.queue_id)
        t = get_ticket(conn, ctx, t.id)
        queue = ctx.config.queue(t.queue_id)
        rooms = [f"zone:{queue.zone}", f"queue:{t.queue_id}", f"ticket:{t.id}"]
        published.append(append_event(conn, ctx.hall_id, "ticket_cancelled", public_ticket(ctx, t), rooms, now))
        queues_changed(conn, ctx, day, [t.queue_id], rooms, now, published)
        view = public_ticket(ctx, t)
    return view


PRIORITY_LABELS = {
    PriorityClass.NORMAL: "普通",
    PriorityClass.ELDERLY: "老年人优先",
    PriorityClass.LEGAL: "依法优先",
    PriorityClass.APPOINTMENT: "预约",
    PriorityClass.GREEN: "绿色通道",
}
