"""电子监察 use cases: gather the hall's facts, raise and close alerts, acknowledge them, read the alert log.

Alerts go to the staff room only (``staff:<hall>``), never to the public hall room; the ``alerts`` table is their
log, so a page that reconnects reads the open ones again instead of replaying events.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections import Counter
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, union_all, update

from ..domain import alerts as rules
from ..domain.errors import InvalidInput, NotFound
from ..domain.evaluations import FollowUpStatus
from ..store.cases_schema import evaluation_followups, evaluations
from ..store.db import read_tx
from ..store.hot import HotStatement, fixed_limit
from ..store.schema import TICKET_WAITING, device_status, tickets, window_states
from ..store.supervision_schema import alerts
from .common import queue_stats, window_number
from .context import Actor, HallContext
from .events import hall_write, staff_room

log = logging.getLogger("onewindow.alerts")

# Event kinds whose commit may change a condition: after one of these the rules run again at once.
TRIGGERS = ("window_state", "queue_stats", "device_health", "evaluation_recorded", "ticket_issued",
            "ticket_called", "ticket_cancelled", "ticket_no_show", "ticket_finished",
            "day_rolled_over")


def _in_opening_hours(ctx: HallContext, local: datetime) -> bool:
    if ctx.always_open:
        return True
    if not ctx.is_workday(local.date()):
        return False
    return any(s.start <= local.time() < s.end for s in ctx.config.hours.sessions)


def _calendar_warnings(ctx: HallContext, local_day: date) -> list[str]:
    """The calendar module's own warnings when it exists, else the fallback rule (next year loaded from Nov)."""
    try:  # the calendar module's own check, where the hall has it (it is a separate change)
        calendar_health = importlib.import_module(f"{__package__}.calendar_health")
    except ImportError:
        return rules.calendar_rule(local_day, ctx.config.supervision.calendar_from_month,
                                   ctx.calendar.knows(date(local_day.year + 1, 1, 1)))
    return [str(w.get("message", w)) if isinstance(w, dict) else str(w)
            for w in calendar_health.calendar_warnings(ctx)]


# Built once and run on the DBAPI cursor (store.hot): the watch gathers the facts up to twice a second, and building
# these afresh each time held the hub for milliseconds.
_HALL = tickets.c.hall_id == bindparam("b_hall")
_IS_WAITING = (_HALL, tickets.c.service_day == bindparam("b_day"), TICKET_WAITING)
_CUTOFF = bindparam("b_cutoff", type_=tickets.c.issued_at.type)
_LONG_WAITING = (*_IS_WAITING, tickets.c.issued_at <= _CUTOFF)


@lru_cache(maxsize=16)
def _longest_statement(queue_ids: tuple[str, ...], limit: int) -> HotStatement:
    """Each queue's longest waiters past the limit, ``limit`` at most per queue: one indexed ``LIMIT`` per queue
    (``ix_tickets_waited``), so the watch reads the same few rows with 10 or 10,000 waiting."""
    parts = [select(tickets.c.id, tickets.c.number, tickets.c.queue_id, tickets.c.issued_at)
             .where(*_LONG_WAITING, tickets.c.queue_id == q).order_by(tickets.c.issued_at, tickets.c.id)
             .limit(fixed_limit(limit)).subquery().select() for q in queue_ids]
    return HotStatement(union_all(*parts))


# How many of a queue wait past the limit: read only for a queue with more of them than are alerted one by one (an
# index range, as long as the backlog).
_LONG_COUNT = HotStatement(select(func.count()).where(*_LONG_WAITING, tickets.c.queue_id == bindparam("b_queue")))
_WINDOW_STATES = HotStatement(select(window_states).where(window_states.c.hall_id == bindparam("b_hall")))
_BAD_RATINGS = HotStatement(
    select(evaluations.c.id, evaluations.c.subject_label, evaluations.c.window_id, evaluations.c.level,
           evaluations.c.at, evaluation_followups.c.status)
    .select_from(evaluations.outerjoin(evaluation_followups, evaluation_followups.c.evaluation_id == evaluations.c.id))
    .where(evaluations.c.hall_id == bindparam("b_hall"),
           evaluations.c.at >= bindparam("b_since", type_=evaluations.c.at.type), evaluations.c.level <= 2))
