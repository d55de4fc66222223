"""The ID-card driver against the simulator over a real pty: the cycle, place/lift, every fault, the CLI."""

from __future__ import annotations

import argparse
import io
import random
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from devices.common.control import ControlServer, send_control
from devices.idcard import cli
from devices.idcard.card import CardType, ForeignResidentCard, IdCard
from devices.idcard.codec import PREAMBLE
from devices.idcard.driver import IdCardReader
from devices.idcard.errors import (
    ChecksumError,
    NoCard,
    ReaderTimeout,
    ReaderUnavailable,
    ReadFailed,
    SamNotAuthorised,
    SelectFailed,
)
from devices.idcard.profiles import load_profiles
from devices.idcard.simulator import IdCardSimulator
from tests.support.waiting import wait_for

CARDS = load_profiles()


@pytest.fixture
def sim() -> Iterator[IdCardSimulator]:
    events: list[str] = []
    with IdCardSimulator(CARDS, paced=False, on_event=events.append, seed=7) as simulator:
        simulator.events = events  # type: ignore[attr-defined]
        yield simulator


@pytest.fixture
def reader(sim: IdCardSimulator) -> Iterator[IdCardReader]:
    with IdCardReader.open(sim.path, timeout=0.3, retries=1) as driver:
        yield driver


def test_full_cycle_reads_each_profile(sim: IdCardSimulator, reader: IdCardReader) -> None:
    for name, expected in CARDS.items():
        sim.place(name)
        card = reader.read_card()
        assert card == expected
        assert card.photo == expected.photo and len(card.photo) == 1024
        sim.lift()
    elderly = CARDS["elderly"]
    assert isinstance(elderly, IdCard) and elderly.valid_to is None
    assert isinstance(CARDS["foreigner"], ForeignResidentCard)


def test_read_card_is_not_found_again_until_lifted(sim: IdCardSimulator, reader: IdCardReader) -> None:
    with pytest.raises(NoCard):
        reader.read_card()
    sim.place("young")
    assert reader.read_card().name == "李浩然"
    with pytest.raises(NoCard, match="lift it and put it back"):
        reader.read_card()
    assert reader.find_card() is False
    sim.lift()
    sim.place("young")
    assert reader.read_card().name == "李浩然"


