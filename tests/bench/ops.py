"""Per-operation cost of the queue server, with its floors measured in the same run (issue 11).

    .venv/bin/python -m tests.bench.ops [--db sqlite,postgresql] [--mode gevent] [--duration 8] [--calls 1600]
                                        [--fanout 100,300,1000] [--json out.json]

Closed-loop HTTP clients (keep-alive, one connection each, ``http.client``: a few µs of client CPU per request) on
127.0.0.1 against servers this script starts and stops:

* **issue**: ``POST /api/v1/tickets`` at 1 and 16 clients for ``--duration`` s: tickets/s, latency p50/p99, server
  CPU per ticket (psutil, the server processes' user+system time over the run ÷ tickets);
* **floors** under the same server and async mode: a bare Flask app (``hello``), a bare durable SQLite ticket
  (``ticket``: one WAL transaction, synchronous=FULL) — and, at 1 client, the bare app without TCP_NODELAY to show
  the delayed-ACK stall; OneWindow ÷ floor ratios are printed beside each figure;
* **call-next**: 8 windows of the "domain" queue each loop call-next then start (the start makes the next call-next
  legal), after 200 unmeasured warm-up calls, with 10, 1,000 and 10,000 people waiting — kept at that length by a
  refill that writes tickets straight into the database (no server cost): calls/s, server CPU per call (both
  requests), and 0 double calls checked in the database afterwards (no ticket with two "call" transitions);
* PostgreSQL (``--db postgresql``): the same with one server process, and with two on the Redis message queue (the
  clients are dealt over both);
* **fan-out** (``--fanout``): see ``tests/bench/fanout.py``.

Everything is bounded in time; servers are terminated at the end. The machine is shared: the load average is
printed with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import requests

from tests.bench._server import onewindow_exe

HOST = "127.0.0.1"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/{db}"
# Issued into "tax", called from "domain" (ten windows serve it, the bench uses eight; none serves tax): the
# call-next queue length is the refill's alone.
ISSUE_BODY = json.dumps({"queue_id": "tax", "source": "bench"}).encode()
CALL_QUEUE = "domain"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


# ------------------------------------------------------------------------------------------------ processes

@dataclass
class Proc:
    name: str
    argv: list[str]
    port: int
    env: dict[str, str]
    log: Path
    health: str = "/api/v1/health"
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> Proc:
        fh = open(self.log, "wb")  # noqa: SIM115 - closed by the process' end
        self.proc = subprocess.Popen(self.argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=self.env, cwd=str(self.log.parent))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://{HOST}:{self.port}{self.health}", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not healthy in {timeout} s: {self.log.read_text(errors='replace')[-2000:]}")

    def cpu(self) -> float:
        assert self.proc is not None
        c = psutil.Process(self.proc.pid).cpu_times()
        return c.user + c.system

    def rss_mb(self) -> float:
        assert self.proc is not None
        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ONEWINDOW_ASYNC_MODE"}
    env.update(ONEWINDOW_PERSON_SECRET="bench-only-secret", ONEWINDOW_SECRET_KEY="bench-only-key",
               PYTHONUNBUFFERED="1")
    return env


def onewindow(workdir: Path, database: str, mode: str, name: str, message_queue: str | None = None) -> Proc:
    port = free_port()
    argv = [onewindow_exe(), "serve", "--always-open", "--host", HOST, "--port", str(port), "--database", database,
            "--async-mode", mode, "--log-level", "WARNING"]
    if message_queue:
        argv += ["--message-queue", message_queue]
    return Proc(name, argv, port, base_env(), workdir / f"{name}.log")


def floor(workdir: Path, mode: str, kind: str, nagle: bool = False) -> Proc:
    port = free_port()
    argv = [sys.executable, "-m", "tests.bench.floor_app", mode, kind, str(port), str(workdir / f"floor-{kind}.db")]
    if nagle:
        argv.append("--nagle")
    env = base_env()
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return Proc(f"floor-{kind}{'-nagle' if nagle else ''}", argv, port, env, workdir / f"floor-{kind}.log",
                health="/health")


def add_supervisor(database: str, workdir: Path) -> tuple[str, str]:
    user, password = "bench-supervisor", secrets.token_urlsafe(18)
    r = subprocess.run([onewindow_exe(), "users", "add", user, "--name", "压测主管", "--role", "supervisor",
                        "--password-stdin", "--database", database], input=password + "\n", text=True,
                       capture_output=True, cwd=str(workdir), env=base_env(), timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"cannot add the bench supervisor: {r.stdout}{r.stderr}")
    return user, password


# ------------------------------------------------------------------------------------------------ clients

class Conn:
    """One keep-alive HTTP connection (a kiosk or a window)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.c = http.client.HTTPConnection(HOST, port, timeout=30)
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def post(self, path: str, body: bytes = b"{}") -> tuple[int, bytes]:
        self.c.request("POST", path, body=body, headers=self.headers)
        r = self.c.getresponse()
        return r.status, r.read()


