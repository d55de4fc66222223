"""A simulated service day under faults, on the demo hall with real simulators, agents and server processes.

    python -m tests.integration.soak.day --hours 8.5 --speed 60 --seed 7        # `make soak`: a whole day
    (tests/integration/soak/test_soak_day.py runs two simulated hours at speed 120 in the normal suite)

The hall is ``config/hall.yaml`` and ``config/devices.toml`` (optionally a subset of its stations): ``onewindow sim
hall`` for the devices, one ``onewindow agent`` per station, and ``onewindow serve`` with ``--clock-speed``. From
this process, seeded random citizens take tickets at the kiosks by ID card (the card reader's simulator, then the
card_read input), by appointment QR (the scanner's simulator, then the code_scanned input) and by touch; windows
call, start, finish, hold and call back, transfer, mark no-shows, pause and ask for 好差评 on the pad (pressed in its
simulator); cases are taken in and approved. Meanwhile faults are injected on a seeded schedule: printer paper out,
ID-card read failures and checksum noise, pad and LED line faults, every serial device unplugged and replugged (the
simulator hall restarted: new ptys and ports), the server killed with SIGKILL and restarted at the simulated time it
had reached, and hall screens dropping their connection and resyncing.

At the end it checks: no acknowledged ticket lost, no ticket number issued twice; every acknowledged window action
persisted (the ticket's final status is the one the last acknowledged action set); every hall screen's state equal
to the server's snapshot; every device input delivered once; no 5xx answer and no traceback in the server log; the
server's RSS at the end within a bound of its RSS after warm-up (see :data:`RSS_GROWTH_LIMIT`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
import socketio

from tests.conftest_server import ONEWINDOW, ServerProcess, free_port
from tests.support.live import PASSWORD, add_staff, device_token

REPO = Path(__file__).resolve().parents[3]
TZ = ZoneInfo("Asia/Shanghai")
KIOSK_QUEUES = ["comprehensive", "comprehensive", "domain", "social-security", "employment", "disability"]
CARD_PROFILES = ["young", "elderly", "tibetan", "foreigner"]
# RSS may grow while caches (SQLAlchemy statement cache, the event fan-out buffers, Python's allocator arenas)
# fill; after the warm-up sample a leak shows as growth proportional to the tickets served. Measured runs grew by
# under 10 MB; 40 MB or 30 % (whichever is larger) leaves room for the allocator without hiding a per-ticket leak.
RSS_GROWTH_LIMIT_MB = 40.0
RSS_GROWTH_LIMIT_RATIO = 0.30
TERMINAL = {"done", "no_show", "cancelled"}


@dataclass
class Plan:
    hours: float = 2.0
    speed: float = 120.0
    seed: int = 1
    start: str = "2026-11-26T09:00:00"  # a Thursday, opening time
    stations: tuple[str, ...] | None = None  # None: every station of config/devices.toml
    server_kills: int = 1
    sim_replugs: int = 1
    device_fault_every_min: float = 15.0  # simulated minutes between device faults
    screen_drop_every_min: float = 10.0
    case_every_min: float = 12.0
    citizen_every_min: float = 1.2  # per kiosk, simulated minutes between citizens
    service_min: tuple[float, float] = (2.0, 8.0)  # simulated minutes a service takes
    screens: int = 2

    @property
    def real_seconds(self) -> float:
        return self.hours * 3600 / self.speed


@dataclass
class Ledger:
    """What the server acknowledged, and what went wrong, from every actor thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    tickets: dict[int, str] = field(default_factory=dict)  # acknowledged ticket id -> number
    issued_by: Counter[str] = field(default_factory=Counter)  # touch / card / qr
    expected_status: dict[int, str] = field(default_factory=dict)  # after the last acknowledged window action
    actions: Counter[str] = field(default_factory=Counter)
    cases: dict[int, str] = field(default_factory=dict)  # case id -> status the last acknowledged action set
    scans: list[str] = field(default_factory=list)  # codes shown to a scanner whose input the kiosk used
    cards: list[str] = field(default_factory=list)  # card_read input ids the kiosk used
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (real seconds since start, kB) of the server

    def add(self, what: str, **values: Any) -> None:
        with self.lock:
            if what == "ticket":
                self.tickets[values["id"]] = values["number"]
                self.issued_by[values["how"]] += 1
                self.expected_status.setdefault(values["id"], "waiting")
            elif what == "action":
                self.actions[values["name"]] += 1
                if values.get("ticket_id") is not None:
                    self.expected_status[values["ticket_id"]] = values["status"]


