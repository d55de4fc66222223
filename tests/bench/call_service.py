"""CPU of a window's call-next and start (no HTTP, no server): ``services.windows`` in a loop on a fresh SQLite
file with a long line, process CPU time per call+start pair — what a write to a ticket's status costs, the
``queue_waiting`` triggers included. Self-contained like ``issue_service.py``: run it as a file, not with ``-m``:

    .venv/bin/python tests/bench/call_service.py [--waiting 5000] [--calls 2000] [--synchronous FULL|OFF]
    PYTHONPATH=/tmp/base .venv/bin/python tests/bench/call_service.py      # main's code (git archive main)
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

import queue_server
from queue_server.clock import OffsetClock
from queue_server.domain.calling import DefaultCallingPolicy
from queue_server.domain.hall import HallConfig
from queue_server.domain.workdays import WorkCalendar
from queue_server.services import windows
from queue_server.services.context import Actor, HallContext, NullPublisher
from queue_server.services.tickets import IssueRequest, issue_ticket
from queue_server.store.db import ensure_hall, make_engine, migrate
from queue_server.store.schema import tickets

HALL = {
    "hall": {"id": "bench", "name": {"zh": "压测大厅"}},
    "hours": {"sessions": [{"start": "09:00", "end": "17:30"}]},
    "sites": [{"id": "main", "name": {"zh": "主厅"}}],
    "zones": [{"id": "z1", "site": "main", "kind": "comprehensive", "name": {"zh": "综合区"}}],
    "departments": [{"id": "d1", "name": "部门"}],
    "queues": [{"id": "a", "prefix": "A", "name": {"zh": "综合"}, "zone": "z1"}],
    "windows": [{"id": "w1", "number": 1, "name": {"zh": "1号窗口"}, "zone": "z1", "queues": [{"queue": "a"}]}],
}


class _Marks:
    """Queue figures coalesced, as the server runs them (the write only marks the queue)."""

    def mark(self, _ids: object) -> None:
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--waiting", type=int, default=5000)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL", "OFF"])
    ap.add_argument("--without-triggers", action="store_true",
                    help="drop the queue_waiting triggers first: their price alone, in the same code")
    args = ap.parse_args()
    db = Path(tempfile.mkdtemp(prefix="onewindow-call-service-")) / "hall.db"
    engine = make_engine(str(db), synchronous=args.synchronous)
    migrate(engine)
    if args.without_triggers:
        with engine.begin() as conn:
            for name in ("insert", "leave", "join", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS tickets_waiting_{name}")
    ensure_hall(engine, "bench")
    config = HallConfig.model_validate(HALL)
    ctx = HallContext(config=config, engine=engine,
                      clock=OffsetClock(datetime(2026, 11, 26, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))),
                      policy=DefaultCallingPolicy(config.calling), calendar=WorkCalendar(), publisher=NullPublisher(),
                      person_secret=b"bench", always_open=True)
    ctx.stats = _Marks()  # type: ignore[assignment]
    clerk = Actor("staff", "bench")
    issue_ticket(ctx, IssueRequest(queue_id="a"), Actor("kiosk", "bench"))  # the day's roll-over
    now, day = ctx.now(), ctx.today().isoformat()
    with engine.begin() as conn:  # the line, in one go (the triggers count these too)
        conn.execute(insert(tickets), [
            {"hall_id": "bench", "service_day": day, "queue_id": "a", "seq": i, "number": f"A{i:05d}",
             "priority": "normal", "status": "waiting", "position": now - timedelta(seconds=args.waiting - i),
             "issued_at": now - timedelta(seconds=args.waiting - i), "recalls": 0,
             "tracker_token": secrets.token_hex(10)} for i in range(2, args.waiting + 2)])
    windows.open_window(ctx, "w1", clerk)
    for _ in range(50):  # warm-up: statement caches
        windows.call_next(ctx, "w1", clerk)
        windows.start(ctx, "w1", clerk)
    print(f"code: {Path(queue_server.__file__).parent}; synchronous={args.synchronous}; "
          f"without triggers: {args.without_triggers}; load {os.getloadavg()}")
    per_block = args.calls // args.blocks
    total_cpu = 0.0
    for b in range(args.blocks):
        cpu0 = time.process_time()
        for _ in range(per_block):
            windows.call_next(ctx, "w1", clerk)  # finishes the one being served, calls the next
            windows.start(ctx, "w1", clerk)
        cpu = time.process_time() - cpu0
        total_cpu += cpu
        print(f"  block {b + 1}: {cpu * 1000 / per_block:.3f} ms CPU per call-next + start")
    print(f"mean {total_cpu * 1000 / (per_block * args.blocks):.3f} ms CPU per call-next + start")
    engine.dispose()


if __name__ == "__main__":
    main()