_DEVICES = HotStatement(select(device_status).where(device_status.c.hall_id == bindparam("b_hall")))
_OPEN_KEYS = HotStatement(select(alerts.c.id, alerts.c.key).where(alerts.c.hall_id == bindparam("b_hall"),
                                                                   alerts.c.closed_at.is_(None)))


def gather(ctx: HallContext) -> rules.HallFacts:
    """The hall at this moment, as the pure rules want it."""
    from .cases.queues import supervision  # late: the case package imports much of the service layer

    now = ctx.now()
    local = ctx.local(now)
    day = ctx.today(now).isoformat()
    cfg = ctx.config
    hall = {"b_hall": ctx.hall_id}
    with read_tx(ctx.engine) as conn:
        # Only the tickets the long-wait rule can flag (and one more per queue, to see whether there are more), and
        # the waiting counts from the queue figures: this runs up to twice a second, whatever the length of the line.
        cutoff = now - timedelta(minutes=cfg.supervision.ticket_wait_min)
        waiting_where = {**hall, "b_day": day, "b_cutoff": cutoff}
        cap = cfg.supervision.ticket_wait_alerts_per_queue
        queue_ids = tuple(q.id for q in cfg.queues)
        longest = _longest_statement(queue_ids, cap + 1).all(conn, waiting_where) if queue_ids else []
        long_waits: dict[str, int] = dict(Counter(r.queue_id for r in longest))
        for q, n in long_waits.items():
            if n > cap:
                long_waits[q] = _LONG_COUNT.one(conn, {**waiting_where, "b_queue": q})[0]
        waiting = [rules.WaitingTicket(r.id, r.number, r.queue_id, r.issued_at) for r in longest]
        stats = queue_stats(conn, ctx, day)
        per_queue: dict[str, int] = {q["queue_id"]: q["waiting"] for q in stats}
        states = {r.window_id: r for r in _WINDOW_STATES.all(conn, hall)}
        windows = []
        for w in cfg.windows:
            st = states.get(w.id)
            status = st.status if st is not None and st.service_day == day else "closed"
            windows.append(rules.WindowFact(w.id, w.number, status, st.updated_at if st is not None else None,
                                            sum(per_queue.get(q.queue, 0) for q in w.queues)))
        queues = [rules.QueueFact(q["queue_id"], q["name"], q["estimated_wait_min"] if q["waiting"] else None)
                  for q in stats]
        since = now - timedelta(hours=cfg.supervision.bad_rating_hours)
        bad = [rules.BadRating(r.id, r.subject_label, window_number(ctx, r.window_id), r.level, r.at,
                               r.status == FollowUpStatus.CLOSED.value)
               for r in _BAD_RATINGS.all(conn, {**hall, "b_since": since})]
        devices = [rules.DeviceFact(r.station, r.device, r.status, (r.detail or {}).get("state"),
                                    (r.detail or {}).get("error"))
                   for r in _DEVICES.all(conn, hall)]
    cases = []
    if ctx.case_settings is not None:  # a hall without the case module has no case deadlines to watch
        sup = supervision(ctx)
        cases = [rules.CaseFact(c["id"], c["number"], light) for light in ("yellow", "red") for c in sup[light]]
    return rules.HallFacts(now=now, local_date=local.date(), in_opening_hours=_in_opening_hours(ctx, local),
                           waiting=waiting, long_waits=long_waits, windows=windows, queues=queues, cases=cases, bad_ratings=bad,
                           devices=devices, calendar_warnings=_calendar_warnings(ctx, local.date()))


def view(r: Any) -> dict[str, Any]:
    return {"id": r.id, "key": r.key, "kind": r.kind, "kind_label": rules.KINDS_ZH.get(r.kind, r.kind),
            "level": r.level, "subject": r.subject, "message": r.message, "raised_at": r.raised_at.isoformat(),
            "closed_at": r.closed_at.isoformat() if r.closed_at else None,
            "acknowledged_at": r.acknowledged_at.isoformat() if r.acknowledged_at else None,
            "acknowledged_by": r.acknowledged_by, "ack_note": r.ack_note}


