"""The simulated printer itself: garbage on the wire, tickets saved to disk, the control channel."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import pytest
from PIL import Image
from pyzbar import pyzbar

from devices.common.control import send_control
from devices.printer.document import Header, TicketDocument
from devices.printer.driver import CoverOpen, PrinterDriver
from devices.printer.samples import typical_ticket
from devices.printer.simulator import PrinterSimulator

TICKET = typical_ticket()
PAYLOAD = "https://hz.example.cn/q/A001?d=2025-01-02"
STATUS_TIMEOUT = 2.0


@pytest.fixture(params=["tcp", "pty"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


def simulator(transport: str, **options: object) -> PrinterSimulator:
    options.setdefault("control", False)
    return PrinterSimulator(transport=transport, **options).start()  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [7, 8])
def test_garbage_on_the_wire_never_stops_the_simulator(transport: str, seed: int) -> None:
    noise = random.Random(seed).randbytes(20_000)
    with simulator(transport, receive_timeout_s=0.1) as sim:
        if sim.transport == "tcp":
            host, port = sim.url.removeprefix("tcp://").split(":")
            with socket.create_connection((host, int(port))) as raw:
                raw.sendall(noise)
                raw.shutdown(socket.SHUT_WR)
                while raw.recv(4096):  # read the replies the noise provoked, as a host would
                    pass
        else:
            with open(sim.url, "wb", buffering=0) as raw:
                raw.write(noise)
        deadline = time.monotonic() + 10
        while sim.bytes_received < len(noise) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # past the receive timeout: a half command left by the noise is abandoned
        sim.wait_idle()
        with PrinterDriver.open(sim.url, status_timeout=STATUS_TIMEOUT) as drv:
            drv.print_document(TICKET, confirm=True)
        assert sim.describe()["unknown_bytes"] > 0
        assert sim.tickets[-1].complete and sim.tickets[-1].qr_payloads == [PAYLOAD]


def test_tickets_are_saved_as_png_and_transcript(tmp_path: Path) -> None:
    with simulator("tcp", out_dir=tmp_path) as sim, PrinterDriver.open(sim.url) as drv:
        drv.print_document(TICKET, confirm=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ticket-0001.png", "ticket-0001.txt"]
    assert "[center bold 4x4] A001" in (tmp_path / "ticket-0001.txt").read_text(encoding="utf-8")
    with Image.open(tmp_path / "ticket-0001.png") as image:
        assert [s.data.decode() for s in pyzbar.decode(image)] == [PAYLOAD]


def test_control_channel_injects_faults_and_reports() -> None:
    with simulator("tcp", control=True) as sim, PrinterDriver.open(sim.url, status_timeout=STATUS_TIMEOUT) as drv:
        url = sim.control_url
        reply = send_control(url, {"cmd": "fault", "name": "cover_open", "on": True})
        assert reply["ok"] and reply["state"] == "cover_open" and reply["faults"]["cover_open"]
        with pytest.raises(CoverOpen):
            drv.print_document(TICKET)
        send_control(url, {"cmd": "fault", "name": "cover_open", "on": False})
        drv.print_document(TicketDocument.of(Header(text="合作")), confirm=False)
        drv.print_document(TICKET, confirm=True)
        tickets = send_control(url, {"cmd": "tickets"})
        assert tickets["count"] == 1 and tickets["last"]["complete"]
        assert tickets["last"]["text"].splitlines()[:2] == ["合作", "合作市政务服务中心"]
        assert tickets["last"]["qr"] == [PAYLOAD]
        status = send_control(url, {"cmd": "status"})
        assert status["state"] == "ready" and status["paper_left_mm"] < status["paper_mm"]
        assert send_control(url, {"cmd": "reload_paper"})["paper_left_mm"] == status["paper_mm"]
        assert send_control(url, {"cmd": "fault", "name": "slow", "on": True, "mm_s": 50})["slow_mm_s"] == 50


def test_control_channel_refuses_bad_requests_clearly() -> None:
    refused = [
        ({"cmd": "fault", "name": "fire", "on": True}, "unknown fault 'fire'; faults: cover_open"),
        ({"cmd": "fault", "name": "offline", "on": "yes"}, '"on" must be true or false'),
        ({"cmd": "fault", "name": "slow", "on": True}, 'fault slow needs a value in mm/s'),
        ({"cmd": "fault", "name": "slow", "on": True, "mm_s": 0}, 'fault slow needs a value in mm/s'),
        ({"cmd": "reload_paper", "length_mm": -5}, '"length_mm" must be a number > 0'),
        ({"cmd": "explode"}, "unknown command 'explode'; commands: fault, status"),
    ]
    with simulator("tcp", control=True) as sim:
        for request, error in refused:
            reply = send_control(sim.control_url, request)
            assert reply["ok"] is False and error in reply["error"], request
        assert send_control(sim.control_url, {"cmd": "status"})["faults"] == {}
