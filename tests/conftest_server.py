"""Shared fixtures and helpers for tests against LIVE queue servers (``onewindow serve`` as a subprocess).

Imported by ``tests/integration/server/conftest.py``. Everything listens on 127.0.0.1 only; every server started
through the ``servers`` fixture is terminated in teardown, and its log is attached to the report of a failed test.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import engineio
import pytest
import requests
import socketio

from queue_server.domain.errors import DomainError
from tests.support.live import PASSWORD, add_staff
from tests.support.server import ONEWINDOW as ONEWINDOW  # re-exported: the server tests' launcher path
from tests.support.server import REPO as REPO
from tests.support.server import LiveServer, free_port

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"

# A Thursday inside the morning session (09:00-12:00, issuing stops 15 min before the end).
MORNING = "2026-11-26T09:30"

# A small hall with the same schema as config/hall.yaml: two shared queues served by six windows, and a queue
# ("solo") served by one window only, so the calling order there is fully determined by the policy.
TEST_HALL_YAML = """\
hall:
  id: {hall_id}
  name: {{zh: 测试大厅, en: Test hall}}
  timezone: Asia/Shanghai
  rollover_at: "03:00"
  elderly_age: 60
hours:
  sessions:
    - {{start: "09:00", end: "12:00"}}
    - {{start: "14:30", end: "17:30"}}
  weekdays: [1, 2, 3, 4, 5]
  stop_issuing_before_end_min: 15
calling:
  priority_per_normal: 2
  max_recalls: 2
sites:
  - {{id: main, name: {{zh: 主楼}}}}
zones:
  - {{id: zmain, site: main, kind: comprehensive, name: {{zh: 综合区}}}}
  - {{id: zsolo, site: main, kind: domain, name: {{zh: 专区}}}}
departments:
  - {{id: dep, name: 测试部门}}
queues:
  - {{id: qa, prefix: A, name: {{zh: 甲类}}, zone: zmain}}
  - {{id: qb, prefix: B, name: {{zh: 乙类}}, zone: zmain}}
  - {{id: solo, prefix: C, name: {{zh: 丙类}}, zone: zsolo}}
windows:
  - {{id: w01, number: 1, name: {{zh: 1号窗口}}, zone: zmain, queues: [{{queue: qa, weight: 2}}, {{queue: qb}}]}}
  - {{id: w02, number: 2, name: {{zh: 2号窗口}}, zone: zmain, queues: [{{queue: qa}}, {{queue: qb}}]}}
  - {{id: w03, number: 3, name: {{zh: 3号窗口}}, zone: zmain, queues: [{{queue: qa}}, {{queue: qb, weight: 2}}]}}
  - {{id: w04, number: 4, name: {{zh: 4号窗口}}, zone: zmain, queues: [{{queue: qa}}, {{queue: qb}}]}}
  - {{id: w05, number: 5, name: {{zh: 5号窗口}}, zone: zmain, queues: [{{queue: qb}}, {{queue: qa}}]}}
  - {{id: w06, number: 6, name: {{zh: 6号窗口}}, zone: zmain, queues: [{{queue: qb, weight: 3}}, {{queue: qa}}]}}
  - {{id: w09, number: 9, name: {{zh: 9号窗口}}, zone: zsolo, queues: [{{queue: solo}}]}}
items:
  - {{id: item-a, name: 甲类事项, department: dep, queue: qa, kind: immediate}}
