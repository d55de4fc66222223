"""The agent's moving parts without a server: a device worker's reopen loop, the dispatcher, the courier."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import serial

from devices.agent.backoff import Backoff
from devices.agent.courier import Courier
from devices.agent.dispatch import Dispatcher
from devices.agent.link import LinkDown
from devices.agent.outbox import Outbox
from devices.agent.state import AgentState
from devices.agent.workers.base import Command, DeviceWorker, Health
from devices.agent.workers.led import LedWorker
from devices.stations import LedDevice
from tests.support.waiting import wait_for


class Host:
    station = "kiosk-1"

    def __init__(self) -> None:
        self.health: list[tuple[str, str]] = []
        self.details: list[dict[str, Any]] = []
        self.inputs: list[tuple[str, str, dict[str, Any]]] = []
        self.port_exists = True
        self.broken = False

    def resolve_url(self, kind: str) -> str:
        if not self.port_exists:
            raise OSError("sim:// needs a running simulator hall")
        return "/dev/pts/99"

    def report_health(self, kind: str, health: Health) -> None:
        self.health.append((kind, health.status))
        self.details.append(health.detail)

    def submit_input(self, kind: str, input_kind: str, data: dict[str, Any]) -> None:
        self.inputs.append((kind, input_kind, data))


class FakeWorker(DeviceWorker):
    kind = "scanner"
    commands = ("echo",)
    poll_interval = 0.02

    def open(self, url: str) -> None:
        if self.host.broken:  # type: ignore[attr-defined]
            raise serial.SerialException(f"could not open port {url}")

    def close_device(self) -> None:
        pass

    def check(self) -> Health:
        if self.host.broken:  # type: ignore[attr-defined]
            raise serial.SerialException("read failed: [Errno 5] Input/output error")
        return Health("ok")

    def execute(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"echo": args}


def _command(name: str, results: list[tuple[bool, str | None, Any]]) -> Command:
    return Command("c", name, {"x": 1}, lambda ok, error, result: results.append((ok, error, result)))


def test_a_worker_reports_offline_when_the_device_drops_and_ok_when_it_is_back() -> None:
    host = Host()
    worker = FakeWorker(host, None, backoff=Backoff(initial=0.01, maximum=0.05)).start()
    try:
        wait_for(lambda: host.health[-1:] == [("scanner", "ok")])
        results: list[tuple[bool, str | None, Any]] = []
        worker.submit(_command("echo", results))
        wait_for(lambda: results)
        assert results == [(True, None, {"echo": {"x": 1}})]

        host.broken = True
        wait_for(lambda: host.health[-1] == ("scanner", "offline"))
        # the first offline report carries the read's reason (the reopen may already have replaced it on the worker)
        first_offline = [s for _, s in host.health].index("offline")
        assert "Input/output error" in host.details[first_offline]["error"]
        worker.submit(_command("echo", results))  # while it is gone: fails at once, with the reason
        wait_for(lambda: len(results) == 2)
        assert results[1][0] is False and "not available" in results[1][1]

        host.broken = False
        wait_for(lambda: host.health[-1] == ("scanner", "ok"))
        assert worker.opened == 2
        statuses = [status for _, status in host.health]
        # reported on change only (an offline whose reason changed, e.g. "read failed" -> "cannot open", again)
        assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == ["ok", "offline", "ok"]
        assert statuses.count("ok") == 2
    finally:
        worker.stop()
    assert not worker.alive


def test_a_worker_whose_url_cannot_be_resolved_is_offline_and_retries() -> None:
    host = Host()
    host.port_exists = False
    worker = FakeWorker(host, None, backoff=Backoff(initial=0.01, maximum=0.02)).start()
    try:
        wait_for(lambda: host.health[-1:] == [("scanner", "offline")])
        host.port_exists = True
        wait_for(lambda: host.health[-1] == ("scanner", "ok"))
    finally:
        worker.stop()


class ReadingWorker(FakeWorker):
    """A reader whose every third line makes its decoder raise something nobody planned for."""

    reads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = 0

    def step(self) -> None:
        time.sleep(0.005)
        self.lines += 1
        if self.lines % 3 == 0:
            raise ValueError("invalid literal for int() with base 10: '²' in 620102199001010357")
        self.host.submit_input(self.kind, "code_scanned", {"n": self.lines})


def test_a_reader_survives_any_line_without_reopening(caplog: pytest.LogCaptureFixture) -> None:
    host = Host()
    worker = ReadingWorker(host, None, backoff=Backoff(initial=0.01, maximum=0.05)).start()
    try:
        wait_for(lambda: len(host.inputs) >= 20)
    finally:
        worker.stop()
    assert worker.opened == 1  # one bad line is not a lost device
    assert worker.read_errors >= 6
    assert [status for _, status in host.health] == ["ok"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "carrying on" in logged and "620102199001010357" not in logged  # masked in the log


def test_a_worker_keeps_reopening_with_backoff_while_the_device_stays_away() -> None:
    host = Host()
    host.broken = True
    worker = FakeWorker(host, None, backoff=Backoff(initial=0.01, maximum=0.04)).start()
    try:
        wait_for(lambda: worker.backoff.attempts >= 8)  # it never gives up
        host.broken = False
        wait_for(lambda: host.health[-1] == ("scanner", "ok"))
    finally:
        worker.stop()
    assert worker.backoff.attempts == 0  # reset by the good open


def test_an_unknown_command_fails_with_the_allowed_ones() -> None:
    results: list[tuple[bool, str | None, Any]] = []
    FakeWorker(Host(), None).submit(_command("print", results))
    assert results == [(False, "the scanner has no command 'print'; it takes: echo", None)]


class RecordingWorker:
    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.windows: list[tuple[str, dict[str, Any], int | None]] = []

    def submit(self, command: Command) -> None:
        self.commands.append(command)
        command.done(True, None, {"done": command.command})

    def apply_window(self, view: dict[str, Any], seq: int | None) -> None:
        self.windows.append(("state", view, seq))

    def apply_call(self, payload: dict[str, Any], seq: int | None) -> None:
        self.windows.append(("call", payload, seq))


class RecordingCourier:
    def __init__(self) -> None:
        self.results: list[tuple[str, bool, str | None, Any]] = []

    def add_result(self, command_id: str, ok: bool, error: str | None, result: Any) -> None:
        self.results.append((command_id, ok, error, result))


def test_dispatcher_carries_out_a_command_once_and_follows_only_its_window(tmp_path: Path) -> None:
    state = AgentState(tmp_path / "state.json")
    led, courier = RecordingWorker(), RecordingCourier()
    dispatcher = Dispatcher("window-1", {"led": led}, state, courier, window_id="w01")  # type: ignore[dict-item, arg-type]
    command = {"command_id": "k1", "station": "window-1", "device": "led", "command": "clear", "args": {}, "seq": 5}
    dispatcher.handle("device_command", command)
    dispatcher.handle("device_command", command)  # replayed after a reconnect
    dispatcher.handle("device_command", {**command, "station": "window-2", "command_id": "k2"})
    dispatcher.handle("device_command", {**command, "command_id": "k3", "device": "printer"})
    assert [c.command_id for c in led.commands] == ["k1"]
    assert courier.results[0] == ("k1", True, None, {"done": "clear"})
    assert courier.results[1][:2] == ("k3", False) and "has no printer" in courier.results[1][2]

    dispatcher.handle("ticket_called", {"window_id": "w01", "number": "A001", "seq": 6})
    dispatcher.handle("ticket_called", {"window_id": "w02", "number": "A002", "seq": 7})
    dispatcher.handle("window_state", {"window_id": "w01", "number": 1, "status": "open", "seq": 8})
    assert [(kind, seq) for kind, _, seq in led.windows] == [("call", 6), ("state", 8)]
    # a restarted agent does not carry k1 out again either
    assert AgentState(tmp_path / "state.json").claim_command("k1") is False


def test_dispatcher_thread_saves_the_seq_of_each_handled_event(tmp_path: Path) -> None:
    state = AgentState(tmp_path / "state.json")
    dispatcher = Dispatcher("kiosk-1", {}, state, RecordingCourier()).start()  # type: ignore[arg-type]
    try:
        dispatcher.put("queue_stats", {"seq": 41})
        dispatcher.put("device_health", {"seq": 42})
        wait_for(lambda: state.seq == 42)
    finally:
        dispatcher.stop()


def test_led_follows_the_newest_window_event_only() -> None:
    worker = LedWorker(Host(), LedDevice(url="sim://", address=1))
    worker.apply_window({"number": 1, "status": "open", "current": {"number": "A002"}}, 20)
    worker.apply_window({"number": 1, "status": "open", "current": {"number": "A001"}}, 19)  # stale snapshot
    assert worker.desired is not None and worker.desired.line_at(1).text == "A002"
    worker.apply_call({"number": "A003", "window_number": 1}, 21)
    assert worker.desired.line_at(1).text == "A003"


class FakeLink:
    def __init__(self, replies: list[Any]) -> None:
        self.connected = threading.Event()
        self.connected.set()
        self.replies = replies
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def call(self, event: str, data: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        self.sent.append((event, data))
        reply = self.replies.pop(0) if self.replies else {"ok": True}
        if isinstance(reply, Exception):
            raise reply
        return reply


@pytest.mark.timeout(10)
def test_courier_sends_results_first_then_inputs_in_order_and_keeps_what_was_not_acked(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.jsonl")
    first = outbox.add("scanner", "code_scanned", {"code": "1"})
    second = outbox.add("scanner", "code_scanned", {"code": "2"})
    rejected = outbox.add("idcard", "card_read", {"id_number": "bad"})
    link = FakeLink([
        {"ok": False, "command_id": "c9", "station": "kiosk-1"},  # result recorded (the ack spreads its ok)
        LinkDown("no ack"),  # first input: the server went away
        {"ok": True, "duplicate": False},  # first input again
        {"ok": False, "status": 500, "error": {"code": "internal_error", "message": "db busy"}},  # second: later
        {"ok": True, "duplicate": True},  # second again (the server had it)
        {"ok": False, "status": 422, "error": {"code": "invalid_id_number", "message": "check char"}},
    ])
    courier = Courier(link, outbox, "kiosk-1", backoff=Backoff(initial=0.01, maximum=0.02))  # type: ignore[arg-type]
    courier.add_result("c9", False, "paper out", None)
    courier.start()
    try:
        wait_for(lambda: len(outbox) == 0, 5)
    finally:
        courier.stop()
    assert [event for event, _ in link.sent] == ["command_result"] + ["device_input"] * 5
    assert [data["input_id"] for _, data in link.sent[1:]] == [
        first.input_id, first.input_id, second.input_id, second.input_id, rejected.input_id]
    assert courier.sent_inputs == 2 and courier.dropped_inputs == 1
    assert link.sent[0][1] == {"station": "kiosk-1", "command_id": "c9", "ok": False, "error": "paper out"}


def test_command_age_follows_a_server_clock_that_is_not_ours() -> None:
    from datetime import UTC, datetime, timedelta

    from devices.agent.dispatch import ServerClock

    now = datetime.now(UTC)
    synced = ServerClock()
    synced.observe((now - timedelta(seconds=1)).isoformat())
    assert 599 < synced.age((now - timedelta(seconds=600)).isoformat()) < 602  # same clocks: plain age, old stays old
    demo = ServerClock()  # a server started with --clock at 09:30 on an earlier day
    skew = timedelta(days=10, hours=3)
    demo.observe((now - skew).isoformat())  # a live event
    assert abs(demo.age((now - skew).isoformat())) < 2  # fresh by the server's clock, not 10 days old
    assert 119 < demo.age((now - skew - timedelta(seconds=120)).isoformat()) < 122  # sent 2 minutes earlier
    assert demo.age("not a time") is None and demo.age(None) is None
