"""A small live hall for the agent tests: a queue server subprocess, simulators in this process (real ptys and a
TCP printer), a devices file and runtime file pointing at them, and agents as ``onewindow agent`` subprocesses.

Everything listens on 127.0.0.1; every process started here is stopped by its own handle.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import requests

from devices.camera.simulator import MjpegServer, VirtualCamera
from devices.evaluator.simulator import EvaluatorPadSimulator
from devices.idcard.profiles import load_profiles
from devices.idcard.simulator import IdCardSimulator
from devices.led.simulator import LedBusSimulator
from devices.printer.simulator import PrinterSimulator
from devices.scanner.simulator import ScannerSimulator
from tests.support.live import StaffSession, add_staff
from tests.support.live import device_token as make_device_token
from tests.support.server import ONEWINDOW, LiveServer
from tests.support.waiting import wait_for

CARDS = load_profiles()

DEVICES_TOML = """\
sim_runtime_file = "sim-hall.json"

[stations.kiosk-1]
role = "kiosk"
printer = { url = "sim://", qr = "raster", width_mm = 80 }
idcard = { url = "sim://" }
scanner = { url = "sim://" }
camera = { url = "sim://" }

[stations.window-1]
role = "window"
window_id = "w01"
led = { url = "sim://", address = 1 }
evaluator = { url = "sim://", timeout_s = 60 }
"""


class Server(LiveServer):
    """``onewindow serve`` on a fixed port and database, so it can be killed and started again."""

    def __init__(self, directory: Path) -> None:
        self.database = directory / "hall.db"
        super().__init__(["--database", str(self.database), "--always-open", "--log-level", "WARNING"],
                         directory / "server.log")
        self._staff: StaffSession | None = None
        self._tokens: dict[str, str] = {}

    def start(self, timeout: float = 20.0) -> Server:
        if not self.database.exists():
            add_staff(self.database)  # the supervisor the tests act as
        super().start(timeout)
        return self

    def device_token(self, station: str, path: Path) -> Path:
        """``onewindow devices token STATION`` on this server's database, written to ``path`` (mode 0600)."""
        out = subprocess.run([str(ONEWINDOW), "devices", "token", station, "--database", str(self.database)],
                             capture_output=True, text=True, timeout=30, check=True)
        path.write_text(out.stdout.strip() + "\n", encoding="utf-8")
        path.chmod(0o600)
        return path

    def get(self, path: str, **params: Any) -> Any:
        """A GET as the supervisor the tests act as."""
        if self._staff is None:
            self._staff = StaffSession(self.url)
        response = self._staff.get(f"{self.api}{path}", params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def station_token(self, station: str) -> str:
        """A device token of the station, made once: what its agent (or enrolled kiosk browser) reads with."""
        if station not in self._tokens:
            self._tokens[station] = make_device_token(self.database, station)
        return self._tokens[station]

    def post(self, path: str, body: dict[str, Any]) -> Any:
        if self._staff is None:
            self._staff = StaffSession(self.url)
        response = self._staff.post(f"{self.api}{path}", json=body, timeout=5)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def health(self, station: str, device: str) -> str | None:
        for row in self.get("/stations")["devices"]:
            if row["station"] == station and row["device"] == device:
                return row["status"]
        return None

    def events(self, station: str, kind: str | None = None) -> list[dict[str, Any]]:
        """The stored event log of a station's room (what the server recorded, whoever was listening)."""
        response = requests.get(f"{self.api}/events", params={"since": 0, "rooms": f"station:{station}"},
                                headers={"Authorization": f"Bearer {self.station_token(station)}"}, timeout=5)
        response.raise_for_status()
        found = response.json()["events"]
        return [e["payload"] for e in found if kind is None or e["type"] == kind]

    def command(self, station: str, device: str, command: str, args: dict[str, Any]) -> str:
        return self.post(f"/stations/{station}/commands", {"device": device, "command": command,
                                                           "args": args})["command_id"]

    def result_of(self, station: str, command_id: str) -> dict[str, Any] | None:
        return next((e for e in self.events(station, "command_result") if e["command_id"] == command_id), None)


class Simulators:
    """One simulator per device of the two stations, and the runtime file the agents resolve sim:// through."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.runtime_file = directory / "sim-hall.json"
        self.idcard = IdCardSimulator(CARDS, paced=False).start()
        self.printer = PrinterSimulator(transport="tcp", speed_mm_s=0).start()
        self.scanner = ScannerSimulator(paced=False).start()
        self.led = LedBusSimulator([1]).start()
        self.evaluator = EvaluatorPadSimulator().start()
        self.camera = VirtualCamera(640, 480, fps=5)  # FFmpeg does not open a 320x240 MJPEG stream
        self.camera_stream = MjpegServer(self.camera).start()
        self.write_runtime()

    def urls(self) -> dict[str, str]:
        return {
            "kiosk-1/idcard": self.idcard.path,
            "kiosk-1/printer": self.printer.url,
            "kiosk-1/scanner": self.scanner.path,
            "kiosk-1/camera": self.camera_stream.url,
            "window-1/led": self.led.path,
            "window-1/evaluator": self.evaluator.path,
        }

    def write_runtime(self) -> None:
        payload = {"pid": os.getpid(), "config": str(self.directory / "devices.toml"),
                   "devices": {key: {"url": url} for key, url in self.urls().items()}}
        tmp = self.runtime_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, self.runtime_file)

    def replace_idcard(self) -> IdCardSimulator:
        """The reader is unplugged (its pty vanishes) and plugged back in on a new pty."""
        self.idcard.close()
        self.idcard = IdCardSimulator(CARDS, paced=False).start()
        self.write_runtime()
        return self.idcard

    def close(self) -> None:
        for sim in (self.idcard, self.printer, self.scanner, self.led, self.evaluator, self.camera_stream):
            with contextlib.suppress(Exception):
                sim.close()


class AgentProcess:
    """``onewindow agent`` for one station, its stderr in a log file."""

    def __init__(self, directory: Path, station: str, server: Server, token_file: Path | None = None) -> None:
        self.directory = directory
        # Agents always authenticate: the station's own device token, made on the server's database if not given.
        self.token_file = token_file or server.device_token(station, directory / f"{station}.token")
        self.station = station
        self.server = server
        self.state_dir = directory / "state"
        self.log_path = directory / f"agent-{station}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def outbox(self) -> Path:
        return self.state_dir / f"agent-{self.station}.outbox.jsonl"

    def outbox_count(self) -> int:
        if not self.outbox.exists():
            return 0
        return sum(1 for line in self.outbox.read_bytes().splitlines() if line.strip())

    def start(self) -> AgentProcess:
        cmd = [str(ONEWINDOW), "agent", "--config", str(self.directory / "devices.toml"), "--station", self.station,
               "--server", self.server.url, "--state-dir", str(self.state_dir), "--heartbeat", "2",
               "--reconnect-max", "0.5"]
        if self.token_file is not None:
            cmd += ["--token-file", str(self.token_file)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def kill9(self) -> None:
        assert self.proc is not None and self.proc.poll() is None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM) without waiting; :meth:`stop` waits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


class LiveHall:
    """The queue server, the real simulators and kiosk-1's agent between them: a live kiosk station."""

    def __init__(self, directory: Path) -> None:
        (directory / "devices.toml").write_text(DEVICES_TOML, encoding="utf-8")
        self.sims = Simulators(directory)
        self.server = Server(directory)
        self.agent: AgentProcess | None = None
        self.directory = directory

    def start(self) -> LiveHall:
        self.server.start()
        self.agent = AgentProcess(self.directory, "kiosk-1", self.server).start()
        for device in ("printer", "idcard", "scanner"):
            wait_for(lambda d=device: self.server.health("kiosk-1", d) == "ok", 15, f"kiosk-1/{device} ok")
        return self

    def close(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        self.server.stop()
        self.sims.close()

    def tap(self, card: str) -> None:
        """A card laid on the reader (and lifted once the agent has read it, ready for the next tap)."""
        before = len(self.server.events("kiosk-1", "device_input"))
        self.sims.idcard.place(card)
        wait_for(lambda: len(self.server.events("kiosk-1", "device_input")) > before, 10, "the card read")
        self.sims.idcard.lift()
