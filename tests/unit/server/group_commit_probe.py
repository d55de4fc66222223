"""Run by test_issue_cost in its own process: group commit needs gevent's monkey-patching, which a pytest process
must not get. Concurrent issues (greenlets) on a SQLite file or a PostgreSQL database (a path or a URL), as `serve`
runs them; prints what it saw as JSON."""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402 - after the patching, as in `serve`
import sqlite3  # noqa: E402
import sys  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import gevent  # noqa: E402
from sqlalchemy import event  # noqa: E402

from queue_server.clock import OffsetClock  # noqa: E402
from queue_server.domain.calling import DefaultCallingPolicy  # noqa: E402
from queue_server.domain.errors import CapReached  # noqa: E402
from queue_server.domain.hall import HallConfig  # noqa: E402
from queue_server.domain.workdays import WorkCalendar  # noqa: E402
from queue_server.services.context import Actor, HallContext  # noqa: E402
from queue_server.services.tickets import IssueRequest, issue_ticket  # noqa: E402
from queue_server.store import db as store_db  # noqa: E402
from queue_server.store.db import ensure_hall, make_engine, migrate  # noqa: E402
from queue_server.store.hall_locks import alone_on_hall  # noqa: E402

HALL = {
    "hall": {"id": "probe", "name": {"zh": "测试大厅"}},
    "hours": {"sessions": [{"start": "09:00", "end": "17:30"}]},
    "sites": [{"id": "main", "name": {"zh": "主厅"}}],
    "zones": [{"id": "z1", "site": "main", "kind": "comprehensive", "name": {"zh": "综合区"}}],
    "departments": [{"id": "d1", "name": "部门"}],
    "queues": [{"id": "a", "prefix": "A", "name": {"zh": "综合"}, "zone": "z1"},
               {"id": "b", "prefix": "B", "name": {"zh": "限号"}, "zone": "z1", "daily_cap": 3}],
    "windows": [{"id": "w1", "number": 1, "name": {"zh": "1号窗口"}, "zone": "z1",
                 "queues": [{"queue": "a"}, {"queue": "b"}]}],
}


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def publish(self, events: list[dict[str, Any]]) -> None:
        self.events.extend(events)


class Other:
    """Another connection than the server's: what it sees is committed."""

    def __init__(self, database: str) -> None:
        self.database = database

    def scalars(self, sql: str, *args: Any) -> list[Any]:
        if self.database.startswith("postgresql"):
            import psycopg

            with psycopg.connect(self.database) as conn:
                return [r[0] for r in conn.execute(sql.replace("?", "%s"), args)]
        conn = sqlite3.connect(self.database)
        try:
            return [r[0] for r in conn.execute(sql, args)]
        finally:
            conn.close()


def count_commits(engine: Any, commits: list[str]) -> None:
    if engine.dialect.name == "postgresql":  # its COMMIT is sent by the driver's pipeline: count the finishes
        real = store_db.pg_commit

        def counted(*args: Any) -> None:
            real(*args)
            commits.append("COMMIT")

        store_db.pg_commit = counted  # type: ignore[assignment]
        return
    event.listen(engine, "checkout",
                 lambda dbapi_conn, *_: dbapi_conn.set_trace_callback(
                     lambda sql: commits.append(sql) if sql == "COMMIT" else None))


def main(database: str, alone: bool) -> None:
    engine = make_engine(database)
    if alone:  # as `serve` without a message queue: no advisory lock on PostgreSQL
        alone_on_hall(engine)
    migrate(engine)
    ensure_hall(engine, "probe")
    config = HallConfig.model_validate(HALL)
    recorder = Recorder()
    ctx = HallContext(config=config, engine=engine,
                      clock=OffsetClock(datetime(2026, 11, 26, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))),
                      policy=DefaultCallingPolicy(config.calling), calendar=WorkCalendar(), publisher=recorder,
                      person_secret=b"probe", always_open=True)
    commits: list[str] = []
    count_commits(engine, commits)
    engine.dispose()
    other = Other(database)
    issue_ticket(ctx, IssueRequest(queue_id="a"), Actor("kiosk", "warm-up"))
    del commits[:]
    acked: list[dict[str, Any]] = []
    refused: list[str] = []
    not_durable: list[int] = []

    def kiosk(i: int, queue: str, fail_after_insert: bool = False) -> None:
        def also(_conn: Any, _ticket_id: int) -> None:
            if fail_after_insert:
                raise CapReached("refused after its ticket row was written")

        try:
            t = issue_ticket(ctx, IssueRequest(queue_id=queue), Actor("kiosk", f"k{i}"), also=also).ticket
        except CapReached:
            refused.append(queue)
            return
        # Acknowledged: another connection must see it now (committed, not merely written).
        if other.scalars("SELECT count(*) FROM tickets WHERE id = ?", t["id"]) != [1]:
            not_durable.append(t["id"])
        acked.append({"id": t["id"], "queue": t["queue_id"], "number": t["number"]})

    # 8 of 40 into the capped queue: 3 issued, 5 refused inside the write
    gevent.joinall([gevent.spawn(kiosk, i, "b" if i % 5 == 0 else "a") for i in range(40)], raise_error=True)
    # The first of a burst leads its group (it runs without a savepoint) and fails after writing its ticket row;
    # the 9 queued behind it must still be issued, each once, and its failure must leave nothing behind.
    gevent.joinall([gevent.spawn(kiosk, 40 + i, "a", i == 0) for i in range(10)], raise_error=True)
    # And a member (the second of a burst) that fails after writing: rolled back to its savepoint, alone.
    gevent.joinall([gevent.spawn(kiosk, 50 + i, "a", i == 1) for i in range(10)], raise_error=True)
    stored = other.scalars("SELECT seq FROM events WHERE hall_id = 'probe' ORDER BY seq")
    head = other.scalars("SELECT event_seq FROM halls WHERE id = 'probe'")[0]
    rows = other.scalars("SELECT count(*) FROM tickets")[0] - 1  # less the warm-up's
    print(json.dumps({"acked": acked, "refused": refused, "not_durable": not_durable, "commits": len(commits),
                      "published": [e["seq"] for e in recorder.events], "stored": stored, "head": head, "rows": rows}))
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], "--alone" in sys.argv[2:])
