"""Load generator for the OneWindow queue server: real python-socketio clients against a server it starts itself.

    .venv/bin/python -m tests.bench.load [--async-mode threading|gevent|both] [--clients 300] [--duration 30]
                                         [--issue-rate 200] [--ramp 25,50,100,150,200,300] [--json out.json]

For each async mode it starts ``onewindow serve --always-open`` on a free 127.0.0.1 port with a fresh SQLite
database in a temporary folder (server-<mode>.log and worker-<n>.log there), adds a supervisor account with
``onewindow users add`` and logs it in (window clients use its cookie where the hall requires login), opens the
windows and issues one ticket per phone tracker over REST, then spreads the clients over ``--processes`` worker
processes (threads inside each):

* kiosks    ``issue_ticket`` (with an idempotency_key) on an open-loop schedule: ``--issue-rate`` tickets/s in
            all, sent on time whether or not earlier ones were answered (at most --max-inflight unanswered
            per kiosk; a ticket due beyond that is counted as not offered);
* windows   every ``--call-interval`` s: ``window_action`` call-next, then start, then finish;
* screens   ``subscribe`` to the hall room; they check every event's ``seq`` (lost, out of order) and time
            each ``ticket_called``;
* trackers  ``subscribe`` with the ``ticket_token`` of their ticket (hall: false), as a phone does.

Two sessions per mode, each with its own server and fresh database (so one does not inherit the other's
waiting tickets): "steady", ``--duration`` s at ``--issue-rate``; and (unless --no-ramp) "ramp", steps of
``--ramp-step`` s at each rate of ``--ramp``. Windows call throughout. Figures per phase: ticket-issue
latency (ack round trip) p50/p95/p99, issue throughput, call-to-screen latency (call-next sent -> each screen
receives the matching ticket_called), events lost / out of order at screens, server RSS (peak, end) and CPU,
and the generator's own CPU. All loops are bounded in time; only 127.0.0.1 is used.

Note on the client: python-socketio's Client (engineio 4.x) runs every incoming message's handler in a new
thread, so two events can be handled in the opposite order to the one they arrived in. The bench makes each
client dispatch messages in its read thread, in arrival order (as a browser does), so that an out-of-order
count measures the server and not the client library.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing as mp
import os
import platform
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

# Queues without a daily cap (police, judicial and project have one, and would refuse tickets once it is
# reached), weighted roughly by the volume of the Hezuo hall.
ISSUE_QUEUES = {
    "comprehensive": 6, "domain": 5, "social-security": 4, "employment": 3, "disability": 1, "enterprise": 3,
    "tax": 3, "civil": 2, "medical": 2, "assisted": 1, "self-service-help": 1, "issuance": 2, "copy": 1,
}
CALL_TIMEOUT = 10.0


# ============================================================================ clients (worker processes)

def _client():  # type: ignore[no-untyped-def]
    import socketio

    sio = socketio.Client(reconnection=False, logger=logging.getLogger("bench.socketio"),
                          engineio_logger=logging.getLogger("bench.engineio"))
    original = sio.eio._trigger_event

    def in_order(event, *args, **kwargs):  # type: ignore[no-untyped-def]
        if event == "message":
            kwargs["run_async"] = False  # handle in the read thread, in arrival order
        return original(event, *args, **kwargs)

    sio.eio._trigger_event = in_order
    return sio


class Client:
    role = "client"

    def __init__(self, url: str, name: str, actor: str | None, cookie: str | None = None) -> None:
        self.url = url
        self.name = name
        self.actor = actor
        self.cookie = cookie
        self.sio = _client()
        self.disconnects: list[tuple[float, str]] = []  # when (monotonic), why

        @self.sio.event
        def disconnect(reason=None):  # type: ignore[no-untyped-def]
            self.disconnects.append((time.monotonic(), str(reason)))

    def connect(self) -> None:
        auth = {"actor": self.actor} if self.actor else None
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.sio.connect(self.url, transports=["websocket"], auth=auth, headers=headers, wait_timeout=15)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sio.disconnect()


class Screen(Client):
    role = "screen"

    def __init__(self, url: str, name: str) -> None:
        super().__init__(url, name, None)
        self.base: int | None = None
        self.seqs: list[int] = []
        self.types: dict[int, str] = {}
        self.no_seq = 0
        self.called: list[tuple[int, float, float | None]] = []
        self.sio.on("*", self._on_any)

    def _on_any(self, event: str, data: Any = None) -> None:
        t = time.monotonic()
        seq = data.get("seq") if isinstance(data, dict) else None
        if seq is None:
            self.no_seq += 1
            return
        self.seqs.append(seq)
        self.types.setdefault(seq, event)
        if event == "ticket_called":
            try:  # age: from the start of the server's transaction ("at", server clock) to now
                age = (time.time() - datetime.fromisoformat(data["at"]).timestamp()) * 1000
            except (KeyError, TypeError, ValueError):
                age = None
            self.called.append((data.get("id"), t, age))

    def subscribe(self) -> None:
        reply = self.sio.call("subscribe", {"hall": True}, timeout=CALL_TIMEOUT)
        if not reply or not reply.get("ok"):
            raise RuntimeError(f"subscribe refused: {reply}")
        self.base = reply["seq"]

    def max_seen(self) -> int:
        return max(self.seqs, default=self.base or 0)

    def analyse(self, final_seq: int) -> dict[str, int]:
        base = self.base or 0
        seen: set[int] = set()
        out_of_order = dup = old = 0
        examples: list[str] = []
        high = base
        for s in self.seqs:
            if s <= base:
                old += 1  # committed before our snapshot: already in it
                continue
            if s in seen:
                dup += 1
                continue
            seen.add(s)
            if s < high:
                out_of_order += 1
                if len(examples) < 4:
                    examples.append(f"{self.types.get(high)}#{high} before {self.types.get(s)}#{s}")
            high = max(high, s)
        lost = sum(1 for s in range(base + 1, final_seq + 1) if s not in seen)
        return {"received": len(self.seqs), "lost": lost, "out_of_order": out_of_order, "duplicates": dup,
                "before_snapshot": old, "no_seq": self.no_seq, "expected": max(0, final_seq - base),
                "disorder_examples": examples}


class Tracker(Client):
    role = "tracker"

    def __init__(self, url: str, name: str, token: str) -> None:
        super().__init__(url, name, None)
        self.token = token
        self.ticket_id: int | None = None
        self.received = 0
        self.called_at: float | None = None
        self.sio.on("*", self._on_any)

    def _on_any(self, event: str, data: Any = None) -> None:
        self.received += 1
        if event == "ticket_called" and isinstance(data, dict) and data.get("id") == self.ticket_id:
            self.called_at = self.called_at or time.monotonic()

    def subscribe(self) -> None:
        reply = self.sio.call("subscribe", {"hall": False, "ticket_token": self.token}, timeout=CALL_TIMEOUT)
        if not reply or not reply.get("ok"):
            raise RuntimeError(f"subscribe refused: {reply}")
        self.ticket_id = reply["ticket"]["id"]


class Kiosk(Client):
    role = "kiosk"

    def __init__(self, url: str, name: str, seed: int, max_inflight: int, named: bool) -> None:
        # A hall that requires login refuses a self-named actor; issue_ticket is open to anonymous kiosks.
        super().__init__(url, name, f"kiosk:{name}" if named else None)
        self.max_inflight = max_inflight
        self.rng = random.Random(seed)
        self.queues = list(ISSUE_QUEUES)
        self.weights = list(ISSUE_QUEUES.values())
        self.inflight = 0
        self.lock = threading.Lock()
        # phase, scheduled, sent, acked (None: no reply), code ("ok", "created_false" or an error code)
        self.results: list[list[Any]] = []

    def subscribe(self) -> None:
        pass

    def issue(self, phase: int, scheduled: float) -> bool:
        with self.lock:
            if self.inflight >= self.max_inflight:
                return False
            self.inflight += 1
        rec: list[Any] = [phase, scheduled, 0.0, None, None]
        self.results.append(rec)

        def on_ack(reply: Any = None) -> None:
            rec[3] = time.monotonic()
            if isinstance(reply, dict) and reply.get("ok"):
                rec[4] = "ok" if reply.get("created") else "created_false"
            else:
                rec[4] = (reply or {}).get("error", {}).get("code", "error") if isinstance(reply, dict) else "error"
            with self.lock:
                self.inflight -= 1

        queue = self.rng.choices(self.queues, self.weights)[0]
        rec[2] = time.monotonic()
        try:
            self.sio.emit("issue_ticket", {"queue_id": queue, "source": self.name,
                                           "idempotency_key": uuid.uuid4().hex}, callback=on_ack)
        except Exception as exc:
            rec[3], rec[4] = time.monotonic(), f"emit_failed:{type(exc).__name__}"
            with self.lock:
                self.inflight -= 1
        return True


class WindowClient(Client):
    role = "window"

    def __init__(self, url: str, name: str, window_id: str, cookie: str | None) -> None:
        # the supervisor's login cookie where the hall requires login, else a self-named actor
        super().__init__(url, name, None if cookie else f"staff:bench-{window_id}", cookie)
        self.window_id = window_id
        self.calls: list[tuple[int, float, float]] = []  # ticket id, sent, acked
        self.empty = 0
        self.errors: Counter[str] = Counter()
        self.action_ms: list[float] = []  # start/finish ack round trips
        self.last_error: str | None = None

    def subscribe(self) -> None:
        pass

    def _act(self, action: str) -> tuple[dict | None, float]:
        t = time.monotonic()
        self.last_error = None
        try:
            r = self.sio.call("window_action", {"window_id": self.window_id, "action": action}, timeout=CALL_TIMEOUT)
        except Exception as exc:
            self.last_error = type(exc).__name__
        else:
            if isinstance(r, dict) and r.get("ok"):
                return r, t
            self.last_error = r.get("error", {}).get("code", "error") if isinstance(r, dict) else "error"
        self.errors[f"{action}:{self.last_error}"] += 1
        return None, t

    def run(self, t0: float, t_end: float, interval: float, seed: int) -> None:
        nxt = t0 + random.Random(seed).uniform(0, interval)
        while True:
            now = time.monotonic()
            if nxt >= t_end:
                return
            if nxt > now:
                time.sleep(nxt - now)
            r, t_sent = self._act("call-next")
            t_ack = time.monotonic()
            if r is not None and r.get("ticket"):
                self.calls.append((r["ticket"]["id"], t_sent, t_ack))
                for action in ("start", "finish"):
                    a, t_a = self._act(action)
                    if a is not None:
                        self.action_ms.append((time.monotonic() - t_a) * 1000)
            elif r is not None:
                self.empty += 1
            elif self.last_error == "current_ticket_pending":
                self._act("start")  # a call whose reply was lost: start it so the next call-next finishes it
            nxt = max(nxt + interval, time.monotonic())


def _kiosk_scheduler(kiosks: list[Kiosk], phases: list[dict], share: float, stats: dict) -> None:
    """Open loop: send each ticket at its scheduled time, on the next kiosk, answered or not."""
    if not kiosks:
        return
    k = 0
    lateness: list[float] = []
    for i, ph in enumerate(phases):
        rate = ph["rate"] * share
        if rate <= 0:
            continue
        step = 1.0 / rate
        n = 0
        while True:
            due = ph["start"] + n * step
            if due >= ph["end"]:
                break
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            else:
                lateness.append(now - due)
            kiosk = kiosks[k % len(kiosks)]
            k += 1
            if not kiosk.issue(i, due):
                stats["skipped"][i] = stats["skipped"].get(i, 0) + 1
            n += 1
    lateness.sort()
    stats["late_p99_ms"] = lateness[int(0.99 * (len(lateness) - 1))] * 1000 if lateness else 0.0
    stats["late_count"] = len(lateness)


def worker_main(idx: int, url: str, roles: list[dict], conn: Any, call_interval: float, log_path: str,
                nice: int = 0) -> None:
    """One worker process: connect its clients, report ready, run the phases, report what it saw."""
    if nice:
        os.nice(nice)
    logging.basicConfig(filename=log_path, level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    clients: list[Client] = []
    failures: Counter[str] = Counter()
    for r in roles:
        c: Client
        if r["role"] == "screen":
            c = Screen(url, r["name"])
        elif r["role"] == "tracker":
            c = Tracker(url, r["name"], r["token"])
        elif r["role"] == "kiosk":
            c = Kiosk(url, r["name"], r["seed"], r["max_inflight"], r["named"])
        else:
            c = WindowClient(url, r["name"], r["window_id"], r["cookie"])
        try:
            c.connect()
            c.subscribe()
            clients.append(c)
        except Exception as exc:
            failures[f"{c.role}:{type(exc).__name__}:{str(exc)[:80]}"] += 1
            c.close()
    conn.send({"type": "ready", "connected": Counter(c.role for c in clients), "failures": failures})
    go = conn.recv()
    if go.get("type") != "go":
        for c in clients:
            c.close()
        return
    phases, t0, t_end = go["phases"], go["t0"], go["t_end"]
    kiosks = [c for c in clients if isinstance(c, Kiosk)]
    windows = [c for c in clients if isinstance(c, WindowClient)]
    stats: dict[str, Any] = {"skipped": {}}
    threads = [threading.Thread(target=_kiosk_scheduler, args=(kiosks, phases, go["kiosk_share"][idx], stats),
                                daemon=True)]
    threads += [threading.Thread(target=w.run, args=(t0, t_end, call_interval, hash((idx, w.window_id))),
                                 daemon=True) for w in windows]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, t_end - time.monotonic()) + 3 * CALL_TIMEOUT + 5)
    conn.send({"type": "done"})
    fin = conn.recv()
    final_seq = fin.get("final_seq") or 0
    screens = [c for c in clients if isinstance(c, Screen)]
    # Wait (bounded) for every screen to be handed the last committed event: a backlog shows as drain time.
    t_drain = time.monotonic()
    deadline = t_drain + fin.get("drain_timeout", 20)
    while time.monotonic() < deadline and any(s.max_seen() < final_seq for s in screens):
        time.sleep(0.1)
    drain_s = time.monotonic() - t_drain
    time.sleep(0.5)  # stragglers after the last one
    trackers = [c for c in clients if isinstance(c, Tracker)]
    result = {
        "type": "result",
        "worker": idx,
        "kiosk_results": [rec for k in kiosks for rec in k.results],
        "skipped": stats["skipped"],
        "late_p99_ms": stats.get("late_p99_ms", 0.0),
        "late_count": stats.get("late_count", 0),
        "calls": [(tid, ts, ta) for w in windows for (tid, ts, ta) in w.calls],
        "window_empty": sum(w.empty for w in windows),
        "window_errors": sum((w.errors for w in windows), Counter()),
        "window_action_ms": [x for w in windows for x in w.action_ms],
        "screens": [s.analyse(final_seq) for s in screens],
        "screen_called": [s.called for s in screens],
        "tracker_events": sum(t.received for t in trackers),
        "tracker_called": [t.called_at for t in trackers if t.called_at is not None and t.ticket_id is not None],
        "tracker_ticket_ids": [t.ticket_id for t in trackers if t.called_at is not None],
        "disconnects": Counter(f"{c.role}: {why}" for c in clients for _, why in c.disconnects),
        "first_disconnect": min((t for c in clients for t, _ in c.disconnects), default=None),
        "drain_s": drain_s,
    }
    conn.send(result)
    for c in clients:
        c.close()


# ============================================================================ coordinator (main process)

def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def plan_clients(args: argparse.Namespace, window_ids: list[str]) -> dict[str, int]:
    kiosks = args.kiosks
    windows = min(args.windows, len(window_ids))
    rest = args.clients - kiosks - windows
    if rest < 0:
        raise SystemExit(f"--clients {args.clients} is fewer than {kiosks} kiosks + {windows} windows")
    screens = min(args.screens, rest)
    return {"kiosk": kiosks, "window": windows, "screen": screens, "tracker": rest - screens}


def _post(session: requests.Session, url: str, body: dict, headers: dict | None = None) -> dict:
    r = session.post(url, json=body, headers=headers or {}, timeout=15)
    r.raise_for_status()
    return r.json()


def session_phases(kind: str, args: argparse.Namespace) -> list[tuple[str, float, float]]:
    """(name, offered issue rate, seconds) of each phase of a session."""
    if kind == "steady":
        return [(f"steady {args.issue_rate:g}/s", args.issue_rate, args.duration)]
    return [(f"ramp {r:g}/s", r, args.ramp_step) for r in args.ramp]


def run_session(mode: str, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """One server, fresh database, all the clients, the phases of ``kind`` (steady or ramp)."""
    from ._server import Sampler, ServerFailed, ServerProcess

    workdir = Path(tempfile.mkdtemp(prefix=f"onewindow-bench-{mode}-{kind}-"))
    srv = ServerProcess(mode, workdir)
    out: dict[str, Any] = {"mode": mode, "session": kind, "workdir": str(workdir), "command": None,
                           "loadavg_before": os.getloadavg()}
    print(f"\n=== {mode}/{kind}: starting the server (log {workdir}/server-{mode}.log)", flush=True)
    try:
        srv.start()
    except ServerFailed as exc:
        out["error"] = f"server failed to start: {exc}"
        print(out["error"], file=sys.stderr)
        return out
    out["command"] = " ".join(srv.command())
    out["startup_s"] = srv.startup_s
    procs: list[Any] = []
    pipes: list[Any] = []
    sampler: Sampler | None = None
    try:
        sampler = Sampler(srv.proc.pid)
        sampler.start()
        s = requests.Session()
        hall = s.get(srv.url + "/api/v1/hall", timeout=10).json()
        window_ids = [w["id"] for w in hall["windows"]]
        counts = plan_clients(args, window_ids)
        window_ids = window_ids[: counts["window"]]
        staff = requests.Session()  # the supervisor: opens the windows, and its cookie signs the window clients in
        user, password = srv.credentials or ("", "")
        login = staff.post(srv.url + "/api/v1/auth/login", json={"username": user, "password": password}, timeout=30)
        login.raise_for_status()
        staff.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        cookie = "; ".join(f"{k}={v}" for k, v in staff.cookies.items())
        for wid in window_ids:
            _post(staff, f"{srv.url}/api/v1/windows/{wid}/open", {}, {"X-Actor": f"staff:bench-{wid}"})
        probe = _client()  # does this hall still let a client name itself? (only where login is not required)
        try:
            probe.connect(srv.url, transports=["websocket"], auth={"actor": "kiosk:bench-probe"}, wait_timeout=10)
            named = True
        except Exception:
            named = False
        finally:
            with contextlib.suppress(Exception):
                probe.disconnect()
        out["login_required"] = not named
        rng = random.Random(42)
        tokens = []
        for i in range(counts["tracker"]):
            q = rng.choices(list(ISSUE_QUEUES), list(ISSUE_QUEUES.values()))[0]
            t = _post(s, srv.url + "/api/v1/tickets", {"queue_id": q, "source": "bench-seed"},
                      {"Idempotency-Key": f"seed-{i}", "X-Actor": "kiosk:bench-seed"})
            tokens.append(t["ticket"]["tracker_token"])
        roles: list[dict] = []
        roles += [{"role": "kiosk", "name": f"k{i:02d}", "seed": i, "max_inflight": args.max_inflight, "named": named}
                  for i in range(counts["kiosk"])]
        roles += [{"role": "window", "name": wid, "window_id": wid, "cookie": None if named else cookie}
                  for wid in window_ids]
        roles += [{"role": "screen", "name": f"s{i:03d}"} for i in range(counts["screen"])]
        roles += [{"role": "tracker", "name": f"t{i:03d}", "token": tok} for i, tok in enumerate(tokens)]
        per_worker: list[list[dict]] = [[] for _ in range(args.processes)]
        by_role: dict[str, int] = Counter()
        for r in roles:  # deal each role round-robin so every worker has a similar mix
            per_worker[by_role[r["role"]] % args.processes].append(r)
            by_role[r["role"]] += 1
        ctx = mp.get_context("spawn")
        print(f"=== {mode}/{kind}: connecting {len(roles)} clients ({dict(counts)}) from {args.processes} processes",
              flush=True)
        t_conn = time.monotonic()
        for i, mine in enumerate(per_worker):
            a, b = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(i, srv.url, mine, b, args.call_interval,
                                                      str(workdir / f"worker-{i}.log"), args.worker_nice),
                            daemon=True)
            p.start()
            procs.append(p)
            pipes.append(a)
        connected: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        for a in pipes:
            if not a.poll(180):
                raise RuntimeError("a worker did not connect its clients within 180 s")
            msg = a.recv()
            connected.update(msg["connected"])
            failures.update(msg["failures"])
        out["connect_s"] = time.monotonic() - t_conn
        out["clients"] = dict(counts)
        out["connected"] = dict(connected)
        out["connect_failures"] = dict(failures)
        sampler.add_workers([p.pid for p in procs])
        time.sleep(1.0)
        idle = sampler.sample()
        out["rss_connected_mb"] = idle.rss / 2**20 if idle else None
        t0 = time.monotonic() + 1.0
        phases: list[dict] = []
        for name, rate, dur in session_phases(kind, args):
            start = phases[-1]["end"] if phases else t0
            phases.append({"name": name, "rate": rate, "start": start, "end": start + dur})
        t_end = phases[-1]["end"]
        kiosk_share = []
        for mine in per_worker:
            n = sum(1 for r in mine if r["role"] == "kiosk")
            kiosk_share.append(n / counts["kiosk"] if counts["kiosk"] else 0.0)
        print(f"=== {mode}/{kind}: load for {t_end - t0:.0f} s: " + ", ".join(p["name"] for p in phases), flush=True)
        for a in pipes:
            a.send({"type": "go", "phases": phases, "t0": t0, "t_end": t_end, "kiosk_share": kiosk_share})
        for a in pipes:
            if not a.poll(max(0.0, t_end - time.monotonic()) + 4 * CALL_TIMEOUT + 30):
                raise RuntimeError("a worker did not finish its phases in time")
            a.recv()
        time.sleep(1.0)
        try:
            snap = s.get(srv.url + "/api/v1/snapshot", timeout=30).json()
            final_seq = snap["seq"]
        except Exception as exc:
            raise RuntimeError(f"cannot read the final seq: {exc}") from exc
        out["waiting_at_end"] = sum(q["waiting"] for q in snap["queues"])
        for a in pipes:
            a.send({"type": "finish", "final_seq": final_seq, "drain_timeout": args.drain_timeout})
        results = []
        for a in pipes:
            if not a.poll(args.drain_timeout + 60):
                raise RuntimeError("a worker did not report its results in time")
            results.append(a.recv())
        end = sampler.sample()
        out["rss_end_mb"] = end.rss / 2**20 if end else None
        out["server_alive_at_end"] = srv.alive()
        out["final_seq"] = final_seq
        out.update(analyse(results, phases, sampler))
        out["rss_peak_mb"] = max(x.rss for x in sampler.samples) / 2**20
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["server_log_tail"] = srv.log_tail()
        print(f"=== {mode}/{kind}: FAILED: {out['error']}\n{out['server_log_tail']}", file=sys.stderr, flush=True)
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
        if sampler is not None:
            with contextlib.suppress(Exception):
                sampler.stop()
        srv.stop()
        out["server_exit_code"] = srv.proc.returncode if srv.proc else None
        out["server_log_errors"] = _log_problems(srv.log_path)
        out["loadavg_after"] = os.getloadavg()
    return out


def _log_problems(path: Path | None) -> list[str]:
    if path is None or not path.exists():
        return []
    keep = [ln for ln in path.read_text(errors="replace").splitlines()
            if any(w in ln for w in ("ERROR", "Traceback", "CRITICAL", "Exception", "WARNING"))]
    return keep[:20]


def analyse(results: list[dict], phases: list[dict], sampler: Any) -> dict[str, Any]:
    kiosk = [rec for r in results for rec in r["kiosk_results"]]
    skipped: Counter[int] = Counter()
    for r in results:
        skipped.update({int(k): v for k, v in r["skipped"].items()})
    calls = [c for r in results for c in r["calls"]]
    call_sent = {tid: ts for tid, ts, _ in calls}
    screen_called = [sc for r in results for sc in r["screen_called"]]
    screens = [s for r in results for s in r["screens"]]
    out_phases = []
    for i, ph in enumerate(phases):
        dur = ph["end"] - ph["start"]
        mine = [rec for rec in kiosk if rec[0] == i]
        answered = [rec for rec in mine if rec[3] is not None]
        lat = [(rec[3] - rec[2]) * 1000 for rec in answered]
        codes = Counter(rec[4] for rec in answered)
        ok_in_window = sum(1 for rec in kiosk if rec[4] == "ok" and ph["start"] <= rec[3] <= ph["end"])
        ph_calls = {tid for tid, ts, _ in calls if ph["start"] <= ts < ph["end"]}
        c2s = [(t - call_sent[tid]) * 1000 for sc in screen_called for tid, t, _ in sc if tid in ph_calls]
        age = [a for sc in screen_called for tid, _, a in sc if tid in ph_calls and a is not None]
        usage = sampler.window(ph["start"], ph["end"])
        out_phases.append({
            "name": ph["name"], "offered_rate": ph["rate"], "duration_s": dur,
            "issue_offered": len(mine) + skipped.get(i, 0), "issue_sent": len(mine), "issue_skipped": skipped.get(i, 0),
            "issue_ok": codes.get("ok", 0), "issue_errors": {k: v for k, v in codes.items() if k != "ok"},
            "issue_no_reply": len(mine) - len(answered),
            # tickets/s: ok answers to the tickets sent in this phase (answered during or after it)
            "issue_rate_achieved": codes.get("ok", 0) / dur,
            "issue_acks_in_phase_rate": ok_in_window / dur,
            "issue_p50_ms": pct(lat, 50), "issue_p95_ms": pct(lat, 95), "issue_p99_ms": pct(lat, 99),
            "issue_max_ms": max(lat, default=None),
            "calls": len(ph_calls), "call_to_screen_samples": len(c2s),
            "c2s_p50_ms": pct(c2s, 50), "c2s_p95_ms": pct(c2s, 95), "c2s_p99_ms": pct(c2s, 99),
            "c2s_max_ms": max(c2s, default=None),
            "tx_to_screen_p50_ms": pct(age, 50), "tx_to_screen_p99_ms": pct(age, 99),
            **usage,
        })
    call_ack = [(ta - ts) * 1000 for _, ts, ta in calls]
    n_screens = len(screens)
    expected_deliveries = len(call_sent) * n_screens
    got_deliveries = sum(1 for sc in screen_called for tid, _, _ in sc if tid in call_sent)
    return {
        "phases": out_phases,
        "calls_total": len(calls),
        "call_next_ack_p50_ms": pct(call_ack, 50), "call_next_ack_p99_ms": pct(call_ack, 99),
        "window_action_p99_ms": pct([x for r in results for x in r["window_action_ms"]], 99),
        "window_empty_calls": sum(r["window_empty"] for r in results),
        "window_errors": dict(sum((Counter(r["window_errors"]) for r in results), Counter())),
        "ticket_called_missing_at_screens": expected_deliveries - got_deliveries,
        "screens": n_screens,
        "screen_events_received": sum(s["received"] for s in screens),
        "screen_events_expected": sum(s["expected"] for s in screens),
        "events_lost": sum(s["lost"] for s in screens),
        "events_out_of_order": sum(s["out_of_order"] for s in screens),
        "events_duplicated": sum(s["duplicates"] for s in screens),
        "screens_with_loss": sum(1 for s in screens if s["lost"]),
        "screens_with_disorder": sum(1 for s in screens if s["out_of_order"]),
        "disorder_examples": list(dict.fromkeys(e for s in screens for e in s["disorder_examples"]))[:6],
        "tracker_events": sum(r["tracker_events"] for r in results),
        "trackers_called": sum(len(r["tracker_called"]) for r in results),
        "disconnects": dict(sum((Counter(r["disconnects"]) for r in results), Counter())),
        "drain_s_max": max(r["drain_s"] for r in results),
        "first_disconnect_s": min((r["first_disconnect"] - phases[0]["start"] for r in results
                                   if r["first_disconnect"] is not None), default=None),
        "generator_late_p99_ms": max(r["late_p99_ms"] for r in results),
    }


# ============================================================================ report

def _f(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


HEADER = (f"{'phase':<15}{'offer/s':>8}{'ok/s':>7}{'iss p50':>8}{'p95':>7}{'p99':>7}{'max':>7}{'err':>5}"
          f"{'noans':>6}{'calls':>6}{'c2s p50':>8}{'p95':>7}{'p99':>7}{'tx>scr99':>9}{'srvCPU':>7}{'genCPU':>7}"
          f"{'other':>6}{'RSSpk':>6}")


def _phase_row(p: dict) -> str:
    return (f"{p['name']:<15}{p['offered_rate']:>8.0f}{p['issue_rate_achieved']:>7.1f}{_f(p['issue_p50_ms'], 0):>8}"
            f"{_f(p['issue_p95_ms'], 0):>7}{_f(p['issue_p99_ms'], 0):>7}{_f(p['issue_max_ms'], 0):>7}"
            f"{sum(p['issue_errors'].values()) + p['issue_skipped']:>5}{p['issue_no_reply']:>6}{p['calls']:>6}"
            f"{_f(p['c2s_p50_ms'], 0):>8}{_f(p['c2s_p95_ms'], 0):>7}{_f(p['c2s_p99_ms'], 0):>7}"
            f"{_f(p['tx_to_screen_p99_ms'], 0):>9}{_f(p['server_cores'], 2):>7}{_f(p['gen_cores'], 2):>7}"
            f"{_f(p['other_cores'], 2):>6}{_f(p['rss_peak_mb'], 0):>6}")


def session_lines(res: dict) -> list[str]:
    lines = [f"-- {res['mode']} / {res['session']}: {res.get('command') or ''}"]
    if res.get("error"):
        lines.append(f"ERROR: {res['error']}")
    if "phases" not in res:
        return lines
    lines.append(f"clients {res.get('connected')}  connect failures {res.get('connect_failures') or 0}  "
                 f"connected in {_f(res.get('connect_s'))} s; login required: {res.get('login_required')}; load average "
                 f"before {_f(res['loadavg_before'][0], 2)}")
    lines.append(HEADER)
    lines.extend(_phase_row(p) for p in res["phases"])
    ph = res["phases"]
    avg = {k: sum(p[k] or 0 for p in ph) / len(ph) for k in ("irq_cores", "steal_cores")}
    lines.append(f"machine during the load: irq+softirq {avg['irq_cores']:.2f} cores, steal {avg['steal_cores']:.2f}; "
                 f"server threads peak {max(p['server_threads_peak'] or 0 for p in ph)}; load average after "
                 f"{_f(res.get('loadavg_after', [None])[0], 2)}")
    lines.append(
        f"screens {res['screens']}: events received {res['screen_events_received']} (expected "
        f"{res['screen_events_expected']}), lost {res['events_lost']}, out of order {res['events_out_of_order']}, "
        f"duplicated {res['events_duplicated']}; ticket_called deliveries missing "
        f"{res['ticket_called_missing_at_screens']}; screens caught up {_f(res['drain_s_max'])} s after the load"
        + (f"; e.g. {', '.join(res['disorder_examples'][:3])}" if res.get("disorder_examples") else ""))
    lines.append(
        f"windows: calls {res['calls_total']}, empty {res['window_empty_calls']}, errors {res['window_errors'] or 0}; "
        f"call-next ack p50 {_f(res['call_next_ack_p50_ms'])} p99 {_f(res['call_next_ack_p99_ms'])} ms; "
        f"trackers: events {res['tracker_events']}, saw own call {res['trackers_called']}; "
        f"waiting at end {res.get('waiting_at_end')}")
    lines.append(
        f"server RSS: connected {_f(res['rss_connected_mb'], 0)} MB, peak {_f(res['rss_peak_mb'], 0)} MB, "
        f"end {_f(res['rss_end_mb'], 0)} MB; disconnects {res['disconnects'] or 0}"
        + (f" (first {res['first_disconnect_s']:.1f} s into the load)" if res.get("first_disconnect_s") else "")
        + "; generator late p99 "
        f"{_f(res['generator_late_p99_ms'])} ms; server log warnings/errors: {len(res.get('server_log_errors') or [])}")
    return lines


def verdict(steady: dict, ramp: dict | None) -> list[str]:
    """The targets, judged on the steady session; the ramp gives the highest rate kept up with."""
    if "phases" not in steady:
        return ["  targets: not measured (the steady session failed)"]
    st = steady["phases"][0]
    c2s, p99 = st["c2s_p99_ms"], st["issue_p99_ms"]
    rss = max(x for x in (steady.get("rss_peak_mb"), (ramp or {}).get("rss_peak_mb")) if x is not None)
    rows = [
        ("300 clients, call-to-screen p99 <= 50 ms", c2s is not None and c2s <= 50 and steady["clients"] and
         sum(steady["connected"].values()) >= 300, f"{_f(c2s)} ms with {sum(steady['connected'].values())} clients"),
        ("issue >= 200/s sustained", st["offered_rate"] >= 200 and st["issue_rate_achieved"] >= 0.95 * 200,
         f"{st['issue_rate_achieved']:.1f}/s achieved at {st['offered_rate']:g}/s offered"),
        ("issue p99 <= 100 ms", p99 is not None and p99 <= 100, f"{_f(p99)} ms"),
        ("server RSS <= 200 MB", rss <= 200, f"peak {_f(rss, 0)} MB"),
        ("events lost / out of order = 0", steady["events_lost"] == 0 and steady["events_out_of_order"] == 0,
         f"{steady['events_lost']} / {steady['events_out_of_order']}"),
    ]
    out = [f"  target {name:<42} {'MET   ' if ok else 'MISSED'} {val}" for name, ok, val in rows]
    if ramp and "phases" in ramp:
        kept = [p for p in ramp["phases"] if p["issue_rate_achieved"] >= 0.95 * p["offered_rate"]]
        fast = [p for p in kept if p["issue_p99_ms"] is not None and p["issue_p99_ms"] <= 100]
        peak = max(ramp["phases"], key=lambda p: p["issue_rate_achieved"])
        out.append("  ramp: highest offered rate kept up with (>= 95%): "
                   + (f"{max(p['offered_rate'] for p in kept):g}/s" if kept else "none")
                   + "; and with issue p99 <= 100 ms: "
                   + (f"{max(p['offered_rate'] for p in fast):g}/s" if fast else "none")
                   + f"; most achieved {peak['issue_rate_achieved']:.1f}/s ({peak['name']}); ramp lost/out of order "
                   f"{ramp['events_lost']}/{ramp['events_out_of_order']}")
    return out


def table(results: list[dict]) -> str:
    lines: list[str] = []
    for mode in dict.fromkeys(r["mode"] for r in results):
        mine = {r["session"]: r for r in results if r["mode"] == mode}
        lines.append(f"\n## async mode: {mode}")
        for r in mine.values():
            lines.extend(session_lines(r))
        if "steady" in mine:
            lines.extend(verdict(mine["steady"], mine.get("ramp")))
    lines.append("\ncolumns: ok/s = tickets issued per second (tickets sent in the phase and issued); iss = issue ack round trip, "
                 "ms; err = error replies + not offered (kiosk had --max-inflight unanswered); noans = never answered; "
                 "c2s = call-next sent -> screen has ticket_called, ms, over all screens; tx>scr99 = p99 from the "
                 "server's transaction start to the screen, ms; CPU in cores (other = the rest of the machine); "
                 "RSSpk = server RSS peak, MB")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import psutil

    cpu = "?"
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "kernel": platform.release()}


def code_version() -> str:
    """The commit under test, and whether the server's code had uncommitted changes (others share the tree)."""
    import subprocess

    from ._server import REPO

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "queue_server"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" + uncommitted changes in queue_server/" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.load", description=__doc__.split("\n\n")[0])
    ap.add_argument("--async-mode", choices=["threading", "gevent", "both"], default="both")
    ap.add_argument("--clients", type=int, default=300, help="connected clients in all (default 300)")
    ap.add_argument("--kiosks", type=int, default=10)
    ap.add_argument("--windows", type=int, default=31, help="window clients (at most the hall's 31)")
    ap.add_argument("--screens", type=int, default=40, help="hall screens; the rest of --clients are trackers")
    ap.add_argument("--duration", type=float, default=30.0, help="steady phase, seconds")
    ap.add_argument("--issue-rate", type=float, default=200.0, help="tickets/s offered in the steady phase")
    ap.add_argument("--call-interval", type=float, default=5.0,
                    help="seconds between call-next at each window (a real window: minutes)")
    ap.add_argument("--ramp", type=lambda s: [float(x) for x in s.split(",") if x], default=[25.0, 50.0, 100.0, 150.0, 200.0, 300.0],
                    help="comma-separated issue rates of the ramp steps after the steady phase")
    ap.add_argument("--ramp-step", type=float, default=6.0, help="seconds per ramp step")
    ap.add_argument("--no-ramp", action="store_true")
    ap.add_argument("--max-inflight", type=int, default=8,
                    help="unanswered issue_ticket per kiosk before a scheduled ticket is counted as not offered")
    ap.add_argument("--processes", type=int, default=4, help="worker processes for the clients")
    ap.add_argument("--worker-nice", type=int, default=0,
                    help="run the client processes at this nice value (e.g. 5: the server gets the CPU first)")
    ap.add_argument("--drain-timeout", type=float, default=20.0)
    ap.add_argument("--json", type=Path, help="write the full results here")
    args = ap.parse_args(argv)
    logging.getLogger("bench").setLevel(logging.ERROR)  # the probe client's "connection closed" is expected
    if args.duration > 600 or args.ramp_step > 120 or len(args.ramp) > 10:
        ap.error("keep runs bounded: --duration <= 600, --ramp-step <= 120, at most 10 ramp steps")
    modes = ["threading", "gevent"] if args.async_mode == "both" else [args.async_mode]
    started = datetime.now().astimezone()
    sessions = ["steady"] + ([] if args.no_ramp else ["ramp"])
    results = [run_session(m, k, args) for m in modes for k in sessions]
    report = {"date": started.isoformat(timespec="seconds"), "machine": machine(), "code": code_version(),
              "argv": ["python", "-m", "tests.bench.load", *(argv if argv is not None else sys.argv[1:])],
              "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "results": results}
    m = report["machine"]
    print(f"\nOneWindow load bench, {report['date']}, {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
          f"Python {m['python']}; code {report['code']}")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str))
        print(f"\nresults written to {args.json}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
