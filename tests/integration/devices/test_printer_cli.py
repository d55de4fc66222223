"""``onewindow sim printer`` as a technician runs it: a real process, its first two lines, stdin commands."""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.common.control import send_control
from devices.printer import cli
from devices.printer.document import Cut, Text, TicketDocument
from devices.printer.driver import CoverOpen, PrinterDriver
from devices.printer.samples import typical_ticket
from devices.printer.simulator import PrinterSimulator

REPO = Path(__file__).resolve().parents[3]
RUN = (
    "import argparse, sys\n"
    "from devices.printer import cli\n"
    "parser = argparse.ArgumentParser()\n"
    "cli.add_arguments(parser)\n"
    "sys.exit(cli.run(parser.parse_args(sys.argv[1:])))\n"
)


@pytest.fixture
def process(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", RUN, *request.param],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
    )
    yield child
    if child.poll() is None:
        child.kill()
    child.wait(timeout=5)
    for stream in (child.stdin, child.stdout, child.stderr):
        if stream is not None:
            stream.close()


def read_until(child: subprocess.Popen[str], prefix: str) -> str:
    assert child.stdout is not None
    for _ in range(20):
        line = child.stdout.readline().rstrip("\n")
        if line.startswith(prefix):
            return line
    raise AssertionError(f"no line starting {prefix!r}")


@pytest.mark.parametrize("process", [["--tcp", "--speed", "0"]], indirect=True)
def test_tcp_simulator_prints_url_then_control_and_obeys_stdin(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None and process.stdin is not None
    url = process.stdout.readline().strip()
    control = process.stdout.readline().strip()
    assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", url)
    assert re.fullmatch(r"control: tcp://127\.0\.0\.1:\d+", control)
    with PrinterDriver.open(url, status_timeout=2.0) as driver:
        driver.print_document(typical_ticket(), confirm=True)
        assert re.fullmatch(r"ticket 1: \d+ mm, \d+ text lines, 1 QR", read_until(process, "ticket 1:"))
        process.stdin.write("tickets\n")
        assert read_until(process, "1 tickets").startswith("1 tickets, last #1: ")
        process.stdin.write("fault cover_open on\n")
        assert read_until(process, "state ").startswith("state cover_open, halted: cover open")
        with pytest.raises(CoverOpen):
            driver.print_document(typical_ticket())
        assert send_control(control.removeprefix("control: "), {"cmd": "status"})["faults"]["cover_open"]
        process.stdin.write("fault nonsense on\n")
        assert read_until(process, "error:") == (
            "error: unknown fault 'nonsense'; faults: cover_open, paper_out, cutter_jam, offline, slow, drop"
        )
    process.stdin.close()  # stdin is not a terminal: its end does not stop the simulator ...
    with PrinterDriver.open(url, status_timeout=2.0) as driver:
        assert driver.status().cover_open  # still the same simulator, still answering
    process.send_signal(signal.SIGTERM)  # ... a signal does, cleanly
    assert process.wait(timeout=5) == 0


@pytest.mark.parametrize("process", [["--pty"]], indirect=True)
def test_pty_simulator_prints_its_device_path_first(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None and process.stdin is not None
    path = process.stdout.readline().strip()
    assert re.fullmatch(r"/dev/pts/\d+", path)
    assert process.stdout.readline().startswith("control: tcp://127.0.0.1:")
    with PrinterDriver.open(path, status_timeout=2.0) as driver:
        assert driver.status().ok
    process.stdin.write("quit\n")
    process.stdin.flush()
    assert process.wait(timeout=5) == 0


def test_bad_options_are_refused_by_argparse() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    for argv in (["--speed", "-1"], ["--paper-mm", "0"], ["--tcp", "70000"], ["--profile", "tm-t99"], ["--tcp", "--pty"]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
    args = parser.parse_args(["--tcp"])
    assert args.tcp == 0 and not args.pty and args.speed == 200.0 and args.profile == "zh-80"


def test_last_ticket_on_stdout_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    document = TicketDocument.of(Text(text="王小娜 620102199001011234"), Text(text="电话 13912345678"), Cut())
    with PrinterSimulator(control=False) as sim, PrinterDriver.open(sim.url) as driver:
        driver.print_document(document, confirm=True)
        cli.execute(sim, "last")
        cli.execute(sim, "status")
        cli.execute(sim, "fault slow on 20")
        cli.execute(sim, "fault slow on")
        cli.execute(sim, "reload 500")
    out = capsys.readouterr().out
    assert "6201**********1234" in out and "139****5678" in out
    assert "620102199001011234" not in out and "13912345678" not in out
    assert "faults: slow (20 mm/s)" in out
    assert 'error: fault slow needs a value in mm/s' in out
    assert "paper 500 of 500 mm" in out
