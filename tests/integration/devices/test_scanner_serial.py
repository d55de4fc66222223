"""The serial scanner driver against the simulator over a real pty: suffixes, Chinese, faults, replay, CLI."""

from __future__ import annotations

import argparse
import io
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.common.control import ControlServer, send_control
from devices.scanner import cli
from devices.scanner.codec import ScanDecodeError
from devices.scanner.driver import ScannerUnavailable, SerialScanner
from devices.scanner.simulator import ScannerSimulator

CHINESE = "合作市政务服务中心·不动产登记|预约号 A001"


@pytest.fixture
def sim() -> Iterator[ScannerSimulator]:
    with ScannerSimulator(suffix="cr", paced=False, seed=3) as simulator:
        yield simulator


@pytest.mark.parametrize("suffix", ["cr", "crlf"])
@pytest.mark.parametrize("driver_suffix", [None, "match"])
def test_codes_with_cr_and_crlf(suffix: str, driver_suffix: str | None) -> None:
    with ScannerSimulator(suffix=suffix, paced=False) as sim:
        expect = suffix if driver_suffix == "match" else None
        with SerialScanner.open(sim.path, suffix=expect) as scanner:
            for code in ("A001", CHINESE, "https://example.invalid/t?id=8&h=合作"):
                sim.scan(code)
                got = scanner.read(timeout=1)
                assert got is not None and got.text == code and got.complete
            assert scanner.read(timeout=0.1) is None  # CRLF's LF is not a second, empty code


def test_paced_at_115200(sim: ScannerSimulator) -> None:
    with ScannerSimulator(paced=True) as paced, SerialScanner.open(paced.path) as scanner:
        code = "X" * 575  # + CR = 576 bytes = 50 ms at 115200 baud
        started = time.monotonic()
        paced.scan(code)
        assert scanner.read(timeout=2).text == code
        assert time.monotonic() - started >= 0.045


def test_garbage_line_then_good_code(sim: ScannerSimulator) -> None:
    with SerialScanner.open(sim.path) as scanner:
        sim.set_fault("garbage", count=1)
        sim.scan("A002")
        with pytest.raises(ScanDecodeError, match="not utf-8 text"):
            scanner.read(timeout=1)
        assert scanner.read(timeout=1).text == "A002"


def test_line_split_across_writes_is_reassembled(sim: ScannerSimulator) -> None:
    sim.set_fault("split", value=0.08)
    with SerialScanner.open(sim.path, idle_timeout=0.3) as scanner:
        for code in (CHINESE, "B003"):
            sim.scan(code)
            got = scanner.read(timeout=1)
            assert got.text == code and got.complete


def test_missing_suffix_times_out_into_an_incomplete_code(sim: ScannerSimulator) -> None:
    sim.set_fault("no_suffix", count=1)
    with SerialScanner.open(sim.path, idle_timeout=0.1) as scanner:
        sim.scan("C004")
        started = time.monotonic()
        got = scanner.read(timeout=1)
        assert got.text == "C004" and not got.complete
        assert 0.08 <= time.monotonic() - started < 0.5
        sim.scan("C005")
        assert scanner.read(timeout=1).complete


def test_replay_file_with_delays(sim: ScannerSimulator, tmp_path: Path) -> None:
    path = tmp_path / "codes.txt"
    path.write_text("# morning rush\nA001\n\n合作\t0.1\nB002\n", encoding="utf-8")
    with SerialScanner.open(sim.path) as scanner:
        started = time.monotonic()
        assert sim.replay(path, delay=0.0) == 3
        got = [scanner.read(timeout=1).text for _ in range(3)]
        assert got == ["A001", "合作", "B002"]
        assert time.monotonic() - started >= 0.1


def test_codes_iterator_passes_errors_to_callback(sim: ScannerSimulator) -> None:
    errors: list[Exception] = []
    stop = threading.Event()
    with SerialScanner.open(sim.path) as scanner:
        sim.set_fault("garbage", count=1)
        sim.scan("D001")
        for code in scanner.codes(stop=stop, on_error=errors.append):
            assert code.text == "D001"
            stop.set()
    assert len(errors) == 1


def test_control_channel_scan(sim: ScannerSimulator) -> None:
    control = ControlServer(sim.handle_control).start()
    try:
        with SerialScanner.open(sim.path) as scanner:
            assert send_control(control.url, {"cmd": "scan", "code": CHINESE})["ok"]
            assert scanner.read(timeout=1).text == CHINESE
            assert send_control(control.url, {"cmd": "suffix", "suffix": "crlf"})["ok"]
            assert send_control(control.url, {"cmd": "status"})["suffix"] == "crlf"
            bad = send_control(control.url, {"cmd": "fault", "name": "smoke"})
            assert not bad["ok"] and "faults: garbage, split, no_suffix" in bad["error"]
            bad = send_control(control.url, {"cmd": "scan", "code": ""})
            assert not bad["ok"] and "non-empty" in bad["error"]
    finally:
        control.close()


def test_open_error_is_clear() -> None:
    with pytest.raises(ScannerUnavailable, match="/dev/nonexistent-scanner"):
        SerialScanner.open("/dev/nonexistent-scanner")


def test_cli_scans_typed_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--no-pacing", "--suffix", "crlf"])
    stdin = io.StringIO(
        "A001\nscan 0012\nfault split on\n合作市 623001195408170423\nbogus-command? yes\nfault\n"
    )
    monkeypatch.setattr(sys, "stdin", stdin)
    assert cli.run(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("/dev/pts/") and lines[1].startswith("control: tcp://127.0.0.1:")
    assert "scanned: A001" in out and "scanned: 0012" in out  # "scan" keeps leading zeros verbatim
    assert "scanned: 合作市 6230**********0423" in out and "623001195408170423" not in out
    assert "error: fault needs a name" in out


def test_cli_line_parsing() -> None:
    assert cli.line_to_scanner_request("help\n") == {"cmd": "help", "args": []}
    assert cli.line_to_scanner_request("scan help\n") == {"cmd": "scan", "code": "help"}
    assert cli.line_to_scanner_request("  A 001  \n") == {"cmd": "scan", "code": "A 001"}
    assert cli.line_to_scanner_request("\n") is None
