"""``onewindow hall`` owns its children: they end when it ends, however it ends (finding 8).

Real processes: the hall (server in-process), its simulator hall and one agent per station of a small devices file
(one kiosk, one window), killed with SIGTERM, SIGINT or SIGKILL; then a new hall facing what an old one left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from queue_server.hall_runner import check_leftovers

REPO = Path(__file__).resolve().parents[3]

DEVICES = """
sim_runtime_file = "var/sim-hall.json"

[stations.kiosk-1]
role = "kiosk"
printer = { url = "sim://", qr = "raster", width_mm = 80 }
idcard = { url = "sim://", baudrate = 115200 }

[stations.window-1]
role = "window"
window_id = "w01"
led = { url = "sim://", address = 1 }
evaluator = { url = "sim://", timeout_s = 120 }
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes (its parent, the test or init, reaps it)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def wait_until(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


class Hall:
    def __init__(self, tmp: Path, async_mode: str = "threading") -> None:
        self.tmp = tmp
        self.var = tmp / "var"
        self.var.mkdir(exist_ok=True)
        (tmp / "devices.toml").write_text(DEVICES, encoding="utf-8")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "queue_server.cli", "hall", "--port", str(self.port), "--always-open",
             "--async-mode", async_mode, "--database", f"sqlite:///{self.var / 'onewindow.db'}",
             "--devices", str(tmp / "devices.toml")],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def children(self) -> list[int]:
        """The pids in var/hall.json once the hall has started every child."""
        def read() -> list[int] | None:
            try:
                data = json.loads((self.var / "hall.json").read_text())
            except (OSError, ValueError):
                return None
            return [child["pid"] for child in data["children"]] or None

        return wait_until(read, 60, "the hall wrote var/hall.json with its children")

    def output(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        out, _ = self.proc.communicate(timeout=10)
        return out


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "async_mode"), [(signal.SIGKILL, "threading"), (signal.SIGTERM, "threading"),
                                                   (signal.SIGINT, "threading"), (signal.SIGTERM, "gevent")],
                         ids=["kill-9", "term", "int", "term-gevent"])
def test_every_child_ends_with_the_hall(tmp_path: Path, signum: int, async_mode: str) -> None:
    hall = Hall(tmp_path, async_mode)
    try:
        _children_end_with(hall, signum)
    finally:
        if hall.proc.poll() is None:
            hall.proc.kill()
            hall.proc.wait()
        if hall.proc.stdout:
            hall.proc.stdout.close()


def _children_end_with(hall: Hall, signum: int) -> None:
    children = hall.children()
    assert len(children) == 3  # the simulator hall and two agents
    wait_until(lambda: (hall.var / "sim-hall.json").exists(), 30, "the simulators are up")
    assert all(alive(pid) for pid in children)
    hall.proc.send_signal(signum)
    hall.proc.wait(timeout=20)
    wait_until(lambda: not any(alive(pid) for pid in children), 5,
               f"children {[p for p in children if alive(p)]} still running after the hall got {signum!r}")
    # the simulator hall removed its runtime file on the way out: drivers say "not running", not a dead pty
    wait_until(lambda: not (hall.var / "sim-hall.json").exists(), 5, "sim-hall.json removed")
    if signum != signal.SIGKILL:
        assert not (hall.var / "hall.json").exists()


@pytest.mark.slow
def test_a_new_hall_names_what_an_old_one_left_running(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    # An agent left over by an older hall (before halls owned their children), holding its station's lock.
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "onewindow", "agent",
                                 "--station", "kiosk-1"])
    try:
        (var / "agent-kiosk-1.lock").write_text(f"{leftover.pid}\n")
        hall = Hall(tmp_path)
        assert hall.proc.wait(timeout=60) == 1
        out = hall.output()
        assert f"pid {leftover.pid}: " in out and "--station kiosk-1" in out
        assert f"kill {leftover.pid}" in out
        assert not (var / "hall.json").exists()  # it started nothing
    finally:
        leftover.kill()
        leftover.wait()


def test_stale_runtime_files_of_a_dead_hall_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runtime = tmp_path / "sim-hall.json"
    runtime.write_text(json.dumps({"pid": dead.pid, "devices": {}}))
    (tmp_path / "hall.json").write_text(json.dumps({"pid": dead.pid, "children": [{"pid": dead.pid}]}))
    (tmp_path / "agent-window-1.lock").write_text(f"{dead.pid}\n")
    assert check_leftovers(tmp_path, runtime) == []
    assert not runtime.exists() and not (tmp_path / "hall.json").exists()
    # a live pid that is not one of ours (reused by an unrelated program) is not a leftover either
    (tmp_path / "hall.json").write_text(json.dumps({"pid": os.getppid(), "children": []}))
    assert all(pid != os.getppid() or "onewindow" in cmd or "queue_server" in cmd
               for pid, cmd in check_leftovers(tmp_path, runtime))