def _event(conn: Connection, ctx: HallContext, type_: str, payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Audience "staff" (policy.AUDIENCES): the staff room only. Not numbered in the hall's event log: the
    ``alerts`` table is their record (a page reads it again on every reconnect), and a sequence number taken by
    an alert would look like a gap to a client that only follows the hall's public events."""
    return {"type": type_, "seq": None, "rooms": [staff_room(ctx.hall_id)], "payload": {**payload, "at": at.isoformat()}}


def _open_keys(conn: Connection, ctx: HallContext) -> dict[str, Any]:
    """Open alerts by key (id and key only: a long line keeps thousands open, read twice a second)."""
    return {r.key: r for r in _OPEN_KEYS.all(conn, {"b_hall": ctx.hall_id})}


def evaluate(ctx: HallContext) -> dict[str, int]:
    """Run the rules: raise alerts for new conditions, close those whose condition cleared. Idempotent."""
    found = {c.key: c for c in rules.evaluate(ctx.config.supervision, gather(ctx))}
    with read_tx(ctx.engine) as conn:
        current = set(_open_keys(conn, ctx))
    if current == set(found):
        return {"raised": 0, "closed": 0, "open": len(current)}
    now = ctx.now()
    with hall_write(ctx) as (conn, published):
        open_now = _open_keys(conn, ctx)  # again, under the hall's lock: another evaluation may have run
        raised = [c for k, c in found.items() if k not in open_now]
        closed = [r for k, r in open_now.items() if k not in found]
        # One statement each for all the raised and all the closed, whatever their number: they are written under
        # the hall's lock, and many can change at once (a hall's first evaluation, a flood of device faults) — one
        # statement per alert held every window's call for seconds (10,000 waiting: 503 busy).
        if raised:
            rows = conn.execute(alerts.insert().returning(*alerts.c), [
                {"hall_id": ctx.hall_id, "key": c.key, "kind": c.kind, "level": c.level, "subject": c.subject[:80],
                 "message": c.message[:300], "raised_at": now} for c in raised]).all()
            published += [_event(conn, ctx, "alert_raised", view(row), now) for row in rows]
        if closed:
            conn.execute(update(alerts).where(alerts.c.id.in_([r.id for r in closed])).values(closed_at=now))
            published += [_event(conn, ctx, "alert_closed", {"id": r.id, "key": r.key, "closed_at": now.isoformat()},
                                 now) for r in closed]
    return {"raised": len(raised), "closed": len(closed), "open": len(found)}


def acknowledge(ctx: HallContext, alert_id: int, note: str, actor: Actor) -> dict[str, Any]:
    """A supervisor has seen it and says what is being done; recorded with who and when."""
    text = (note or "").strip()
    if not text or len(text) > 500:
        raise InvalidInput("note: say in 1 to 500 characters what is being done / 请填写处理说明（1–500 字）",
                           code="bad_note")
    now = ctx.now()
    with hall_write(ctx) as (conn, published):
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id, alerts.c.hall_id == ctx.hall_id)).first()
        if row is None:
            raise NotFound(f"alert {alert_id} does not exist", code="alert_not_found")
        if row.acknowledged_at is not None:
            raise InvalidInput(f"alert {alert_id} was acknowledged already by {row.acknowledged_by}",
                               code="already_acknowledged")
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
            acknowledged_at=now, acknowledged_by=str(actor), ack_note=text))
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).one()
        published.append(_event(conn, ctx, "alert_acknowledged", view(row), now))
    return view(row)


def list_alerts(ctx: HallContext, *, open_only: bool = False, limit: int = 200,
                since: date | None = None) -> list[dict[str, Any]]:
    q = select(alerts).where(alerts.c.hall_id == ctx.hall_id)
    if open_only:
        q = q.where(alerts.c.closed_at.is_(None))
    if since is not None:
        q = q.where(alerts.c.raised_at >= datetime.combine(since, datetime.min.time(), ctx.tz))
    with read_tx(ctx.engine) as conn:
        return [view(r) for r in conn.execute(q.order_by(alerts.c.id.desc()).limit(max(1, min(limit, 2000))))]


