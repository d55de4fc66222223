"""A year of a busy hall in SQLite, and how long the supervisor's report queries take on it.

    .venv/bin/python -m tests.bench.reports_year [--days 365] [--per-day 1500] [--db /tmp/ow-year.db] [--repeat 3]

Generates (once per database file; reused when it exists) ``--per-day`` tickets on every
day back from 2026-12-04 across the sample hall's queues and windows, with realistic statuses (≈85 % served,
8 % no-show, 4 % cancelled, 3 % transferred), waits and service times, and four transitions per ticket (issue,
call, start, finish/no-show/cancel) by twenty clerks, plus ratings for a third of the served tickets. Then it
times the first (cold) year report, which summarises every day once, and runs each report the pages use
``--repeat`` times through the real service functions, printing the best and the median time. Everything is local; nothing listens on a port.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from queue_server.clock import OffsetClock
from queue_server.domain.calling import DefaultCallingPolicy
from queue_server.hall_config import load_calendar, load_hall
from queue_server.services import reports
from queue_server.services.context import HallContext, NullPublisher
from queue_server.store.cases_schema import evaluation_requests, evaluations
from queue_server.store.db import ensure_hall, make_engine, migrate
from queue_server.store.schema import ticket_transitions, tickets

END = date(2026, 12, 4)


def generate(ctx: HallContext, days: int, per_day: int, seed: int = 7) -> int:
    rnd = random.Random(seed)
    cfg = ctx.config
    queues = [q for q in cfg.queues]
    windows_for = {q.id: [w.id for w in cfg.windows if any(wq.queue == q.id for wq in w.queues)] or [None]
                   for q in queues}
    clerks = [f"staff:clerk{i}" for i in range(1, 21)]
    tid = 0
    with ctx.engine.begin() as conn:
        for d in range(days):
            day = END - timedelta(days=d)
            t_rows, tr_rows, req_rows, ev_rows = [], [], [], []
            numbers: dict[str, int] = {}
            for _ in range(per_day):
                tid += 1
                q = rnd.choice(queues)
                numbers[q.id] = numbers.get(q.id, 0) + 1
                local = datetime(day.year, day.month, day.day, 9, 0, tzinfo=ctx.tz) + timedelta(
                    minutes=rnd.choice([rnd.uniform(0, 180), rnd.uniform(330, 510)]))
                issued = local.astimezone(UTC)
                roll = rnd.random()
                status = "done" if roll < 0.85 else "no_show" if roll < 0.93 else "cancelled" if roll < 0.97 \
                    else "done"
                transferred = roll >= 0.97
                w = rnd.choice(windows_for[q.id])
                called = issued + timedelta(minutes=rnd.expovariate(1 / 14)) if status != "cancelled" else None
                started = called + timedelta(seconds=rnd.uniform(20, 90)) if status == "done" else None
                finished = started + timedelta(minutes=rnd.expovariate(1 / 7) + 1) if started else \
                    (called or issued) + timedelta(minutes=2)
                clerk = rnd.choice(clerks)
                t_rows.append(dict(id=tid, hall_id=ctx.hall_id, service_day=day.isoformat(), queue_id=q.id,
                                   seq=numbers[q.id], number=f"{q.prefix}{numbers[q.id]:04d}",
                                   item_id=None, priority="normal", status=status, position=issued,
                                   issued_at=issued, called_at=called, started_at=started, finished_at=finished,
                                   window_id=w if called else None, recalls=0, tracker_token=f"t{tid}"))
                tr_rows.append(dict(ticket_id=tid, at=issued, action="issue", from_status=None, to_status="waiting",
                                    actor="kiosk:kiosk-1"))
                if transferred:
                    tr_rows.append(dict(ticket_id=tid, at=issued, action="transfer", from_status="serving",
                                        to_status="waiting", actor=clerk))
                if called:
                    tr_rows.append(dict(ticket_id=tid, at=called, action="call", from_status="waiting",
                                        to_status="called", actor=clerk))
                if status == "done":
                    tr_rows.append(dict(ticket_id=tid, at=started, action="start", from_status="called",
                                        to_status="serving", actor=clerk))
                    tr_rows.append(dict(ticket_id=tid, at=finished, action="finish", from_status="serving",
                                        to_status="done", actor=clerk))
                    if rnd.random() < 1 / 3:
                        req_rows.append(dict(id=tid, hall_id=ctx.hall_id, subject_kind="ticket", subject_id=tid,
                                             subject_label=f"{q.prefix}{numbers[q.id]:04d}", window_id=w,
                                             staff=clerk.split(":")[1], token=f"e{tid}", status="rated",
                                             created_at=finished, expires_at=finished + timedelta(days=1)))
                        level = rnd.choices([5, 4, 3, 2, 1], [70, 20, 6, 3, 1])[0]
                        ev_rows.append(dict(hall_id=ctx.hall_id, request_id=tid, subject_kind="ticket",
                                            subject_label=f"{q.prefix}{numbers[q.id]:04d}", window_id=w,
                                            staff=clerk.split(":")[1], level=level, indicators=[], channel="pad",
                                            at=finished))
                else:
                    tr_rows.append(dict(ticket_id=tid, at=finished, action=status.replace("no_show", "no_show"),
                                        from_status="called", to_status=status, actor=clerk))
            conn.execute(tickets.insert(), t_rows)
            conn.execute(ticket_transitions.insert(), tr_rows)
            if req_rows:
                conn.execute(evaluation_requests.insert(), req_rows)
                conn.execute(evaluations.insert(), ev_rows)
    return tid


def context(db: Path) -> HallContext:
    cfg = load_hall(None)
    engine = make_engine(str(db), synchronous="OFF")
    migrate(engine)
    ensure_hall(engine, cfg.hall.id)
    return HallContext(config=cfg, engine=engine, clock=OffsetClock(datetime(2026, 12, 4, 16, 0, tzinfo=UTC)),
                       policy=DefaultCallingPolicy(cfg.calling), calendar=load_calendar(None),
                       publisher=NullPublisher(), person_secret=b"bench")


def timed(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return min(runs), statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--per-day", type=int, default=1500)
    ap.add_argument("--db", type=Path, default=Path("/tmp/ow-reports-year.db"))
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    fresh = not a.db.exists()
    ctx = context(a.db)
    if fresh:
        t0 = time.perf_counter()
        n = generate(ctx, a.days, a.per_day)
        print(f"generated {n} tickets over {a.days} days in {time.perf_counter() - t0:.1f} s")
    with ctx.engine.connect() as conn:
        total = conn.exec_driver_sql("SELECT count(*) FROM tickets").scalar()
        trans = conn.exec_driver_sql("SELECT count(*) FROM ticket_transitions").scalar()
    print(f"database {a.db} ({a.db.stat().st_size / 1e6:.0f} MB): {total} tickets, {trans} transitions")
    year = (END - timedelta(days=a.days - 1), END)
    month = reports.period("month", END)
    cases = [
        ("day, by queue", lambda: reports.ticket_report(ctx, END, END, "queue")),
        ("month, by window", lambda: reports.ticket_report(ctx, *month, "window")),
        ("year, by hall", lambda: reports.ticket_report(ctx, *year, "hall")),
        ("year, by queue", lambda: reports.ticket_report(ctx, *year, "queue")),
        ("year, by window", lambda: reports.ticket_report(ctx, *year, "window")),
        ("year, by staff", lambda: reports.ticket_report(ctx, *year, "staff")),
        ("year, ratings/on-time/appointments", lambda: reports.quality_report(ctx, *year)),
        ("month, staff assessment", lambda: reports.assessment(ctx, END)),
    ]
    with ctx.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM report_days")  # start cold: no day summarised yet
    t0 = time.perf_counter()
    reports.ticket_report(ctx, *year, "queue")
    print(f"cold: the first year report summarises {a.days} days once: {time.perf_counter() - t0:.2f} s")
    print(f"{'report (day summaries kept)':40} {'best s':>8} {'median s':>9}")
    for name, fn in cases:
        best, med = timed(fn, a.repeat)
        print(f"{name:40} {best:8.2f} {med:9.2f}")


if __name__ == "__main__":
    main()