class Hall:
    """The processes of the hall: server (restartable), simulator hall (restartable), one agent per station."""

    def __init__(self, plan: Plan, directory: Path) -> None:
        self.plan = plan
        self.dir = directory
        self.db = directory / "hall.db"
        self.devices = directory / "devices.toml"
        self.runtime = directory / "sim-hall.json"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.t0 = 0.0
        self.start_at = datetime.fromisoformat(plan.start).replace(tzinfo=TZ)
        self.server: ServerProcess | None = None
        self.sims: subprocess.Popen[bytes] | None = None
        self.agents: dict[str, subprocess.Popen[bytes]] = {}
        self.stations = self._write_devices()

    def _write_devices(self) -> list[str]:
        text = (REPO / "config" / "devices.toml").read_text(encoding="utf-8")
        blocks = text.split("\n[stations.")
        head = blocks[0].replace('sim_runtime_file = "../var/sim-hall.json"', 'sim_runtime_file = "sim-hall.json"')
        keep = [b for b in blocks[1:] if self.plan.stations is None or b.split("]", 1)[0] in self.plan.stations]
        self.devices.write_text(head + "".join("\n[stations." + b for b in keep), encoding="utf-8")
        return [b.split("]", 1)[0] for b in keep]

    def sim_now(self) -> datetime:
        return self.start_at + timedelta(seconds=(time.monotonic() - self.t0) * self.plan.speed)

    # --------------------------------------------------------------------------------------------- processes

    def start(self) -> None:
        add_staff(str(self.db))  # "tester": supervisor and technician (appointments, cases, the event log)
        self._add_clerks()
        tokens = {station: device_token(str(self.db), station) for station in self.stations}
        for station, token in tokens.items():
            path = self.dir / f"{station}.token"
            path.write_text(token + "\n", encoding="utf-8")
            path.chmod(0o600)
        self.t0 = time.monotonic()
        self.start_server()
        self.start_sims()
        for station in self.stations:
            self.start_agent(station)

    def _add_clerks(self) -> None:
        """One clerk per window station, as the demo hall has: window staff of that window, with a post (the pad
        shows it)."""
        from queue_server.clock import SystemClock
        from queue_server.services import staff
        from queue_server.store.db import make_engine, migrate

        engine = make_engine(str(self.db))
        try:
            migrate(engine)
            for station in self.stations:
                if station.startswith("window-"):
                    n = int(station.split("-")[1])
                    staff.add_user(engine, SystemClock().now(), f"clerk{n}", f"{n}号窗口", PASSWORD,
                                   ["window_staff"], [f"w{n:02d}"], post="综合受理岗")
        finally:
            engine.dispose()

    def start_server(self) -> None:
        clock = self.sim_now().strftime("%Y-%m-%dT%H:%M:%S")
        args = ["--database", str(self.db), "--log-level", "INFO", "--clock", clock,
                "--clock-speed", f"{self.plan.speed:g}"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "ONEWINDOW_VAR": str(self.dir / "var")}
        self.server = ServerProcess("server", args, self.dir / "server.log", self.port, env).start(timeout=60)

    def kill_server(self) -> None:
        assert self.server is not None
        self.server.kill9()

    def start_sims(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.runtime.unlink()
        log = open(self.dir / "sim-hall.log", "ab")  # noqa: SIM115 - handed to the child
        self.sims = subprocess.Popen([str(ONEWINDOW), "sim", "hall", "--config", str(self.devices)], stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir)
        log.close()
        deadline = time.monotonic() + 30
        while not self.runtime.exists():
            if time.monotonic() > deadline or self.sims.poll() is not None:
                raise RuntimeError("the simulator hall did not start: " + (self.dir / "sim-hall.log").read_text())
            time.sleep(0.1)

    def stop_sims(self) -> None:
        if self.sims is not None and self.sims.poll() is None:
            self.sims.terminate()
            try:
                self.sims.wait(15)
            except subprocess.TimeoutExpired:
                self.sims.kill()
                self.sims.wait(5)

    def start_agent(self, station: str) -> None:
        log = open(self.dir / f"agent-{station}.log", "ab")  # noqa: SIM115
        self.agents[station] = subprocess.Popen(
            [str(ONEWINDOW), "agent", "--config", str(self.devices), "--station", station, "--server", self.url,
             "--state-dir", str(self.dir / "state"), "--token-file", str(self.dir / f"{station}.token"),
             "--heartbeat", "2", "--reconnect-max", "1"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir)
        log.close()

    def control(self, station: str, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        from devices.common.control import send_control

        runtime = json.loads(self.runtime.read_text(encoding="utf-8"))
        return send_control(runtime["devices"][f"{station}/{kind}"]["control"], request, timeout=5)

    def stop(self) -> None:
        for proc in self.agents.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.agents.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.stop_sims()
        if self.server is not None:
            self.server.stop()

    def server_rss_kb(self) -> int | None:
        if self.server is None or self.server.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.server.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None


class Client:
    """HTTP for one actor: retries through a server restart; records every status; 5xx are failures."""

    def __init__(self, hall: Hall, ledger: Ledger, staff: bool = True, username: str = "tester",
                 station: str | None = None) -> None:
        self.hall, self.ledger = hall, ledger
        self.http = requests.Session()
        self.staff = staff and station is None
        self.username = username
        self.csrf: str | None = None
        if station is not None:  # a kiosk (or any station) acts with its device token, as its agent does
            token = (hall.dir / f"{station}.token").read_text(encoding="utf-8").strip()
            self.http.headers["Authorization"] = f"Bearer {token}"

    def _login(self) -> None:
        r = self.http.post(f"{self.hall.url}/api/v1/auth/login",
                           json={"username": self.username, "password": PASSWORD}, timeout=10)
        r.raise_for_status()
        self.csrf = r.json()["csrf_token"]

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = None, retry: bool = True,
             give_up: float = 60.0) -> tuple[int, Any]:
        """(status, json); (0, None) if the server could not be reached (and ``retry`` is false or time ran out)."""
        deadline = time.monotonic() + give_up
        logins = 0
        while True:
            try:
                if self.staff and self.csrf is None:
                    self._login()
                headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
                if key:
                    headers["Idempotency-Key"] = key
                r = self.http.request(method, f"{self.hall.url}/api/v1{path}", json=body, headers=headers, timeout=15)
            except requests.RequestException as exc:
                # Safe to repeat: a request that never reached a server (refused while it restarts), or one with
                # an Idempotency-Key. Anything else may have been carried out: the caller finds out from the state.
                never_sent = "refused" in str(exc) or "NewConnectionError" in str(exc)
                if not (retry and (never_sent or key)) or time.monotonic() > deadline:
                    return 0, None
                time.sleep(0.3)
                continue
            with self.ledger.lock:
                self.ledger.statuses[r.status_code] += 1
                if r.status_code in (401, 403):
                    self.ledger.notes.append(f"{r.status_code} {method} {path.split('?')[0]} as "
                                             f"{'station' if not self.staff else self.username}: {r.text[:120]}")
            if r.status_code >= 500 and r.status_code != 503:
                with self.ledger.lock:
                    self.ledger.server_errors.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
            if r.status_code == 503 and retry and time.monotonic() < deadline:  # busy or starting: the retry is safe
                time.sleep(0.3)
                continue
            relogin = r.status_code == 401 or (r.status_code == 403 and "csrf" in r.text.lower())
            if relogin and self.staff and retry and logins < 2:
                self.csrf = None  # a session from before a restart: log in again
                logins += 1
                continue
            try:
                return r.status_code, r.json()
            except ValueError:
                return r.status_code, None


# ---------------------------------------------------------------------------------------------- actors


class Actors:
    def __init__(self, hall: Hall, ledger: Ledger, rng: random.Random) -> None:
        self.hall, self.ledger = hall, ledger
        self.seed = rng.randrange(1 << 30)
        self.stop = threading.Event()
        self.windows = [s for s in hall.stations if s.startswith("window-")]
        self.kiosks = [s for s in hall.stations if s.startswith("kiosk-")]
        self.printer_faulty: set[str] = set()

    def sim_sleep(self, minutes: float) -> bool:
        """Sleep ``minutes`` of simulated time; False if the day is over."""
        return not self.stop.wait(minutes * 60 / self.hall.plan.speed)

    def inputs(self, client: Client, station: str, kind: str, since: int) -> list[dict[str, Any]]:
        status, body = client.call("GET", f"/events?since={since}&rooms=station:{station}", retry=False)
        if status != 200:
            return []
        return [e["payload"] for e in body["events"] if e["type"] == "device_input" and e["payload"]["kind"] == kind]

    def wait_input(self, client: Client, station: str, kind: str, since: int, match: Any, seconds: float
                   ) -> dict[str, Any] | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop.is_set():
            found = [p for p in self.inputs(client, station, kind, since) if match(p)]
            if found:
                return found[0]
            time.sleep(0.2)
        return None

    def head(self, client: Client) -> int:
        """The hall's current event seq (the snapshot's, which counts every event, station ones included)."""
        status, body = client.call("GET", "/snapshot")
        return body["seq"] if status == 200 else 0

    # -------------------------------------------------------------------------------------------- kiosks

    def kiosk(self, station: str, index: int) -> None:
        rng = random.Random(self.seed + index)
        client = Client(self.hall, self.ledger, station=station)
        n = 0
        while self.sim_sleep(rng.expovariate(1 / self.hall.plan.citizen_every_min)):
            n += 1
            queue_id = rng.choice(KIOSK_QUEUES)
            roll = rng.random()
            try:
                if roll < 0.3:
                    self._by_card(client, station, queue_id, rng)
                elif roll < 0.5:
                    self._by_qr(client, station, queue_id, n)
                else:
                    self._issue(client, station, {"queue_id": queue_id}, "touch")
            except Exception as exc:  # noqa: BLE001 - an actor's bug is a finding, not a crash of the run
                self.ledger.notes.append(f"kiosk {station}: {type(exc).__name__}: {exc}")

    def _issue(self, client: Client, station: str, fields: dict[str, Any], how: str) -> None:
        status, body = client.call("POST", "/kiosk/tickets", {"station": station, **fields},
                                   key=secrets.token_hex(8))
        if status in (200, 201) and body and body.get("ticket"):
            if body.get("created"):
                self.ledger.add("ticket", id=body["ticket"]["id"], number=body["ticket"]["number"], how=how)
        elif status not in (409, 422, 0):
            self.ledger.notes.append(f"kiosk issue {how}: {status} {str(body)[:160]}")

    def _by_card(self, client: Client, station: str, queue_id: str, rng: random.Random) -> None:
        since = self.head(client)
        try:
            self.hall.control(station, "idcard", {"cmd": "place", "args": [rng.choice(CARD_PROFILES)]})
        except Exception:  # noqa: BLE001 - the simulator hall is being replugged: the citizen tries touch
            self._issue(client, station, {"queue_id": queue_id}, "touch")
            return
        try:
            card = self.wait_input(client, station, "card_read", since, lambda p: True, 8.0)
        finally:
            with contextlib.suppress(Exception):
                self.hall.control(station, "idcard", {"cmd": "lift"})
        if card is None:  # a read failure fault: the citizen uses the touch screen
            self._issue(client, station, {"queue_id": queue_id}, "touch")
            return
        self.ledger.cards.append(card["input_id"])
        self._issue(client, station, {"queue_id": queue_id, "card_input_id": card["input_id"]}, "card")

    def _by_qr(self, client: Client, station: str, queue_id: str, n: int) -> None:
        slot = self.hall.sim_now().replace(microsecond=0) + timedelta(minutes=5)
        status, body = Client(self.hall, self.ledger).call("POST", "/kiosk/appointments",
                                                           {"queue_id": queue_id, "slot_at": slot.isoformat()})
        if status not in (200, 201):
            self.ledger.notes.append(f"appointment: {status} {str(body)[:160]}")
            return
        code = body["appointment"]["code"] if "appointment" in body else body["code"]
        since = self.head(client)
        try:
            self.hall.control(station, "scanner", {"cmd": "scan", "args": [code], "code": code})
        except Exception:  # noqa: BLE001
            return
        scanned = self.wait_input(client, station, "code_scanned", since, lambda p: p["data"].get("code") == code,
                                  8.0)
        if scanned is None:
            return
        self.ledger.scans.append(code)
        status, body = client.call("POST", "/kiosk/checkin", {"station": station, "code": code})
        if status in (200, 201) and body.get("ticket") and body.get("created"):
            self.ledger.add("ticket", id=body["ticket"]["id"], number=body["ticket"]["number"], how="qr")
        elif status not in (200, 201, 409, 422):
            self.ledger.notes.append(f"checkin: {status} {str(body)[:160]}")

    # -------------------------------------------------------------------------------------------- windows

    def window(self, station: str, index: int) -> None:
        rng = random.Random(self.seed + 100 + index)
        window_id = f"w{int(station.split('-')[1]):02d}"
        client = Client(self.hall, self.ledger, username=f"clerk{int(window_id[1:])}")
        base = f"/windows/{window_id}"
        client.call("POST", f"{base}/open", {})
        held: list[int] = []
        lo, hi = self.hall.plan.service_min
        while not self.stop.is_set():
            if held and rng.random() < 0.5:
                ticket_id = held.pop()
                status, body = client.call("POST", f"{base}/call-back", {"ticket_id": ticket_id})
                if status == 200:
                    self.ledger.add("action", name="call-back", ticket_id=ticket_id, status="called")
                    self._serve(client, base, ticket_id, window_id, rng, lo, hi, held, allow_hold=False)
                continue
            status, body = client.call("POST", f"{base}/call-next", {})
            if status == 0:  # no answer: a ticket may have been called; take it from the server's state
                self._recover(client, base)
                continue
            ticket = (body or {}).get("ticket") if status == 200 else None
            if ticket is None:
                if not self.sim_sleep(1.0):
                    break
                continue
            self.ledger.add("action", name="call-next", ticket_id=ticket["id"], status="called")
            self._serve(client, base, ticket["id"], window_id, rng, lo, hi, held, allow_hold=True)
            if rng.random() < 0.03 and client.call("POST", f"{base}/pause", {"reason": "休息"})[0] == 200:
                self.ledger.add("action", name="pause")
                self.sim_sleep(rng.uniform(1, 5))
                if client.call("POST", f"{base}/resume", {})[0] == 200:
                    self.ledger.add("action", name="resume")
        # the day is over: finish what is open so final states are settled
        for ticket_id in held:
            if client.call("POST", f"{base}/call-back", {"ticket_id": ticket_id})[0] == 200:
                self.ledger.add("action", name="call-back", ticket_id=ticket_id, status="called")
                self._act(client, base, "start", ticket_id, "serving")
                self._act(client, base, "finish", ticket_id, "done")

    def _act(self, client: Client, base: str, name: str, ticket_id: int, after: str,
             body: dict[str, Any] | None = None) -> bool:
        status, reply = client.call("POST", f"{base}/{name}", body or {})
        if status == 200:
            self.ledger.add("action", name=name, ticket_id=ticket_id, status=after)
            return True
        # Not acknowledged (no answer: the server died mid-request; or refused): the outcome is unknown to this
        # clerk, so the ticket is not checked against an expectation; the window carries on from the server's state.
        self.ledger.add("action", name=f"{name}:unacknowledged", ticket_id=ticket_id, status="?")
        if status not in (0, 409):
            self.ledger.notes.append(f"{base}/{name} for {ticket_id}: {status} {str(reply)[:160]}")
        self._recover(client, base)
        return False

    def _recover(self, client: Client, base: str) -> None:
        """Settle whatever the server says this window has in hand, so the next call starts clean."""
        status, body = client.call("GET", "/windows")
        if status != 200:
            return
        mine = next((w for w in body.get("windows", body) if isinstance(w, dict) and
                     w.get("window_id") == base.rsplit("/", 1)[1]), None)
        current = (mine or {}).get("current")
        if not current:
            return
        ticket_id = current.get("id")
        self.ledger.add("action", name="recovered", ticket_id=ticket_id, status="?")
        if current.get("status") == "called":
            client.call("POST", f"{base}/start", {})
        if client.call("POST", f"{base}/finish", {})[0] == 200 and ticket_id is not None:
            self.ledger.add("action", name="finish", ticket_id=ticket_id, status="done")

    def _serve(self, client: Client, base: str, ticket_id: int, window_id: str, rng: random.Random, lo: float,
               hi: float, held: list[int], allow_hold: bool) -> None:
        roll = rng.random()
        if roll < 0.05:
            self._act(client, base, "no-show", ticket_id, "no_show")
            return
        if roll < 0.10:
            others = [q for q in ("comprehensive", "domain") if q]
            self._act(client, base, "transfer", ticket_id, "waiting",
                      {"ticket_id": ticket_id, "to_queue": rng.choice(others)})
            return
        if not self._act(client, base, "start", ticket_id, "serving"):
            return
        self.sim_sleep(rng.uniform(lo, hi))
        if allow_hold and rng.random() < 0.06:
            if self._act(client, base, "hold", ticket_id, "held", {"reason": "补材料"}):
                held.append(ticket_id)
            return
        if not self._act(client, base, "finish", ticket_id, "done"):
            return
        if rng.random() < 0.3:
            status, body = client.call("POST", f"{base}/request-evaluation", {})
            if status == 200:
                self.ledger.add("action", name="request-evaluation")
                station = f"window-{int(window_id[1:])}"
                for _ in range(20):
                    with contextlib.suppress(Exception):
                        pad = self.hall.control(station, "evaluator", {"cmd": "status"})
                        if pad.get("state") == "RATING" or "RATING" in str(pad):
                            level = rng.choice([5, 5, 5, 4, 4, 3, 2, 1])
                            reason = rng.choice([1, 2, 3]) if level <= 2 else None
                            request = {"cmd": "press", "level": level, **({"reason": reason} if reason else {})}
                            if self.hall.control(station, "evaluator", request).get("ok", True):
                                self.ledger.add("action", name="rating-pressed")
                            break
                    time.sleep(0.2)

    # -------------------------------------------------------------------------------------------- cases

    def cases(self) -> None:
        rng = random.Random(self.seed + 999)
        client = Client(self.hall, self.ledger)
        n = 0
        pending: list[int] = []
        while self.sim_sleep(rng.expovariate(1 / self.hall.plan.case_every_min)):
            n += 1
            from queue_server.domain.privacy import id_check_char

            body17 = f"62300119800101{n % 900 + 100:03d}"
            status, body = client.call("POST", "/cases", {
                "item_id": "teacher-registration", "applicant_name": "王小娜", "window_id": "w01",
                "id_number": body17 + id_check_char(body17), "phone": "13893912345",
                "materials": ["e_licence", "original", "original", "original"]})
            if status == 201:
                case_id = body["case"]["id"]
                self.ledger.cases[case_id] = body["case"]["status"]
                status, body = client.call("POST", f"/cases/{case_id}/accept", {})
                if status == 200:
                    self.ledger.cases[case_id] = body["case"]["status"]
                    pending.append(case_id)
                else:
                    self.ledger.notes.append(f"case accept: {status} {str(body)[:200]}")
            elif status != 0:
                self.ledger.notes.append(f"case intake: {status} {str(body)[:160]}")
            if pending and rng.random() < 0.7:
                case_id = pending.pop(0)
                status, body = client.call("POST", f"/cases/{case_id}/decide", {"approved": True})
                if status == 200:
                    self.ledger.cases[case_id] = body["case"]["status"]
                    self.ledger.add("action", name="case-approved")
                else:
                    self.ledger.notes.append(f"case decide: {status} {str(body)[:200]}")


# ---------------------------------------------------------------------------------------------- screens


class HallScreen:
    """A hall screen: snapshot, then events; after a drop it reconnects and resyncs from its last seq."""

    def __init__(self, hall: Hall, ledger: Ledger, name: str) -> None:
        self.hall, self.ledger, self.name = hall, ledger, name
        self.lock = threading.Lock()
        self.seq = 0
        self.windows: dict[str, tuple[str, str | None]] = {}
        self.queues: dict[str, int] = {}
        self.sio: socketio.Client | None = None
        self.reconnects = 0
        self.loaded = False  # the first subscribe takes a snapshot; later ones resync from the last seq

    def _apply(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "window_state":
            current = payload.get("current")
            self.windows[payload["window_id"]] = (payload["status"], current["number"] if current else None)
        elif kind == "queue_stats":
            for q in payload["queues"]:
                self.queues[q["queue_id"]] = q["waiting"]

    def _load(self, snapshot: dict[str, Any]) -> None:
        self.windows = {w["window_id"]: (w["status"], w["current"]["number"] if w["current"] else None)
                        for w in snapshot["windows"]}
        self.queues = {q["queue_id"]: q["waiting"] for q in snapshot["queues"]}
        self.seq = snapshot["seq"]
        self.loaded = True

    def _on_event(self, kind: str, payload: Any = None) -> None:
        if not isinstance(payload, dict) or "seq" not in payload:
            return
        with self.lock:
            if payload["seq"] <= self.seq:
                return
            # public events name the previous public event (``prev``): the hall room never sees the others
            if payload.get("prev", payload["seq"] - 1) > self.seq:
                self._resync_locked()
                return
            self._apply(kind, payload)
            self.seq = payload["seq"]

    def _resync_locked(self) -> None:
        status, body = Client(self.hall, self.ledger, staff=False).call("GET", "/snapshot", retry=False)
        if status == 200:
            self._load(body)

    def connect(self) -> bool:
        sio = socketio.Client(reconnection=False)
        sio.on("*", self._on_event)
        try:
            sio.connect(self.hall.url, transports=["polling"], wait_timeout=5)
            with self.lock:
                reply = sio.call("subscribe", {"hall": True, **({"since": self.seq} if self.loaded else {})},
                                 timeout=10)
                if reply.get("snapshot"):
                    self._load(reply["snapshot"])
                for event in reply.get("events") or []:
                    if event["seq"] > self.seq:
                        self._apply(event.get("type") or event.get("event") or "", event.get("payload") or event)
                        self.seq = event["seq"]
                if reply.get("seq", 0) > self.seq and not reply.get("events") and not reply.get("snapshot"):
                    self._resync_locked()
        except Exception:  # noqa: BLE001 - the server is restarting: try again later
            with contextlib.suppress(Exception):
                sio.disconnect()
            return False
        self.sio = sio
        return True

    def drop(self) -> None:
        if self.sio is not None:
            with contextlib.suppress(Exception):
                self.sio.disconnect()
        self.sio = None

    def keep_connected(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.sio is None or not self.sio.connected:
                self.sio = None
                if self.connect():
                    self.reconnects += 1
            stop.wait(0.5)


# ---------------------------------------------------------------------------------------------- faults


class Faults:
    def __init__(self, hall: Hall, ledger: Ledger, actors: Actors, screens: list[HallScreen],
                 rng: random.Random) -> None:
        self.hall, self.ledger, self.actors, self.screens, self.rng = hall, ledger, actors, screens, rng
        plan = hall.plan
        total = plan.hours * 60
        # big faults at seeded times in the middle 80 % of the day, so the end state settles after them
        self.kills = sorted(rng.uniform(0.1, 0.8) * total for _ in range(plan.server_kills))
        self.replugs = sorted(rng.uniform(0.1, 0.8) * total for _ in range(plan.sim_replugs))

    def minute(self) -> float:
        return (time.monotonic() - self.hall.t0) * self.hall.plan.speed / 60

    def run(self, stop: threading.Event) -> None:
        plan = self.hall.plan
        next_device = self.rng.expovariate(1 / plan.device_fault_every_min)
        next_drop = self.rng.expovariate(1 / plan.screen_drop_every_min)
        while not stop.wait(0.2):
            now = self.minute()
            if self.kills and now >= self.kills[0]:
                self.kills.pop(0)
                self.kill_server()
            if self.replugs and now >= self.replugs[0]:
                self.replugs.pop(0)
                self.replug()
            if now >= next_device:
                next_device = now + self.rng.expovariate(1 / plan.device_fault_every_min)
                with contextlib.suppress(Exception):
                    self.device_fault()
            if now >= next_drop and self.screens:
                next_drop = now + self.rng.expovariate(1 / plan.screen_drop_every_min)
                self.rng.choice(self.screens).drop()
                self.ledger.faults["screen_drop"] += 1

    def kill_server(self) -> None:
        self.hall.kill_server()
        self.ledger.faults["server_kill9"] += 1
        time.sleep(self.rng.uniform(0.5, 2.0))
        self.hall.start_server()

    def replug(self) -> None:
        """Every serial device unplugged and plugged back: the simulator hall restarts on new ptys and ports."""
        self.hall.stop_sims()
        time.sleep(self.rng.uniform(0.5, 1.5))
        self.hall.start_sims()
        self.ledger.faults["sim_replug"] += 1

    def device_fault(self) -> None:
        stations = self.hall.stations
        station = self.rng.choice(stations)
        if station.startswith("kiosk-"):
            kind, name = self.rng.choice([("printer", "paper_out"), ("idcard", "read_failed"),
                                          ("idcard", "checksum"), ("scanner", "garbage")])
        elif station.startswith("window-"):
            kind, name = self.rng.choice([("evaluator", "offline"), ("evaluator", "garbage"), ("led", "no_answer"),
                                          ("led", "garbage")])
        else:
            kind, name = "led", "no_answer"
        self.hall.control(station, kind, {"cmd": "fault", "name": name, "on": True, "args": [name, True]})
        self.ledger.faults[f"{kind}:{name}"] += 1
        duration = self.rng.uniform(2, 10)  # simulated minutes
        threading.Timer(duration * 60 / self.hall.plan.speed, self._clear, (station, kind, name)).start()

    def _clear(self, station: str, kind: str, name: str) -> None:
        with contextlib.suppress(Exception):
            self.hall.control(station, kind, {"cmd": "fault", "name": name, "on": False, "args": [name, False]})
            if (kind, name) == ("printer", "paper_out"):
                self.hall.control(station, kind, {"cmd": "reload_paper"})


# ---------------------------------------------------------------------------------------------- the day


@dataclass
class Report:
    plan: Plan
    real_seconds: float
    ledger: Ledger
    db_tickets: int = 0
    duplicates: list[tuple[str, str, int]] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    wrong_status: list[tuple[int, str, str]] = field(default_factory=list)
    screen_mismatch: list[str] = field(default_factory=list)
    input_duplicates: list[str] = field(default_factory=list)
    scans_missing: list[str] = field(default_factory=list)
    ratings_delivered: int = 0
    log_problems: list[str] = field(default_factory=list)
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    case_problems: list[str] = field(default_factory=list)

    @property
    def rss_ok(self) -> bool:
        limit = max(RSS_GROWTH_LIMIT_MB, self.rss_start_mb * RSS_GROWTH_LIMIT_RATIO)
        return self.rss_end_mb - self.rss_start_mb <= limit

    def problems(self) -> list[str]:
        out = []
        if self.lost:
            out.append(f"acknowledged tickets missing: {self.lost[:10]}")
        if self.duplicates:
            out.append(f"ticket numbers issued twice: {self.duplicates[:10]}")
        if self.wrong_status:
            out.append(f"acknowledged actions not persisted (id, expected, found): {self.wrong_status[:10]}")
        if self.screen_mismatch:
            out.append(f"screens differ from the server: {self.screen_mismatch[:10]}")
        if self.input_duplicates:
            out.append(f"device inputs delivered more than once: {self.input_duplicates[:10]}")
        if self.scans_missing:
            out.append(f"scanned codes not delivered: {self.scans_missing[:10]}")
        if self.ratings_delivered != self.ledger.actions["rating-pressed"]:
            out.append(f"ratings pressed {self.ledger.actions['rating-pressed']}, delivered {self.ratings_delivered}")
        if self.ledger.server_errors:
            out.append(f"5xx answers: {self.ledger.server_errors[:5]}")
        if self.log_problems:
            out.append(f"server log: {self.log_problems[:5]}")
        if self.case_problems:
            out.append(f"cases: {self.case_problems[:5]}")
        if not self.rss_ok:
            out.append(f"server RSS grew {self.rss_start_mb:.0f} -> {self.rss_end_mb:.0f} MB")
        return out

    def summary(self) -> dict[str, Any]:
        led = self.ledger
        return {
            "simulated_hours": self.plan.hours, "speed": self.plan.speed, "seed": self.plan.seed,
            "stations": len(self.plan.stations or ()) or "all", "real_seconds": round(self.real_seconds, 1),
            "tickets_acknowledged": len(led.tickets), "tickets_in_database": self.db_tickets,
            "issued_by": dict(led.issued_by), "window_actions": dict(led.actions),
            "cases": len(led.cases), "cases_by_status": dict(Counter(led.cases.values())),
            "card_reads_used": len(led.cards), "qr_scans_used": len(led.scans),
            "ratings_pressed_delivered": [led.actions["rating-pressed"], self.ratings_delivered],
            "faults": dict(led.faults), "http_statuses": dict(sorted(led.statuses.items())),
            "server_rss_mb": [round(self.rss_start_mb, 1), round(self.rss_end_mb, 1)],
            "problems": self.problems(), "notes": led.notes[:20], "notes_total": len(led.notes),
        }


def check(hall: Hall, ledger: Ledger, screens: list[HallScreen], report: Report) -> None:
    client = Client(hall, ledger)
    # Tickets and statuses from the database itself (after a clean stop, every commit is in the file).
    conn = sqlite3.connect(hall.db)
    try:
        rows = conn.execute("SELECT id, number, status, queue_id, service_day FROM tickets").fetchall()
        case_rows = dict(conn.execute("SELECT id, status FROM cases").fetchall())
    finally:
        conn.close()
    report.db_tickets = len(rows)
    by_id = {r[0]: r for r in rows}
    report.lost = [tid for tid in ledger.tickets if tid not in by_id or by_id[tid][1] != ledger.tickets[tid]]
    numbers = Counter((r[4], r[1]) for r in rows)
    report.duplicates = [(day, number, n) for (day, number), n in numbers.items() if n > 1]
    for tid, expected in ledger.expected_status.items():
        found = by_id[tid][2] if tid in by_id else "missing"
        if expected == "?":
            continue
        if expected != found and not (expected == "waiting" and found in ("waiting", "called", "serving", "done",
                                                                          "no_show", "held", "cancelled")):
            report.wrong_status.append((tid, expected, found))
    for case_id, status in ledger.cases.items():
        if case_rows.get(case_id) is None:
            report.case_problems.append(f"case {case_id} missing")
        elif case_rows[case_id] != status:
            report.case_problems.append(f"case {case_id}: acknowledged {status}, database says {case_rows[case_id]}")
    # Device inputs: every input id once; every scanned code the kiosk used exactly once.
    # Read from the database: an input the server accepted is stored as its device_input event. (The API cannot
    # page a station's room past a page that comes back empty with complete=false: its limit counts the hall's
    # events, not the room's, and the reply does not say how far it looked.)
    def stored_inputs() -> list[dict[str, Any]]:
        conn = sqlite3.connect(hall.db)
        try:
            return [json.loads(row[0]) for row in conn.execute("SELECT payload FROM events WHERE type = 'device_input'")]
        finally:
            conn.close()

    # A rating pressed just before the day ended may still be on its way (pad -> agent outbox -> server).
    deadline = time.monotonic() + 20
    while True:
        inputs = stored_inputs()
        if sum(p["kind"] == "rating_given" for p in inputs) >= ledger.actions["rating-pressed"] \
                or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    counts = Counter(p["input_id"] for p in inputs)
    report.input_duplicates = [i for i, n in counts.items() if n > 1]
    codes = Counter(p["data"].get("code") for p in inputs if p["kind"] == "code_scanned")
    report.scans_missing = [c for c in ledger.scans if codes.get(c) != 1]
    report.ratings_delivered = sum(1 for p in inputs if p["kind"] == "rating_given")
    # Screens: their last state against the server's snapshot.
    status, snapshot = client.call("GET", "/snapshot")
    if status == 200:
        truth_windows = {w["window_id"]: (w["status"], w["current"]["number"] if w["current"] else None)
                         for w in snapshot["windows"]}
        truth_queues = {q["queue_id"]: q["waiting"] for q in snapshot["queues"]}
        for screen in screens:
            # the snapshot's seq counts station and staff events too, which a hall screen never sees: the screen
            # is current when its state is the snapshot's (given a moment for the last public events to arrive)
            deadline = time.monotonic() + 10
            while True:
                with screen.lock:
                    diff = [f"{screen.name} {wid}: {screen.windows.get(wid)} != {state}"
                            for wid, state in truth_windows.items() if screen.windows.get(wid) != state]
                    diff += [f"{screen.name} {qid}: {screen.queues.get(qid)} != {waiting}"
                             for qid, waiting in truth_queues.items() if screen.queues.get(qid) != waiting]
                    if screen.seq > snapshot["seq"]:
                        diff.append(f"{screen.name} is ahead of the server: {screen.seq} > {snapshot['seq']}")
                if not diff or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            report.screen_mismatch += diff


def scan_server_log(hall: Hall, report: Report) -> None:
    text = (hall.dir / "server.log").read_text(encoding="utf-8", errors="replace")
    for line in text.splitlines():
        if "Traceback" in line or '" 500 ' in line or " 500 -" in line or "internal_error" in line:
            report.log_problems.append(line[:200])


def run_day(plan: Plan, directory: Path, progress: Any = None) -> Report:
    rng = random.Random(plan.seed)
    ledger = Ledger()
    hall = Hall(plan, directory)
    say = progress or (lambda text: None)
    started = time.monotonic()
    stop = threading.Event()
    threads: list[threading.Thread] = []
    screens: list[HallScreen] = []
    report = Report(plan, 0.0, ledger)
    try:
        hall.start()
        say(f"hall up: {len(hall.stations)} stations, server {hall.url}, simulated {plan.hours:g} h at "
            f"x{plan.speed:g} = {plan.real_seconds:.0f} s")
        actors = Actors(hall, ledger, rng)
        time.sleep(min(5.0, plan.real_seconds * 0.05))  # agents connect, devices report ok
        screens = [HallScreen(hall, ledger, f"screen{i + 1}") for i in range(plan.screens)]
        for screen in screens:
            threads.append(threading.Thread(target=screen.keep_connected, args=(stop,), daemon=True))
        for i, station in enumerate(actors.kiosks):
            threads.append(threading.Thread(target=actors.kiosk, args=(station, i), daemon=True))
        for i, station in enumerate(actors.windows):
            threads.append(threading.Thread(target=actors.window, args=(station, i), daemon=True))
        threads.append(threading.Thread(target=actors.cases, daemon=True))
        faults = Faults(hall, ledger, actors, screens, rng)
        fault_thread = threading.Thread(target=faults.run, args=(stop,), daemon=True)
        for thread in threads:
            thread.start()
        fault_thread.start()
        day_end = hall.t0 + plan.real_seconds
        rss_start_at = hall.t0 + plan.real_seconds * 0.15
        while time.monotonic() < day_end:
            time.sleep(1.0)
            rss = hall.server_rss_kb()
            if rss:
                ledger.rss.append((time.monotonic() - hall.t0, rss))
            if not report.rss_start_mb and time.monotonic() >= rss_start_at and rss:
                report.rss_start_mb = rss / 1024
                say(f"warm-up RSS {report.rss_start_mb:.0f} MB")
        actors.stop.set()
        stop.set()
        fault_thread.join(30)
        for thread in threads:
            thread.join(60)
        # after the last server start (a kill restarts it), RSS at the end of its life vs after its warm-up
        rss = hall.server_rss_kb()
        report.rss_end_mb = (rss or 0) / 1024
        time.sleep(2.0)  # inputs still in an outbox arrive
        check(hall, ledger, screens, report)
    finally:
        stop.set()
        for screen in screens:
            screen.drop()
        hall.stop()
    scan_server_log(hall, report)
    report.real_seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.integration.soak.day", description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=8.5, help="simulated hours (default: 09:00-17:30)")
    parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stations", help="comma-separated subset of config/devices.toml (default: all)")
    parser.add_argument("--server-kills", type=int, default=3)
    parser.add_argument("--replugs", type=int, default=2)
    parser.add_argument("--dir", type=Path, help="where logs and the database go (default: a new temp dir)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    import tempfile

    directory = args.dir or Path(tempfile.mkdtemp(prefix="onewindow-soak-"))
    directory.mkdir(parents=True, exist_ok=True)
    plan = Plan(hours=args.hours, speed=args.speed, seed=args.seed, server_kills=args.server_kills,
                sim_replugs=args.replugs,
                stations=tuple(args.stations.split(",")) if args.stations else None)
    report = run_day(plan, directory, progress=lambda text: print(text, flush=True))
    summary = report.summary()
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    print(f"logs and database in {directory}")
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
