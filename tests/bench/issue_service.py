"""CPU of the issue use case itself (no HTTP, no server): ``services.tickets.issue_ticket`` in a loop on a fresh
SQLite file, process CPU time per ticket. Self-contained (no ``tests`` import), so another tree's code can be
measured by putting it first on the path — run it as a file, not with ``-m``:

    .venv/bin/python tests/bench/issue_service.py [--tickets 2000] [--synchronous FULL|OFF]
    PYTHONPATH=/tmp/base .venv/bin/python tests/bench/issue_service.py      # main's code (git archive main)

``--synchronous OFF`` leaves the commit's fsync out (its kernel time is in the FULL figure). The queue grows by
``--tickets`` during the run, as in ``tests.bench.ops``; the per-block figures show the cost as it grows.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import queue_server
from queue_server.clock import OffsetClock
from queue_server.domain.calling import DefaultCallingPolicy
from queue_server.domain.hall import HallConfig
from queue_server.domain.workdays import WorkCalendar
from queue_server.services.context import Actor, HallContext, NullPublisher
from queue_server.services.tickets import IssueRequest, issue_ticket
from queue_server.store.db import ensure_hall, make_engine, migrate

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


def bench_context(name: str, synchronous: str) -> HallContext:
    """A one-queue, one-window hall on a fresh SQLite file at 09:30, its queue figures coalesced (as served).
    ``call_service.py`` uses it too (a sibling file: both run as files)."""
    db = Path(tempfile.mkdtemp(prefix=f"onewindow-{name}-")) / "hall.db"
    engine = make_engine(str(db), synchronous=synchronous)
    migrate(engine)
    ensure_hall(engine, "bench")
    config = HallConfig.model_validate(HALL)
    ctx = HallContext(config=config, engine=engine,
                      clock=OffsetClock(datetime(2026, 11, 26, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))),
                      policy=DefaultCallingPolicy(config.calling), calendar=WorkCalendar(), publisher=NullPublisher(),
                      person_secret=b"bench", always_open=True)
    ctx.stats = _Marks()  # type: ignore[assignment]
    return ctx


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL", "OFF"])
    args = ap.parse_args()
    ctx = bench_context("issue-service", args.synchronous)
    kiosk = Actor("kiosk", "bench")
    request = IssueRequest(queue_id="a", source="bench")
    for _ in range(50):  # warm-up: the day's roll-over, statement caches
        issue_ticket(ctx, request, kiosk)
    print(f"code: {Path(queue_server.__file__).parent}; synchronous={args.synchronous}; load {os.getloadavg()}")
    per_block = args.tickets // args.blocks
    total_cpu = 0.0
    for b in range(args.blocks):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(per_block):
            issue_ticket(ctx, request, kiosk)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        total_cpu += cpu
        print(f"  tickets {50 + b * per_block:>6} → {50 + (b + 1) * per_block:>6} waiting: "
              f"{cpu * 1000 / per_block:.3f} ms CPU, {wall * 1000 / per_block:.3f} ms wall per ticket")
    print(f"mean {total_cpu * 1000 / (per_block * args.blocks):.3f} ms CPU per ticket")
    ctx.engine.dispose()


if __name__ == "__main__":
    main()
