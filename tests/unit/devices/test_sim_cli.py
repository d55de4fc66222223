"""`onewindow sim` in-process: command words, lazy loading of kinds, a missing kind, the thread runner for a kind
that only has run()."""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Iterator

import pytest

from devices import sim_cli
from devices.common.console import format_reply, line_to_request, words_to_request
from devices.common.control import ControlError, ControlServer, send_control
from devices.stations import ScannerDevice, SimDevice


@pytest.mark.parametrize(
    ("words", "request_"),
    [
        (["fault", "paper_out", "on"], {"cmd": "fault", "name": "paper_out", "on": True, "args": ["paper_out", True]}),
        (["fault", "no_answer", "off", "3"],
         {"cmd": "fault", "name": "no_answer", "on": False, "value": 3, "args": ["no_answer", False, 3]}),
        (["fault", "slow", "on", "20"],
         {"cmd": "fault", "name": "slow", "on": True, "value": 20, "args": ["slow", True, 20]}),
        (["fault", "slow", "1.5"], {"cmd": "fault", "name": "slow", "on": True, "value": 1.5, "args": ["slow", 1.5]}),
        (["fault", "garbage"], {"cmd": "fault", "name": "garbage", "on": True, "args": ["garbage"]}),
        (["press", "2", "reason=服务态度差"], {"cmd": "press", "args": [2], "reason": "服务态度差"}),
        (["PLACE", "alice"], {"cmd": "place", "args": ["alice"]}),
        (['{"cmd": "press", "level": 2}'], {"cmd": "press", "level": 2}),
    ],
)
def test_command_words_become_control_requests(words: list[str], request_: dict) -> None:
    assert words_to_request(words) == request_


def test_console_lines_are_split_like_a_shell_and_errors_are_clear() -> None:
    assert line_to_request("  # a comment") is None
    assert line_to_request("   ") is None
    assert line_to_request('place "王 丽娜"') == {"cmd": "place", "args": ["王 丽娜"]}
    with pytest.raises(ControlError, match="No closing quotation"):
        line_to_request('place "alice')
    with pytest.raises(ControlError, match='"cmd" field'):
        line_to_request('{"level": 2}')
    with pytest.raises(ControlError, match="not JSON"):
        words_to_request(["{nope"])
    with pytest.raises(ControlError, match="empty command"):
        words_to_request([])


def test_replies_read_well_on_a_terminal() -> None:
    assert format_reply({"ok": True}) == "ok"
    assert format_reply({"ok": True, "text": "两行\n文字"}) == "两行\n文字"
    assert format_reply({"ok": True, "state": "IDLE"}) == '{"state": "IDLE"}'
    assert format_reply({"ok": False, "error": "no such fault"}) == "error: no such fault"


def test_the_kinds_match_the_devices_file_kinds() -> None:
    from devices.stations import KINDS

    assert sim_cli.KINDS == KINDS


def test_an_unknown_kind_and_a_missing_kind_are_named(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    with pytest.raises(sim_cli.SimulatorUnavailable, match="unknown device kind 'toaster'"):
        sim_cli.load_kind("toaster")
    monkeypatch.setitem(sys.modules, "devices.camera.cli", None)  # as if devices/camera/cli.py were not there
    with pytest.raises(sim_cli.SimulatorUnavailable, match=r"devices/camera/cli.py is missing"):
        sim_cli.load_kind("camera")
    assert sim_cli.main(["camera"]) == 2
    assert "onewindow sim camera: the camera simulator is not available" in capsys.readouterr().err
    # the other kinds still start their parsers
    assert sim_cli.main(["led", "--help"]) == 0
    assert "--address" in capsys.readouterr().out


def test_a_kind_without_the_contract_functions_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "devices.scanner.cli", types.ModuleType("devices.scanner.cli"))
    with pytest.raises(sim_cli.SimulatorUnavailable, match=r"has no add_arguments\(\)"):
        sim_cli.load_kind("scanner")