"""
SHARED_WINDOWS = ["w01", "w02", "w03", "w04", "w05", "w06"]


def write_hall(directory: Path, hall_id: str = "testhall", name: str = "hall.yaml") -> Path:
    path = directory / name
    path.write_text(TEST_HALL_YAML.format(hall_id=hall_id), encoding="utf-8")
    return path


class ServerProcess(LiveServer):
    """One ``onewindow serve`` subprocess with its log file (the shared launcher, named for the factory)."""

    def __init__(self, name: str, args: list[str], log_path: Path, port: int, env: dict[str, str]) -> None:
        super().__init__(args, log_path, port=port, env=env, name=name)


class ServerFactory:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[ServerProcess] = []
        self._staffed: set[str] = set()

    def start(self, *, database: str, config: Path | None = None, clock: str | None = MORNING,
              always_open: bool = False, message_queue: str | None = None, port: int | None = None,
              extra: list[str] | None = None, env: dict[str, str] | None = None,
              name: str | None = None, timeout: float = 30.0) -> ServerProcess:
        if database not in self._staffed:
            # Window actions need a logged-in member of staff: "tester", a supervisor, acts for every window.
            with contextlib.suppress(DomainError):
                add_staff(database)
            self._staffed.add(database)
        args = ["--database", database, "--log-level", "INFO"]
        if config is not None:
            args += ["--config", str(config)]
        if clock:
            args += ["--clock", clock]
        if always_open:
            args.append("--always-open")
        if message_queue:
            args += ["--message-queue", message_queue]
        args += extra or []
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "ONEWINDOW_VAR": str(self.directory / "var"),
                    **(env or {})}
        name = name or f"server{len(self.started) + 1}"
        srv = ServerProcess(name, args, self.directory / f"{name}.log", port or free_port(), full_env)
        self.started.append(srv)
        return srv.start(timeout)

    def restart(self, old: ServerProcess, **changes: Any) -> ServerProcess:
        """Start a new process on the same port and log file with the same arguments, ``--clock`` replaced."""
        args = list(old.args)
        if "clock" in changes:
            i = args.index("--clock")
            args[i + 1] = changes["clock"]
        srv = ServerProcess(old.name, args, old.log_path, old.port, old.env)
        self.started.append(srv)
        return srv.start()

    def stop_all(self) -> None:
        for s in reversed(self.started):
            with contextlib.suppress(Exception):
                s.stop()

    def logs(self) -> str:
        seen: set[Path] = set()
        out = []
        for s in self.started:
            if s.log_path not in seen:
                seen.add(s.log_path)
                out.append(f"----- {s.name} ({s.log_path}) -----\n{s.log_text()[-20000:]}")
        return "\n".join(out)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    factory: ServerFactory | None = getattr(item, "_ow_servers", None)
    if factory is not None and rep.failed and factory.started:
        rep.sections.append(("onewindow server logs", factory.logs()))


@pytest.fixture
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    request.node._ow_servers = factory
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def module_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Servers shared by the tests of one module; attach them to a test with ``request.node._ow_servers``."""
    factory = ServerFactory(tmp_path_factory.mktemp("servers"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def hall_yaml(tmp_path: Path) -> Path:
    return write_hall(tmp_path)


# ---------------------------------------------------------------------------------------------- HTTP helpers


class Api:
    """A tiny REST client bound to one server; returns (status, json) and never raises on 4xx."""

    def __init__(self, base: str, actor: str = "staff:tester") -> None:
        self.base = base
        self.actor = actor
        self.session = requests.Session()
        self._logged_in = not actor.startswith(("staff:", "device:"))  # kiosks and citizens need no login

    def _login(self) -> None:
        """Staff (and the worker processes that act as windows) log in as the tester supervisor."""
        r = self.session.post(self.base + "/auth/login", json={"username": "tester", "password": PASSWORD},
                              timeout=15)
        assert r.status_code == 200, f"login failed: {r.status_code} {r.text[:300]}"
        self.session.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        self._logged_in = True

    def request(self, method: str, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        if not self._logged_in:
            self._login()
        r = self.session.request(method, self.base + path, json=json, timeout=kw.pop("timeout", 15), **kw)
        ctype = r.headers.get("Content-Type", "")
        assert ctype.startswith("application/json"), f"{method} {path}: {r.status_code} {ctype}: {r.text[:300]}"
        return r.status_code, r.json()

    def get(self, path: str, **kw: Any) -> Any:
        status, body = self.request("GET", path, **kw)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, json: Any = None, expect: int | tuple[int, ...] = 200, **kw: Any) -> Any:
        status, body = self.request("POST", path, json=json if json is not None else {}, **kw)
        ok = expect if isinstance(expect, tuple) else (expect,)
        assert status in ok, (path, json, status, body)
        return body

    def issue(self, queue_id: str = "qa", key: str | None = None, **fields: Any) -> dict[str, Any]:
        headers = {"Idempotency-Key": key or secrets.token_hex(8)}
        return self.post("/tickets", {"queue_id": queue_id, **fields}, expect=201, headers=headers)["ticket"]

    def head_seq(self) -> int:
        return self.get("/snapshot")["seq"]

    def close(self) -> None:
        self.session.close()


# ---------------------------------------------------------------------------------------------- Socket.IO


class _InOrderEngineIO(engineio.Client):
    """python-engineio hands every message to a new thread, so handlers may run out of arrival order; here
    messages are handled on the reading thread, so the recorded order is the order the server sent them in."""

    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class _InOrderClient(socketio.Client):
    def _engineio_client_class(self) -> type[engineio.Client]:
        return _InOrderEngineIO


class Screen:
    """A hall screen (or any listener): records every event with its seq, in arrival order."""

    def __init__(self, url: str, name: str = "screen", actor: str | None = None) -> None:
        self.url, self.name, self.actor = url, name, actor
        self.sio = _InOrderClient(reconnection=False)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.cond = threading.Condition()
        self.sio.on("*", self._on_any)

    def _on_any(self, event: str, data: Any = None) -> None:
        with self.cond:
            self.events.append((event, data))
            self.cond.notify_all()

    def connect(self, url: str | None = None) -> Screen:
        self.url = url or self.url
        headers, auth = {}, None
        if self.actor and self.actor.startswith("staff:"):
            api = Api(self.url + "/api/v1", self.actor)
            api._login()
            headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in api.session.cookies)
            auth = {"csrf_token": api.session.headers["X-CSRF-Token"]}  # the page's token: this socket may act
        self.sio.connect(self.url, transports=["websocket"], headers=headers, auth=auth, wait_timeout=10)
        return self

    def call(self, event: str, data: Any = None, timeout: float = 15) -> Any:
        return self.sio.call(event, data, timeout=timeout)

    def subscribe(self, **sub: Any) -> dict[str, Any]:
        reply = self.call("subscribe", sub)
        assert reply.get("ok"), reply
        return reply

    def drop(self) -> None:
        """Drop the connection the way a network failure does (shut the socket down). A graceful
        ``disconnect()`` of python-engineio waits up to 3 s for the server's WebSocket close frame."""
        eio = self.sio.eio
        ws = getattr(eio, "ws", None)
        if self.sio.connected and ws is not None and getattr(ws, "sock", None) is not None:
            with contextlib.suppress(OSError):
                ws.sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 5
        while (self.sio.connected or eio.state != "disconnected") and time.monotonic() < deadline:
            time.sleep(0.01)
        task = getattr(eio, "read_loop_task", None)
        if task is not None:
            task.join(max(deadline - time.monotonic(), 0.1))
        assert not self.sio.connected, f"{self.name} is still connected"

    disconnect = drop

    def seqs(self) -> list[int]:
        with self.cond:
            return [d["seq"] for _e, d in self.events if isinstance(d, dict) and "seq" in d]

    def of_type(self, event: str) -> list[dict[str, Any]]:
        with self.cond:
            return [d for e, d in self.events if e == event]

    def wait_for_seq(self, seq: int, timeout: float = 15, first: int | None = None) -> None:
        """Wait for an event with ``seq`` (or later); with ``first``, for every seq from ``first`` to ``seq``
        (events may arrive out of order, see test_postgres.py)."""
        deadline = time.monotonic() + timeout
        wanted = set(range(first, seq + 1)) if first is not None else None

        def done() -> bool:
            got = {d["seq"] for _e, d in self.events if isinstance(d, dict) and "seq" in d}
            if wanted is not None:
                return wanted <= got
            return any(s >= seq for s in got)

        with self.cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    have = max((d.get("seq", -1) for _e, d in self.events if isinstance(d, dict)), default=None)
                    raise AssertionError(f"{self.name}: events up to seq {seq} not all received within {timeout}s "
                                         f"(highest {have})")
                self.cond.wait(left)


def assert_contiguous(seqs: list[int], first: int, last: int, who: str = "") -> None:
    """``seqs`` is exactly first..last in order: no gap, no duplicate, no reordering."""
    expected = list(range(first, last + 1))
    if seqs == expected:
        return
    missing = sorted(set(expected) - set(seqs))
    dupes = sorted({s for s in seqs if seqs.count(s) > 1})
    out_of_order = [(a, b) for a, b in zip(seqs, seqs[1:], strict=False) if b <= a]
    extra = sorted(set(seqs) - set(expected))
    raise AssertionError(f"{who}: seqs {first}..{last} not received exactly once in order: missing={missing[:20]} "
                         f"duplicates={dupes[:20]} out_of_order={out_of_order[:20]} unexpected={extra[:20]} "
                         f"(received {len(seqs)}, expected {len(expected)})")


# ---------------------------------------------------------------------------------------------- PostgreSQL/Redis


def require_postgres() -> None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - anything here means the service is not usable
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); these tests need it running "
                    "(it runs on this machine: start it, e.g. `service postgresql start`)", pytrace=False)