@dataclass
class LoopResult:
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        rate = self.ok / self.seconds if self.seconds else 0.0
        return {"ok": self.ok, "per_s": round(rate, 1), "p50_ms": _r(pct(self.latencies_ms, 50)),
                "p99_ms": _r(pct(self.latencies_ms, 99)),
                "cpu_ms_per_op": _r(self.server_cpu_s * 1000 / self.ok) if self.ok else None,
                "errors": self.errors}


def _r(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)


def closed_loop(conns: list[Conn], step: Any, duration: float, procs: list[Proc], warmup: float = 1.0) -> LoopResult:
    """Each connection sends its next request when the previous one is answered, for ``duration`` s after a
    warm-up; ``step(conn)`` returns an error label or None."""
    res = LoopResult()
    lock = threading.Lock()
    start = time.monotonic() + warmup
    stop = start + duration

    def run(c: Conn) -> None:
        mine: list[float] = []
        ok = 0
        errs: dict[str, int] = {}
        while True:
            t0 = time.monotonic()
            if t0 >= stop:
                break
            err = step(c)
            t1 = time.monotonic()
            if t0 >= start:
                if err is None:
                    ok += 1
                    mine.append((t1 - t0) * 1000)
                else:
                    errs[err] = errs.get(err, 0) + 1
        with lock:
            res.ok += ok
            res.latencies_ms += mine
            for k, v in errs.items():
                res.errors[k] = res.errors.get(k, 0) + v

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in conns]
    for t in threads:
        t.start()
    time.sleep(max(0.0, start - time.monotonic()))
    cpu0 = sum(p.cpu() for p in procs)
    time.sleep(max(0.0, stop - time.monotonic()))
    cpu1 = sum(p.cpu() for p in procs)
    for t in threads:
        t.join(60)
    res.seconds = duration
    res.server_cpu_s = cpu1 - cpu0
    return res


def issue_step(path: str) -> Any:
    def step(c: Conn) -> str | None:
        status, _ = c.post(path, ISSUE_BODY)
        return None if status in (200, 201) else f"http_{status}"
    return step


def run_issue(procs: list[Proc], clients: int, duration: float, path: str = "/api/v1/tickets") -> dict[str, Any]:
    conns = [Conn(procs[i % len(procs)].port) for i in range(clients)]
    return closed_loop(conns, issue_step(path), duration, procs).summary()


# ------------------------------------------------------------------------------------------------ call-next