def counts(ctx: HallContext) -> dict[str, int]:
    with read_tx(ctx.engine) as conn:
        rows = conn.execute(select(alerts.c.level, func.count()).where(
            alerts.c.hall_id == ctx.hall_id, alerts.c.closed_at.is_(None)).group_by(alerts.c.level)).all()
    return {level: n for level, n in rows}


class AlertWatch:
    """Runs the rules in the background: at once after a relevant commit, and every ``evaluate_every_s``."""

    def __init__(self, ctx: HallContext) -> None:
        self.ctx = ctx
        self.wake = threading.Event()
        self.summarised_for: str | None = None  # the service day through whose eve every day is summarised

    def notify(self, events: list[dict[str, Any]]) -> None:
        if any(ev.get("type") in TRIGGERS for ev in events):
            self.wake.set()

    MIN_GAP_S = 0.5  # under a burst of commits the rules run at most twice a second

    def run(self, sleep: Any) -> None:
        every = self.ctx.config.supervision.evaluate_every_s
        while True:
            sleep(self.MIN_GAP_S)  # the server's own sleep (cooperative under gevent)
            waited = self.MIN_GAP_S
            while not self.wake.is_set() and waited < every:
                sleep(0.1)
                waited += 0.1
            self.wake.clear()
            try:
                evaluate(self.ctx)
            except Exception:  # keep the loop alive; the next round tries again
                log.exception("alert evaluation failed")
            self.summarise_finished_days()

    def summarise_finished_days(self) -> None:
        """Finished days get their report summaries here, a few per round, not in a supervisor's request;
        once every finished day is done, nothing more until the day rolls over."""
        today = self.ctx.today().isoformat()
        if self.summarised_for == today:
            return
        try:
            from .reports import backfill

            if backfill(self.ctx, max_days=5) < 5:
                self.summarised_for = today
        except Exception:
            log.exception("report day summaries failed")


def acknowledge_kiosk_alert(ctx: HallContext, seq: int, note: str, actor: Actor) -> dict[str, Any]:
    """A kiosk's alert (a ticket not printed...) seen and dealt with: kept in the alert log like the others."""
    from ..store.schema import events

    text = (note or "").strip()
    if not text or len(text) > 500:
        raise InvalidInput("note: 1 to 500 characters / 请填写处理说明", code="bad_note")
    now = ctx.now()
    key = f"kiosk_alert:{seq}"
    with hall_write(ctx) as (conn, published):
        ev = conn.execute(select(events.c.payload).where(events.c.hall_id == ctx.hall_id, events.c.seq == seq,
                                                         events.c.type == "kiosk_alert")).first()
        if ev is None:
            raise NotFound(f"no kiosk alert with seq {seq}", code="alert_not_found")
        if conn.execute(select(alerts.c.id).where(alerts.c.hall_id == ctx.hall_id, alerts.c.key == key)).first():
            raise InvalidInput(f"kiosk alert {seq} was acknowledged already", code="already_acknowledged")
        new_id = conn.execute(alerts.insert().values(
            hall_id=ctx.hall_id, key=key, kind="kiosk_alert", level="warning",
            subject=str(ev.payload.get("station", ""))[:80], message=str(ev.payload.get("message", ""))[:300],
            raised_at=now, closed_at=now, acknowledged_at=now, acknowledged_by=str(actor), ack_note=text,
        ).returning(alerts.c.id)).scalar_one()
        row = conn.execute(select(alerts).where(alerts.c.id == new_id)).one()
        published.append(_event(conn, ctx, "alert_acknowledged", view(row), now))
    return view(row)


def kiosk_acks(ctx: HallContext, seqs: list[int]) -> dict[int, dict[str, Any]]:
    if not seqs:
        return {}
    with read_tx(ctx.engine) as conn:
        rows = conn.execute(select(alerts).where(alerts.c.hall_id == ctx.hall_id,
                                                 alerts.c.key.in_([f"kiosk_alert:{s}" for s in seqs]))).all()
    return {int(r.key.split(":")[1]): {"by": r.acknowledged_by, "note": r.ack_note,
                                       "at": r.acknowledged_at.isoformat()} for r in rows}