def test_select_without_find_fails(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.place("young")
    with pytest.raises(SelectFailed):
        reader.select_card()


def test_fingerprint_read_and_empty_appended_address(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.place("tibetan")
    assert reader.find_card()
    reader.select_card()
    card = reader.read_selected(with_fingerprint=True)
    assert card.name == "才让卓玛" and card.fingerprint == b""
    assert reader.read_appended_address() is None
    reader.sam_status()
    reader.reset()
    assert len(reader.sam_id()) == 32


def test_poll_yields_each_newly_placed_card_once(sim: IdCardSimulator, reader: IdCardReader) -> None:
    stop = threading.Event()
    seen: list[str] = []

    def consume() -> None:
        for card in reader.poll(interval=0.01, stop=stop):
            seen.append(card.masked_name)

    thread = threading.Thread(target=consume)
    thread.start()
    try:
        sim.place("elderly")
        wait_for(lambda: len(seen) == 1)
        time.sleep(0.1)  # many polls while the card stays: still one
        sim.lift()
        sim.place("foreigner")
        wait_for(lambda: len(seen) == 2)
        time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=2)
    assert seen == ["马*兰", "米*娜"]


def test_poll_reports_errors_and_keeps_going(sim: IdCardSimulator, reader: IdCardReader) -> None:
    stop = threading.Event()
    errors: list[Exception] = []
    cards: list[str] = []
    sim.set_fault("read_failed", count=1)
    sim.place("young")

    def consume() -> None:
        for card in reader.poll(interval=0.01, stop=stop, on_error=errors.append):
            cards.append(card.masked_name)
            stop.set()

    thread = threading.Thread(target=consume)
    thread.start()
    thread.join(timeout=3)
    stop.set()
    assert [type(e) for e in errors] == [ReadFailed]
    assert cards == ["李*然"]


# --- faults -------------------------------------------------------------------------------------------------


def test_transient_checksum_fault_is_retried(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.place("elderly")
    sim.set_fault("checksum", count=1)
    assert reader.read_card().name == "马桂兰"
    assert reader.stats["corrupt_frames"] == 1 and reader.stats["retries"] == 1


def test_persistent_checksum_fault_raises_checksum_error_quickly(
    sim: IdCardSimulator, reader: IdCardReader
) -> None:
    sim.place("elderly")
    sim.set_fault("checksum")
    started = time.monotonic()
    with pytest.raises(ChecksumError, match="FIND_CARD arrived damaged"):
        reader.read_card()
    # Each damaged reply is given up once the line goes quiet, not at the full timeout.
    assert time.monotonic() - started < 0.3
    sim.set_fault("checksum", on=False)
    assert reader.read_card().name == "马桂兰"


def test_checksum_fault_on_the_read_reply_itself(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.place("young")
    assert reader.find_card()
    reader.select_card()
    sim.set_fault("checksum", count=1)
    assert reader.read_selected().name == "李浩然"  # the resent read is answered again


def test_read_failure(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.place("young")
    sim.set_fault("read_failed")
    with pytest.raises(ReadFailed, match="0x41"):
        reader.read_card()
    sim.set_fault("read_failed", on=False)
    assert reader.read_card().name == "李浩然"  # a failed read leaves the card findable


def test_sam_not_authorised(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.place("young")
    sim.set_fault("sam_not_authorised")
    with pytest.raises(SamNotAuthorised, match="0x66"):
        reader.read_card()
    with pytest.raises(SamNotAuthorised):
        reader.sam_status()
    reader.reset()  # reset still answers


def test_slow_reader_within_timeout(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.place("young")
    sim.set_fault("slow", value=0.1, count=1)
    started = time.monotonic()
    assert reader.read_card().name == "李浩然"
    assert time.monotonic() - started >= 0.1


def test_slow_reader_past_timeout(sim: IdCardSimulator) -> None:
    sim.place("young")
    sim.set_fault("slow", value=0.25)
    with IdCardReader.open(sim.path, timeout=0.1, retries=0) as reader:
        with pytest.raises(ReaderTimeout, match="no reply to FIND_CARD within 0.10 s"):
            reader.find_card()
        sim.set_fault("slow", on=False)
        time.sleep(0.2)  # let the late reply land, so it is flushed as stale
        assert reader.read_card().name == "李浩然"


def test_silent_reader_times_out(sim: IdCardSimulator) -> None:
    sim.set_fault("silent")
    with IdCardReader.open(sim.path, timeout=0.1, retries=1) as reader, pytest.raises(ReaderTimeout):
        reader.find_card()


def test_garbage_before_replies_is_skipped(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.set_fault("garbage")
    for name in ("elderly", "foreigner", "tibetan"):
        sim.place(name)
        assert reader.read_card() == CARDS[name]
        sim.lift()
    assert reader.stats["garbage_bytes"] > 0 and reader.stats["retries"] == 0


def test_host_frame_with_bad_checksum_gets_0x10(sim: IdCardSimulator, reader: IdCardReader) -> None:
    port = reader._port  # the raw line, to send what a broken host would
    port.write(bytes.fromhex("AA AA AA 96 69 00 03 20 01 23"))
    port.timeout = 0.5
    reply = port.read(11)
    assert reply == bytes.fromhex("AA AA AA 96 69 00 04 00 00 10 14")


def test_simulator_survives_host_garbage(sim: IdCardSimulator, reader: IdCardReader) -> None:
    port = reader._port
    port.timeout = 0.5
    port.write(PREAMBLE + bytes.fromhex("00 02 20"))  # a length no frame has
    assert port.read(11) == bytes.fromhex("AA AA AA 96 69 00 04 00 00 11 15")
    rng = random.Random(11)
    for _ in range(30):
        port.write(rng.randbytes(rng.randint(1, 400)))
    time.sleep(0.15)  # the reader gives up on any partial frame once the line is quiet
    port.reset_input_buffer()
    sim.place("young")
    assert reader.read_card().name == "李浩然"
    assert sim.status()["state"] == "read"


def test_cli_start_serves_the_hall_without_a_console() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    events: list[str] = []
    running = cli.start(parser.parse_args(["--no-pacing"]), events.append)
    try:
        assert send_control(running.control_url, {"cmd": "place", "name": "elderly"})["ok"]
        with IdCardReader.open(running.url) as reader:
            assert reader.read_card().masked_name == "马*兰"
        assert "card placed: elderly (马*兰)" in events
    finally:
        running.close()


def test_wrong_baud_gets_no_reply_and_a_hint(sim: IdCardSimulator) -> None:
    with (
        IdCardReader.open(sim.path, baudrate=9600, timeout=0.1, retries=0) as reader,
        pytest.raises(ReaderTimeout, match="9600 baud.*baud rate matches"),
    ):
        reader.find_card()
    assert any("9600 baud" in e for e in sim.events)  # type: ignore[attr-defined]


def test_open_errors_are_clear() -> None:
    with pytest.raises(ReaderUnavailable, match="/dev/does-not-exist"):
        IdCardReader.open("/dev/does-not-exist")
    with pytest.raises(ValueError, match="baud rate 12345"):
        IdCardReader.open("loop://", baudrate=12345)


def test_paced_read_takes_wire_time() -> None:
    with IdCardSimulator(CARDS, paced=True) as simulator, IdCardReader.open(simulator.path) as reader:
        simulator.place("elderly")
        started = time.monotonic()
        reader.read_card()
        elapsed = time.monotonic() - started
    # 1295 + 15 + 19 bytes at 11520 bytes/s is 115 ms; a pty alone would take about 1 ms.
    assert 0.11 <= elapsed < 1.0


# --- control channel and CLI -------------------------------------------------------------------------------


def test_control_channel_places_lifts_and_injects_faults(sim: IdCardSimulator, reader: IdCardReader) -> None:
    control = ControlServer(sim.handle_control).start()
    try:
        assert send_control(control.url, {"cmd": "place", "name": "tibetan"})["ok"]
        assert reader.read_card().card_type is CardType.RESIDENT
        reply = send_control(control.url, {"cmd": "fault", "name": "read_failed", "on": True})
        assert reply["ok"]
        send_control(control.url, {"cmd": "lift"})
        send_control(control.url, {"cmd": "place", "name": "tibetan"})
        with pytest.raises(ReadFailed):
            reader.read_card()
        bad = send_control(control.url, {"cmd": "place", "name": "nobody"})
        assert not bad["ok"] and "known: elderly, foreigner" in bad["error"]
        bad = send_control(control.url, {"cmd": "fault", "name": "fire"})
        assert not bad["ok"] and "faults: checksum" in bad["error"]
        assert send_control(control.url, {"cmd": "status"})["faults"] == {
            "read_failed": {"remaining": None, "value": None}
        }
    finally:
        control.close()


def test_cli_prints_port_then_control_then_obeys_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--no-pacing", "--place", "young"])
    stdin = io.StringIO("fault checksum on count=1\nstatus\nplace nobody\nlift\n")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert cli.run(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("/dev/pts/")
    assert lines[1].startswith("control: tcp://127.0.0.1:")
    out = "\n".join(lines)
    assert "fault checksum on for 1 occurrence(s)" in out and "card lifted: young" in out
    assert '"remaining": 1' in out
    assert "error: no card profile named 'nobody'" in out
    assert "李浩然" not in out and "620102200411020357" not in out