class Seed:
    """Fills the call queue to ``target`` waiting tickets, written straight into the database (the server reads them
    like any other; its CPU is not spent on them). Done before the calls: a refill during them would contend for
    SQLite's write lock and measure that instead."""

    numbers = iter(range(100_000, 10_000_000))

    def __init__(self, database: str, hall_id: str, day: str, target: int) -> None:
        self.database, self.hall_id, self.day, self.target = database, hall_id, day, target

    def _connect(self) -> Any:
        if self.database.startswith("postgresql"):
            import psycopg

            return psycopg.connect(self.database, autocommit=True)
        c = sqlite3.connect(self.database, isolation_level=None, timeout=30)
        c.execute("PRAGMA busy_timeout=30000")
        return c

    def fill(self, conn: Any) -> int:
        ph = "%s" if self.database.startswith("postgresql") else "?"
        cur = conn.cursor()
        cur.execute(f"SELECT count(*) FROM tickets WHERE hall_id = {ph} AND service_day = {ph} AND status = 'waiting' "
                    f"AND queue_id = {ph}", (self.hall_id, self.day, CALL_QUEUE))
        missing = self.target - cur.fetchone()[0]
        if missing <= 0:
            return 0
        now = datetime.now(UTC)
        rows = []
        for i in range(missing):
            seq = next(self.numbers)
            at = now - timedelta(seconds=missing - i)
            at = at if self.database.startswith("postgresql") else at.replace(tzinfo=None).isoformat(" ")
            rows.append((self.hall_id, self.day, CALL_QUEUE, seq, f"F{seq}", "normal", "waiting", at, at,
                         0, secrets.token_urlsafe(16)))
        sql = ("INSERT INTO tickets (hall_id, service_day, queue_id, seq, number, priority, status, position, "
               f"issued_at, recalls, tracker_token) VALUES ({', '.join([ph] * 11)})")
        if self.database.startswith("postgresql"):
            with conn.transaction():
                cur.executemany(sql, rows)
            cur.execute("ANALYZE tickets")  # as autovacuum keeps a hall's tables: plans chosen on real statistics
        else:
            cur.execute("BEGIN IMMEDIATE")
            cur.executemany(sql, rows)
            cur.execute("COMMIT")
        return missing

    def run(self) -> int:
        conn = self._connect()
        try:
            return self.fill(conn)
        finally:
            conn.close()


