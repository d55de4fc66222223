"""`onewindow sim led|evaluator|ctl|hall` as real processes: the printed pty is opened by the real drivers, `ctl`
injects faults into the running process, `hall` starts every device of a devices file."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.common.control import send_control
from devices.evaluator.codec import Level, PadState
from devices.evaluator.driver import EvaluatorOffline, EvaluatorPad
from devices.led.codec import ScreenContent
from devices.led.driver import RS485Bus, RS485WindowScreen, ScreenTimeout
from devices.stations import load_devices

REPO = Path(__file__).resolve().parents[3]
ENTRY = "import sys; from devices.sim_cli import main; sys.exit(main(sys.argv[1:]))"


class Sim:
    """A `onewindow sim ...` process whose stdout lines arrive on a queue."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ENTRY, *args],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 10.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s; stderr: {self._stderr()}") from None

    def wait_for(self, predicate, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.line(max(0.01, deadline - time.monotonic()))
            if predicate(line):
                return line

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read() if self.proc.stderr else ""

    def stop(self) -> int:
        if self.proc.poll() is None and self.proc.stdin:
            self.proc.stdin.close()
            self.proc.send_signal(signal.SIGTERM)  # stdin's end alone does not stop a simulator
        try:
            return self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()


def ctl(url: str, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, "ctl", "--json", url, *words], cwd=REPO, capture_output=True, text=True, timeout=20
    )


@pytest.fixture
def led_sim() -> Iterator[Sim]:
    sim = Sim("led", "--address", "3", "--address", "4")
    yield sim
    sim.stop()


def test_sim_led_prints_its_pty_then_control_and_a_driver_works(led_sim: Sim) -> None:
    path = led_sim.line()
    control = led_sim.line()
    assert path.startswith("/dev/pts/")
    assert control.startswith("control: tcp://127.0.0.1:")
    with RS485WindowScreen(path, 3, timeout=0.2, retries=1) as screen:
        screen.show(ScreenContent.for_window(3, ticket="A001", staff="王丽娜"))
        box = led_sim.wait_for(lambda line: "王*娜" in line)
        assert "staff" in box
        assert screen.ping().lines_shown == 3

        url = control.removeprefix("control: ")
        done = ctl(url, "fault", "no_answer", "on", "3")
        assert done.returncode == 0 and json.loads(done.stdout)["ok"], done.stderr
        with pytest.raises(ScreenTimeout):
            screen.ping()
        assert RS485WindowScreen(screen.bus, 4).ping().rows == 4  # the other screen on the bus still answers
        assert ctl(url, "fault", "no_answer", "off").returncode == 0
        assert screen.ping().lines_shown == 3

        refused = ctl(url, "fault", "melt")
        assert refused.returncode == 1 and "unknown fault 'melt'" in refused.stdout

    led_sim.send("status")
    assert "faults" in led_sim.wait_for(lambda line: line.startswith("faults:"))
    assert led_sim.stop() == 0  # SIGTERM ends it cleanly


def test_sim_evaluator_takes_presses_from_stdin_and_from_ctl() -> None:
    sim = Sim("evaluator")
    try:
        path, control = sim.line(), sim.line().removeprefix("control: ")
        with EvaluatorPad(path, reply_timeout=0.3, retries=1) as pad:
            session = pad.begin("A001", "王丽娜", "综合受理岗", "3号窗口", timeout_s=30)
            sim.wait_for(lambda line: "王*娜" in line and session in line)
            sim.send("press 5")
            assert pad.wait(session, timeout=5).level is Level.VERY_SATISFIED

            session = pad.begin("A002", "王丽娜", "综合受理岗", "3号窗口", timeout_s=30)
            asked = ctl(control, "press", "2")
            assert json.loads(asked.stdout)["state"] == "REASON"
            assert pad.ping().state is PadState.REASON
            assert ctl(control, "reason", "2").returncode == 0
            result = pad.wait(session, timeout=5)
            assert (result.level, result.reason_text) == (Level.DISSATISFIED, "服务态度差")

            refused = ctl(control, "press", "5")
            assert refused.returncode == 1 and "no evaluation is open" in refused.stdout
            assert ctl(control, "fault", "offline", "on").returncode == 0
            with pytest.raises(EvaluatorOffline):
                pad.ping()
    finally:
        assert sim.stop() == 0