def test_usage_errors_return_2_with_argparse_message(capsys) -> None:
    assert sim_cli.main(["led", "--address", "300"]) == 2
    assert "screen address 300 is out of range; allowed 1..254" in capsys.readouterr().err
    assert sim_cli.main([]) == 2
    assert sim_cli.main(["--help"]) == 0


def test_ctl_reports_an_unreachable_simulator(capsys) -> None:
    assert sim_cli.ctl("tcp://127.0.0.1:1", ["status"]) == 2
    assert "cannot reach the simulator at tcp://127.0.0.1:1" in capsys.readouterr().err
    assert sim_cli.ctl("http://x", ["status"]) == 2
    assert "control URL must look like tcp://" in capsys.readouterr().err


def test_ctl_prints_the_reply_and_its_exit_code_follows_ok(capsys) -> None:
    server = ControlServer(lambda request: {"echo": request["args"]}).start()
    try:
        assert sim_cli.ctl(server.url, ["press", "4"], as_json=True) == 0
        assert capsys.readouterr().out.strip() == '{"ok": true, "echo": [4]}'
    finally:
        server.close()
    refusing = ControlServer(lambda request: (_ for _ in ()).throw(ControlError("the pad is idle"))).start()
    try:
        assert sim_cli.ctl(refusing.url, ["press", "4"]) == 1
        assert capsys.readouterr().out.strip() == "error: the pad is idle"
    finally:
        refusing.close()


def _fake_scanner() -> types.ModuleType:
    """A kind written only to the add_arguments/run contract, as another engineer might."""
    module = types.ModuleType("devices.scanner.cli")

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--suffix", default="crlf")

    def run(args: argparse.Namespace) -> int:
        server = ControlServer(lambda request: {"suffix": args.suffix}).start()
        print("/dev/pts/fake", flush=True)
        print(f"control: {server.url}", flush=True)
        for line in sys.stdin:
            print(f"got {line.strip()}", flush=True)
        server.close()
        module.stopped = True  # type: ignore[attr-defined]
        return 0

    module.add_arguments = add_arguments  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    return module


@pytest.fixture
def restore_stdio(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    monkeypatch.setattr(sys, "stdin", sys.stdin)
    yield


def test_hall_runs_a_run_only_kind_in_a_thread_with_its_own_stdio(
    monkeypatch: pytest.MonkeyPatch, restore_stdio: None
) -> None:
    fake = _fake_scanner()
    monkeypatch.setitem(sys.modules, "devices.scanner.cli", fake)
    emitted: list[str] = []
    device = SimDevice("kiosk-1", "scanner", ScannerDevice(url="sim://"))
    running = sim_cli.start_simulator(device, emitted.append)
    try:
        assert running.url == "/dev/pts/fake"
        assert running.control_url.startswith("tcp://127.0.0.1:")
        assert send_control(running.control_url, {"cmd": "status"}) == {"ok": True, "suffix": "crlf"}
        assert running.handle({"cmd": "status"})["suffix"] == "crlf"
        print("the hall's own line")  # the main thread still writes where it did
    finally:
        running.close()
    assert getattr(fake, "stopped", False), "run() saw EOF on its stdin and returned"


def test_hall_reports_a_run_only_kind_that_never_prints_its_urls(
    monkeypatch: pytest.MonkeyPatch, restore_stdio: None
) -> None:
    broken = types.ModuleType("devices.scanner.cli")
    broken.add_arguments = lambda parser: None  # type: ignore[attr-defined]

    def run(args: argparse.Namespace) -> int:
        raise OSError("no pty left")

    broken.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "devices.scanner.cli", broken)
    with pytest.raises(sim_cli.SimulatorUnavailable, match="OSError: no pty left"):
        sim_cli.start_simulator(SimDevice("kiosk-1", "scanner", ScannerDevice(url="sim://")), print)