def run_call_next(procs: list[Proc], database: str, workdir: Path, waiting: int, calls: int,
                  windows: int = 8, warmup: int = 200) -> dict[str, Any]:
    user, password = CREDENTIALS[database]
    staff_sessions = []
    window_ids: list[str] = []
    hall = requests.get(f"http://{HOST}:{procs[0].port}/api/v1/hall", timeout=10).json()
    window_ids = [w["id"] for w in hall["windows"] if any(q["queue"] == CALL_QUEUE for q in w["queues"])][:windows]
    hall_id = hall["hall"]["id"]
    conns: list[Conn] = []
    for i, wid in enumerate(window_ids):
        port = procs[i % len(procs)].port
        s = requests.Session()
        r = s.post(f"http://{HOST}:{port}/api/v1/auth/login", json={"username": user, "password": password},
                   timeout=30)
        r.raise_for_status()
        csrf = r.json()["csrf_token"]
        cookie = "; ".join(f"{k}={v}" for k, v in s.cookies.items())
        staff_sessions.append(s)
        c = Conn(port, {"Cookie": cookie, "X-CSRF-Token": csrf})
        c.window = wid  # type: ignore[attr-defined]
        conns.append(c)
        status, body = c.post(f"/api/v1/windows/{wid}/open")
        if status != 200:
            raise RuntimeError(f"cannot open {wid}: {status} {body[:200]!r}")
    # one ticket through the API sets the service day; the rest are written straight in
    first = requests.post(f"http://{HOST}:{procs[0].port}/api/v1/tickets", json={"queue_id": CALL_QUEUE},
                          timeout=30).json()["ticket"]
    day = first["service_day"]
    per_window = max(1, calls // len(conns))
    warm_per_window = max(1, warmup // len(conns))
    lock = threading.Lock()

    def drive(per_conn: int) -> LoopResult:
        """Each window loops call-next + start until ``per_conn`` pairs per window are made (bounded: 120 s)."""
        res = LoopResult()
        done = {"calls": 0}
        lat: list[float] = []
        errors: dict[str, int] = {}
        t0 = time.monotonic()
        cpu0 = sum(p.cpu() for p in procs)

        def run(c: Conn) -> None:
            while time.monotonic() - t0 < 120:
                with lock:
                    if done["calls"] >= per_conn * len(conns):
                        return
                s0 = time.monotonic()
                status, body = c.post(f"/api/v1/windows/{c.window}/call-next")  # type: ignore[attr-defined]
                if status != 200 or json.loads(body).get("ticket") is None:
                    err: str | None = f"call_{status}" if status != 200 else "empty"
                else:
                    status, _ = c.post(f"/api/v1/windows/{c.window}/start")  # type: ignore[attr-defined]
                    err = None if status == 200 else f"start_{status}"
                    with lock:
                        done["calls"] += 1
                with lock:
                    if err is None:
                        lat.append((time.monotonic() - s0) * 1000)
                    else:
                        errors[err] = errors.get(err, 0) + 1

        threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join(130)
        res.seconds = time.monotonic() - t0
        res.server_cpu_s = sum(p.cpu() for p in procs) - cpu0
        res.ok = done["calls"]
        res.latencies_ms = lat
        res.errors = errors
        return res

    # + 2 per window: a window may start one more pair while the count closes, in each phase
    Seed(database, hall_id, day, waiting + (warm_per_window + per_window + 2) * len(conns)).run()
    # Not measured: the first calls of a fresh server fill its statement caches and lazy imports (at 400 calls
    # that start-up was a third of the figure).
    drive(warm_per_window)
    res = drive(per_window)
    out = res.summary()
    out["double_calls"] = double_calls(database, day)
    out["waiting"] = f"{waiting + per_window * len(conns)} → {waiting}"
    out["warm_up_calls"] = warm_per_window * len(conns)
    return out


def double_calls(database: str, day: str) -> int:
    sql = ("SELECT count(*) FROM (SELECT tt.ticket_id FROM ticket_transitions tt JOIN tickets t ON t.id = tt.ticket_id "
           "WHERE tt.action = 'call' AND t.service_day = '{day}' GROUP BY tt.ticket_id HAVING count(*) > 1) x")
    if database.startswith("postgresql"):
        import psycopg

        with psycopg.connect(database) as c:
            return c.execute(sql.format(day=day)).fetchone()[0]
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as c:
        return c.execute(sql.format(day=day)).fetchone()[0]


CREDENTIALS: dict[str, tuple[str, str]] = {}


# ------------------------------------------------------------------------------------------------ sessions

@contextlib.contextmanager
def pg_database() -> Any:
    import psycopg

    name = f"ow_bench_{secrets.token_hex(5)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def servers(workdir: Path, database: str, mode: str, processes: int) -> Any:
    mq = REDIS_URL.format(db=secrets.randbelow(8) + 8) if processes > 1 else None
    CREDENTIALS[database] = add_supervisor(database, workdir)
    procs: list[Proc] = []
    try:
        for i in range(processes):
            procs.append(onewindow(workdir, database, mode, f"onewindow-{i}", mq).start())
        yield procs
    finally:
        for p in procs:
            p.stop()


def session(args: argparse.Namespace, db: str, processes: int, workdir: Path) -> dict[str, Any]:
    label = f"{db}, {processes} process{'es' if processes > 1 else ''}"
    out: dict[str, Any] = {"label": label, "db": db, "processes": processes, "mode": args.mode,
                           "loadavg_before": os.getloadavg()}
    print(f"\n=== OneWindow ({args.mode}, {label})", flush=True)
    with contextlib.ExitStack() as stack:
        if db == "postgresql":
            database = stack.enter_context(pg_database())
        else:
            database = str(workdir / f"ow-{processes}.db")
        procs = stack.enter_context(servers(workdir, database, args.mode, processes))
        out["rss_idle_mb"] = round(sum(p.rss_mb() for p in procs), 1)
        for n in args.issue_clients:
            r = run_issue(procs, n, args.duration)
            out[f"issue_{n}"] = r
            print(f"  issue, {n:>2} clients: {_fmt(r)}", flush=True)
        for waiting in args.waiting:
            r = run_call_next(procs, database, workdir, waiting, args.calls, warmup=args.call_warmup)
            out[f"call_{waiting}"] = r
            print(f"  call-next, {r['waiting']:>13} waiting, 8 windows: {_fmt(r)}; double calls {r['double_calls']}",
                  flush=True)
    out["loadavg_after"] = os.getloadavg()
    return out


def floors(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    print(f"\n=== floors ({args.mode}, same server classes)", flush=True)
    for kind, nagle in (("hello", True), ("hello", False), ("ticket", False)):
        p = floor(workdir, args.mode, kind, nagle).start()
        try:
            for n in ([1] if nagle else args.issue_clients):
                r = run_issue([p], n, args.duration if not nagle else min(args.duration, 3), path="/")
                key = f"{kind}{'_nagle' if nagle else ''}_{n}"
                out[key] = r
                print(f"  {kind}{' (no TCP_NODELAY)' if nagle else ''}, {n:>2} clients: {_fmt(r)}", flush=True)
        finally:
            p.stop()
    return out


def _fmt(r: dict[str, Any]) -> str:
    errs = f", errors {r['errors']}" if r.get("errors") else ""
    return (f"{r['per_s']}/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, server CPU {r['cpu_ms_per_op']} ms/op"
            f"{errs}")


def ratios(result: dict[str, Any]) -> list[str]:
    """OneWindow beside its floors: latency and CPU ratios, per client count."""
    lines = []
    fl = result["floors"]
    for s in result["sessions"]:
        for n in result["args"]["issue_clients"]:
            ow = s.get(f"issue_{n}")
            if not ow:
                continue
            for kind in ("hello", "ticket"):
                f = fl.get(f"{kind}_{n}")
                if not f or not f["per_s"]:
                    continue
                lines.append(
                    f"{s['label']:<24} issue {n:>2} clients vs {kind:<6}: throughput {ow['per_s'] / f['per_s']:.2f}×, "
                    f"p50 {_div(ow['p50_ms'], f['p50_ms'])}×, CPU/op {_div(ow['cpu_ms_per_op'], f['cpu_ms_per_op'])}×")
    return lines


def _div(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}" if a and b else "—"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", default="gevent", choices=["gevent", "threading"])
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--duration", type=float, default=8.0, help="seconds per issue measurement")
    ap.add_argument("--issue-clients", default="1,16")
    ap.add_argument("--waiting", default="10,1000,10000")
    ap.add_argument("--calls", type=int, default=1600, help="call-next operations per queue length (measured)")
    ap.add_argument("--call-warmup", type=int, default=200,
                    help="call-next operations per queue length before the measured ones (not counted)")
    ap.add_argument("--pg-processes", default="1,2")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    args.issue_clients = [int(x) for x in args.issue_clients.split(",")]
    args.waiting = [int(x) for x in args.waiting.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="onewindow-ops-"))
    print(f"load average {os.getloadavg()}; logs in {workdir}", flush=True)
    result: dict[str, Any] = {"args": {k: v for k, v in vars(args).items()}, "started": datetime.now(UTC).isoformat(),
                              "loadavg_before": os.getloadavg(), "sessions": []}
    result["floors"] = floors(args, workdir)
    for db in args.db.split(","):
        for n in ([1] if db == "sqlite" else [int(x) for x in args.pg_processes.split(",")]):
            result["sessions"].append(session(args, db, n, workdir))
    result["loadavg_after"] = os.getloadavg()
    print("\n=== ratios (OneWindow ÷ floor)")
    for line in ratios(result):
        print("  " + line)
    print(f"\nload average before {result['loadavg_before']}, after {result['loadavg_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