DEVICES = """
sim_runtime_file = "var/sim-hall.json"
[stations.window-1]
role = "window"
led = { url = "sim://", address = 1 }
evaluator = { url = "sim://", timeout_s = 30 }
[stations.window-2]
role = "window"
led = { url = "sim://window-1/led", address = 2 }
evaluator = { url = "sim://" }
[stations.kiosk-9]
role = "kiosk"
idcard = { url = "/dev/ttyUSB9" }
"""


def test_sim_hall_starts_every_device_and_drivers_find_them_through_sim_urls(tmp_path: Path) -> None:
    devices = tmp_path / "devices.toml"
    devices.write_text(textwrap.dedent(DEVICES), encoding="utf-8")
    hall = Sim("hall", "--config", str(devices))
    try:
        lines = []
        while not (line := hall.line()).startswith("# "):
            lines.append(line)
        assert line.startswith("# 3 simulators running")
        table = {tuple(line.split()[:2]): line.split()[2:] for line in lines}
        assert table[("kiosk-9", "idcard")][0] == "/dev/ttyUSB9"  # real devices are listed, not simulated
        for key in [("window-1", "led"), ("window-2", "led"), ("window-1", "evaluator"), ("window-2", "evaluator")]:
            url, control = table[key][:2]
            assert url.startswith("/dev/pts/") and control.startswith("tcp://127.0.0.1:")
        assert table[("window-1", "led")] == table[("window-2", "led")]  # one bus, two screens
        assert table[("window-1", "evaluator")] != table[("window-2", "evaluator")]

        config = load_devices(devices)
        runtime = json.loads((tmp_path / "var" / "sim-hall.json").read_text())
        assert runtime["pid"] == hall.proc.pid
        left, right = config.resolve("window-1", "led"), config.resolve("window-2", "led")
        bus = RS485Bus(left.url, timeout=0.2, retries=1)
        try:
            RS485WindowScreen(bus, left.settings.address).show(ScreenContent.for_window(1, ticket="A001"))
            RS485WindowScreen(bus, right.settings.address).show(ScreenContent.for_window(2, ticket="B001"))
            assert RS485WindowScreen(bus, 2).ping().lines_shown == 2
            assert ctl(right.control_url, "fault", "no_answer", "on", "2").returncode == 0
            with pytest.raises(ScreenTimeout):
                RS485WindowScreen(bus, 2).ping()
            assert RS485WindowScreen(bus, 1).ping().lines_shown == 2
        finally:
            bus.close()

        pad = config.resolve("window-2", "evaluator")
        with EvaluatorPad(pad.url, reply_timeout=0.3, retries=1) as driver:
            session = driver.begin("A003", "王丽娜", "综合受理岗", "2号窗口", timeout_s=30)
            assert ctl(pad.control_url, "press", "3").returncode == 0
            assert driver.wait(session, timeout=5).level is Level.BASIC

        hall.proc.send_signal(signal.SIGINT)
        assert hall.proc.wait(timeout=10) == 0
        assert not (tmp_path / "var" / "sim-hall.json").exists()  # drivers now hear "not running", not a dead pty
    finally:
        hall.stop()


def test_sim_hall_refuses_a_broken_devices_file(tmp_path: Path) -> None:
    devices = tmp_path / "devices.toml"
    devices.write_text('[stations.window-1]\nrole = "window"\nled = { url = "sim://", address = 0 }\n')
    done = subprocess.run(
        [sys.executable, "-c", ENTRY, "hall", "--config", str(devices)], cwd=REPO, capture_output=True, text=True,
        timeout=20,
    )
    assert done.returncode == 2
    assert "station window-1, device led, address" in done.stderr and "(got 0)" in done.stderr


@pytest.mark.parametrize("kind", ["printer", "scanner", "evaluator"])
def test_sim_without_a_terminal_serves_until_a_signal(kind: str) -> None:
    """Finding 7: ``onewindow sim printer </dev/null &`` printed its address and exited 0 at once."""
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, kind], cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        control = proc.stdout.readline().strip().removeprefix("control: ")
        time.sleep(1.0)  # long past the end of its (empty) input
        assert proc.poll() is None, f"exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
        assert send_control(control, {"cmd": "status"})["ok"]  # still serving its control port
        if url.startswith("/dev/pts/"):
            assert Path(url).exists()
        proc.send_signal(signal.SIGTERM if kind != "scanner" else signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