def require_redis() -> None:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        try:
            assert client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); these tests need it running "
                    "(e.g. `service redis-server start`)", pytrace=False)


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new PostgreSQL database (the server's Alembic migration creates the tables), dropped afterwards.
    Yields its URL."""
    require_postgres()
    import psycopg

    name = f"ow_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def migrated_pg_engine(hall_id: str = "test") -> Iterator[Any]:
    """An engine on a fresh, migrated PostgreSQL database holding the hall's row; disposed and dropped afterwards."""
    from queue_server.store.db import ensure_hall, make_engine, migrate

    with fresh_pg_database() as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            ensure_hall(engine, hall_id)
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def pg_database() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


# ---------------------------------------------------------------------------------------------- worker processes


def hammer_worker(bases: list[str], worker: int, tickets: int, windows: list[str], deadline_s: float,
                  out: Any) -> None:
    """Run in a separate process (multiprocessing, spawn): issue ``tickets`` tickets round-robin over the
    servers, then drive ``windows`` (call-next/start/finish) round-robin over the servers until nothing is left
    to call. Puts one dict on ``out``: issued tickets and the calls made."""
    sessions = [Api(b, actor=f"device:proc{worker}") for b in bases]
    issued: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        for i in range(tickets):
            api = sessions[(worker + i) % len(sessions)]
            t = api.issue("qa" if i % 2 else "qb", key=f"proc{worker}-{i}-{secrets.token_hex(4)}")
            issued.append({"id": t["id"], "number": t["number"], "queue_id": t["queue_id"], "via": api.base})
        deadline = time.monotonic() + deadline_s
        idle_rounds = 0
        n = 0
        while time.monotonic() < deadline and idle_rounds < 3:
            idle_rounds += 1
            for w in windows:
                api = sessions[n % len(sessions)]
                n += 1
                status, body = api.request("POST", f"/windows/{w}/call-next", json={})
                if status != 200:
                    errors.append(f"{w} call-next via {api.base}: {status} {body}")
                    continue
                t = body.get("ticket")
                if t is None:
                    continue
                idle_rounds = 0
                calls.append({"window": w, "id": t["id"], "number": t["number"], "via": api.base})
                api2 = sessions[n % len(sessions)]
                api2.post(f"/windows/{w}/start")
                api2.post(f"/windows/{w}/finish")
            time.sleep(0.05)
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        for s in sessions:
            s.close()
    out.put({"worker": worker, "issued": issued, "calls": calls, "errors": errors})


def first_reordering(screen: Screen) -> tuple[int, int] | None:
    seqs = screen.seqs()
    for a, b in zip(seqs, seqs[1:], strict=False):
        if b <= a:
            return a, b
    return None


def order_stress(procs: list[ServerProcess], screens: list[Screen], starts: list[int], seconds: float,
                 kiosks: int = 6, readers: int = 6) -> list[str]:
    """Concurrent writers (every shared window: issue, call-next, start, finish) and readers (GET /snapshot)
    spread over ``procs`` until ``seconds`` pass or a screen receives an event before an earlier one. Returns
    the problems each screen shows (gaps, duplicates, reordering); empty when all is well."""
    stop = threading.Event()
    failures: list[str] = []

    def writer(n: int, w: str) -> None:
        api = Api(procs[n % len(procs)].api, actor=f"staff:{w}")
        try:
            i = 0
            while not stop.is_set():
                api.issue("qa" if (i + n) % 2 else "qb")
                i += 1
                if api.post(f"/windows/{w}/call-next")["ticket"] is not None:
                    api.post(f"/windows/{w}/start")
                    api.post(f"/windows/{w}/finish")
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"{w}: {exc!r}")
        finally:
            api.close()

    def kiosk(n: int) -> None:
        api = Api(procs[n % len(procs)].api, actor=f"kiosk:k{n}")
        try:
            i = 0
            while not stop.is_set():
                api.issue("qa" if (i + n) % 2 else "qb")
                i += 1
        except Exception as exc:  # noqa: BLE001
            failures.append(f"kiosk {n}: {exc!r}")
        finally:
            api.close()

    def reader(n: int) -> None:
        api = Api(procs[n % len(procs)].api, actor=f"device:screen{n}")
        try:
            while not stop.is_set():
                api.get("/snapshot")
        except Exception as exc:  # noqa: BLE001
            failures.append(f"reader {n}: {exc!r}")
        finally:
            api.close()

    threads = [threading.Thread(target=writer, args=(n, w)) for n, w in enumerate(SHARED_WINDOWS)]
    threads += [threading.Thread(target=kiosk, args=(n,)) for n in range(kiosks)]
    threads += [threading.Thread(target=reader, args=(n,)) for n in range(readers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and not failures:
            if any(first_reordering(s) for s in screens):
                break
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not failures, failures
    head = Api(procs[0].api).head_seq()
    problems = []
    for screen, start in zip(screens, starts, strict=True):
        screen.wait_for_seq(head, timeout=20, first=start + 1)
        try:
            # seqs past the head read come from a later background write (queue figures), not from this run
            assert_contiguous([s for s in screen.seqs() if start < s <= head], start + 1, head, screen.name)
        except AssertionError as exc:
            problems.append(str(exc))
    return problems


class DelayProxy:
    """A TCP proxy on 127.0.0.1 that holds back every chunk sent towards the upstream by ``delay`` seconds
    (order kept; replies come back at once): a slow link between one server process and Redis."""

    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        # Set: nothing more reaches the upstream although every connection stays open (a hung Redis, a
        # half-dead link); cleared: what was held back goes through in order.
        self.frozen = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True, name="delay-proxy").start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            self.sockets += [client, upstream]
            pending: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
            threading.Thread(target=self._read, args=(client, pending), daemon=True).start()
            threading.Thread(target=self._send_later, args=(upstream, pending), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _read(self, src: socket.socket, pending: queue.Queue[tuple[float, bytes] | None]) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                pending.put((time.monotonic() + self.delay, data))
        pending.put(None)

    def _send_later(self, dst: socket.socket, pending: queue.Queue[tuple[float, bytes] | None]) -> None:
        with contextlib.suppress(OSError):
            while (item := pending.get()) is not None:
                due, data = item
                time.sleep(max(due - time.monotonic(), 0))
                while self.frozen.is_set() and not self.stopped.is_set():
                    time.sleep(0.01)
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.stopped.set()
        for s in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                s.close()
