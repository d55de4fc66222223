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
import time
from datetime import timedelta
from pathlib import Path

from issue_service import bench_context  # the sibling file (run as a file, tests/bench is first on the path)
from sqlalchemy import insert

import queue_server
from queue_server.services import windows
from queue_server.services.context import Actor
from queue_server.services.tickets import IssueRequest, issue_ticket
from queue_server.store.schema import tickets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--waiting", type=int, default=5000)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL", "OFF"])
    ap.add_argument("--without-triggers", action="store_true",
                    help="drop the queue_waiting triggers first: their price alone, in the same code")
    args = ap.parse_args()
    ctx = bench_context("call-service", args.synchronous)
    engine = ctx.engine
    if args.without_triggers:
        with engine.begin() as conn:
            for name in ("insert", "leave", "join", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS tickets_waiting_{name}")
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
