"""The printer driver against the simulator over a real TCP socket and a real pty, every fault path."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyzbar import pyzbar

from devices.common.pty import PtyEndpoint
from devices.printer.codec import PrinterState, render
from devices.printer.document import DocumentError
from devices.printer.driver import (
    CoverOpen,
    CutterError,
    PaperOut,
    PrinterConnectionLost,
    PrinterDriver,
    PrinterOffline,
    PrinterProtocolError,
    PrinterUnavailable,
)
from devices.printer.samples import typical_ticket
from devices.printer.simulator import PrinterSimulator
from devices.printer.transcript import transcribe

STATUS_TIMEOUT = 2.0  # generous for a printer that answers (the machine may be loaded); costs nothing then
SILENCE_TIMEOUT = 0.3  # for the cases where silence is the point
TICKET = typical_ticket()
TICKET_BYTES = render(TICKET)
TICKET_MM = transcribe(TICKET_BYTES)[0].height_dots / 8
EXPECTED_LINES = ["合作市政务服务中心", "A001", "不动产登记（综合窗口）", "前面还有 3 人等候，请留意叫号。"]
PAYLOAD = "https://hz.example.cn/q/A001?d=2025-01-02"


@pytest.fixture(params=["tcp", "pty"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


def simulator(transport: str, **options: object) -> PrinterSimulator:
    options.setdefault("control", False)
    return PrinterSimulator(transport=transport, **options).start()  # type: ignore[arg-type]


@pytest.fixture
def sim(transport: str) -> Iterator[PrinterSimulator]:
    printer = simulator(transport)
    yield printer
    printer.close()


@pytest.fixture
def driver(sim: PrinterSimulator) -> Iterator[PrinterDriver]:
    with PrinterDriver.open(sim.url, status_timeout=STATUS_TIMEOUT) as opened:
        yield opened


def test_prints_a_ticket_that_reads_back_as_the_document(sim: PrinterSimulator, driver: PrinterDriver) -> None:
    result = driver.print_document(TICKET)
    assert result.bytes_sent == len(TICKET_BYTES)
    assert result.status.state is PrinterState.READY and not result.confirmed and result.warnings == ()
    ticket = sim.wait_for_tickets(1)[-1]
    assert ticket.complete and ticket.notes == []
    assert [line for line in ticket.lines if line][:4] == EXPECTED_LINES
    assert ticket.qr_payloads == [PAYLOAD]
    assert [symbol.data.decode() for symbol in pyzbar.decode(ticket.render())] == [PAYLOAD]


def test_accepts_the_json_form_and_rejects_a_bad_one_before_sending(sim: PrinterSimulator, driver: PrinterDriver) -> None:
    driver.print_document(TICKET.to_dict())
    assert sim.wait_for_tickets(1)[-1].lines[0] == "合作市政务服务中心"
    received = sim.bytes_received
    with pytest.raises(DocumentError, match=r"blocks\[0\] \(header\).text"):
        driver.print_document({"blocks": [{"type": "header"}]})
    assert sim.bytes_received == received


def test_ready_printer_reports_every_field(driver: PrinterDriver) -> None:
    status = driver.status()
    assert status.complete and status.state is PrinterState.READY and status.ok
    assert status.online and not status.cover_open and not status.paper_out and not status.cutter_error


def test_confirm_returns_once_the_printer_has_printed_everything(transport: str) -> None:
    with simulator(transport, speed_mm_s=500) as sim, PrinterDriver.open(sim.url, status_timeout=STATUS_TIMEOUT) as drv:
        started = time.monotonic()
        result = drv.print_document(TICKET, confirm=True)
        elapsed = time.monotonic() - started
        assert result.confirmed
        assert elapsed >= TICKET_MM / 500 * 0.9  # the mechanism's time, not just the wire's
        assert sim.ticket_count == 1  # cut before the confirmation came


def test_status_is_answered_at_once_in_the_middle_of_a_job(transport: str) -> None:
    with simulator(transport, speed_mm_s=100) as sim, PrinterDriver.open(sim.url, status_timeout=STATUS_TIMEOUT) as drv:
        drv.print_document(TICKET)  # about a second of paper at 100 mm/s
        status = drv.status()
        assert status.state is PrinterState.READY
        assert sim.describe()["busy"] and sim.ticket_count == 0  # answered before the job was done


@pytest.mark.parametrize(
    ("fault", "state", "error"),
    [
        ("cover_open", PrinterState.COVER_OPEN, CoverOpen),
        ("paper_out", PrinterState.PAPER_OUT, PaperOut),
        ("offline", PrinterState.UNKNOWN, PrinterOffline),
    ],
)
def test_status_and_print_in_each_fault(
    sim: PrinterSimulator, driver: PrinterDriver, fault: str, state: PrinterState, error: type[Exception]
) -> None:
    sim.set_fault(fault, True)
    driver.status_timeout = SILENCE_TIMEOUT if fault == "offline" else STATUS_TIMEOUT
    status = driver.status()
    assert status.state is state and not status.ok
    with pytest.raises(error, match="before printing"):
        driver.print_document(TICKET)
    assert sim.ticket_count == 0
    sim.set_fault(fault, False)
    assert driver.status().state is PrinterState.READY
    driver.print_document(TICKET, confirm=True)
    assert sim.ticket_count == 1


def test_cutter_jam_stops_the_ticket_until_cleared(sim: PrinterSimulator, driver: PrinterDriver) -> None:
    sim.set_fault("cutter_jam", True)
    with pytest.raises(CutterError, match="while printing the ticket: open the cover"):
        driver.print_document(TICKET, confirm=True)
    status = driver.status()
    assert status.state is PrinterState.CUTTER_ERROR and status.cutter_error and not status.online
    assert sim.ticket_count == 0
    sim.set_fault("cutter_jam", False)
    assert sim.wait_for_tickets(1)[-1].complete
    assert driver.status().state is PrinterState.READY


def test_slow_fault_slows_the_mechanism(transport: str) -> None:
    with simulator(transport) as sim, PrinterDriver.open(sim.url, status_timeout=STATUS_TIMEOUT) as drv:
        sim.set_fault("slow", True, value=400)
        started = time.monotonic()
        drv.print_document(TICKET, confirm=True)
        assert time.monotonic() - started >= TICKET_MM / 400 * 0.9
        sim.set_fault("slow", False)
        assert sim.describe()["slow_mm_s"] is None
        drv.print_document(TICKET, confirm=True)
        assert sim.ticket_count == 2


def test_a_connection_dropped_mid_ticket_is_a_clear_error(sim: PrinterSimulator, driver: PrinterDriver) -> None:
    sim.set_fault("drop", True)
    driver.status_timeout = SILENCE_TIMEOUT
    expected = PrinterConnectionLost if sim.transport == "tcp" else PrinterOffline
    # Depending on when the reset lands: while sending, or on the check right after.
    with pytest.raises(expected, match="ticket is incomplete|probably incomplete|may not have printed"):
        driver.print_document(TICKET)
    partial = sim.wait_for_tickets(1)[-1]
    assert not partial.complete and partial.lines == ["合作市政务服务中心"]
    assert partial.notes[-1] == "connection dropped mid-ticket"
    sim.set_fault("drop", False)
    driver.status_timeout = STATUS_TIMEOUT
    # The same driver carries on: over TCP its status check reconnects; a pty line simply comes back.
    result = driver.print_document(TICKET, confirm=True)
    assert result.confirmed and sim.ticket_count == 2 and sim.tickets[-1].complete


def test_an_idle_connection_closed_by_the_printer_is_reopened_before_the_next_ticket() -> None:
    with simulator("tcp") as sim, PrinterDriver.open(sim.url, status_timeout=STATUS_TIMEOUT) as drv:
        drv.print_document(TICKET, confirm=True)
        sim.disconnect()
        deadline = time.monotonic() + 5
        while sim.describe()["client_connected"] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert drv.status().state is PrinterState.READY
        drv.print_document(TICKET, confirm=True)
        assert sim.ticket_count == 2


def test_paper_runs_out_after_the_set_length(transport: str) -> None:
    with simulator(transport, paper_mm=TICKET_MM * 1.5, near_end_mm=TICKET_MM * 0.6) as sim, \
            PrinterDriver.open(sim.url, status_timeout=STATUS_TIMEOUT) as drv:
        drv.print_document(TICKET, confirm=True)
        assert drv.status().state is PrinterState.PAPER_NEAR_END
        with pytest.raises(PaperOut, match="while printing the ticket"):
            drv.print_document(TICKET, confirm=True)
        assert sim.paper_left_mm == 0
        status = drv.status()
        assert status.state is PrinterState.PAPER_OUT and status.paper_out and status.stopped_at_paper_end
        with pytest.raises(PaperOut, match="before printing: load a new roll"):
            drv.print_document(TICKET)
        sim.reload_paper(TICKET_MM * 10)
        assert sim.wait_for_tickets(2)[-1].complete  # the halted ticket finishes on the new roll
        result = drv.print_document(TICKET, confirm=True)
        assert result.confirmed and result.warnings == ()


def test_near_end_is_a_warning_not_an_error(transport: str) -> None:
    with simulator(transport, paper_mm=1000, near_end_mm=2000) as sim, \
            PrinterDriver.open(sim.url, status_timeout=STATUS_TIMEOUT) as drv:
        result = drv.print_document(TICKET)
        assert result.warnings == ("paper near end: change the roll soon",)
        assert sim.wait_for_tickets(1)


class _FakePrinter:
    """A TCP peer that accepts and reads everything; it answers each byte with ``reply`` (b"" = silent)."""

    def __init__(self, reply: bytes) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.reply = reply
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
            with connection:
                while data := connection.recv(65536):
                    self.received += data
                    if self.reply:
                        connection.sendall(self.reply * len(data))
        except OSError:
            pass  # the driver hung up, or the test closed the listener

    def close(self) -> None:
        self.listener.close()


def test_a_silent_printer_is_unknown_never_ok() -> None:
    fake = _FakePrinter(b"")
    try:
        with PrinterDriver.open(fake.url, status_timeout=SILENCE_TIMEOUT) as drv:
            status = drv.status()
            assert status.state is PrinterState.UNKNOWN and not status.ok and not status.answered
            assert "no answer to DLE EOT within 0.3 s" in status.note
            with pytest.raises(PrinterOffline, match="did not answer before printing"):
                drv.print_document(TICKET)
            with pytest.raises(PrinterOffline, match="stopped answering while the ticket was sent"):
                drv.print_document(TICKET, check_status=False)
    finally:
        fake.close()


def test_a_silent_serial_line_is_unknown() -> None:
    with PtyEndpoint() as endpoint, PrinterDriver.open(endpoint.path, status_timeout=SILENCE_TIMEOUT) as drv:
        assert drv.status().state is PrinterState.UNKNOWN
        assert endpoint.read(timeout=0.5) == b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"


def test_garbage_replies_are_a_protocol_error() -> None:
    fake = _FakePrinter(b"\x00")
    try:
        with PrinterDriver.open(fake.url, status_timeout=STATUS_TIMEOUT) as drv, \
                pytest.raises(PrinterProtocolError, match="0x00 is not a reply to DLE EOT 1"):
            drv.status()
    finally:
        fake.close()


def test_nothing_listening_is_unavailable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(PrinterUnavailable, match=f"cannot connect to the printer at tcp://127.0.0.1:{port}"):
        PrinterDriver.open(f"tcp://127.0.0.1:{port}")


def test_file_url_gets_the_exact_bytes_and_no_status(tmp_path: Path) -> None:
    target = tmp_path / "ticket.bin"
    with PrinterDriver.open(f"file://{target}") as drv:
        assert not drv.can_read_status
        status = drv.status()
        assert status.state is PrinterState.UNKNOWN and "write-only" in status.note
        result = drv.print_document(TICKET)
        assert not result.confirmed and result.status.state is PrinterState.UNKNOWN
    assert target.read_bytes() == TICKET_BYTES


def test_usb_url_is_understood_but_there_is_no_usb_printer_here() -> None:
    # python-escpos's Usb is constructed; opening fails (no pyusb / no device) with a clear message.
    with pytest.raises(PrinterUnavailable, match="cannot open usb://0416:5011"):
        PrinterDriver.open("usb://0416:5011")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://printer", "unsupported printer URL"),
        ("tcp://", "tcp:// URL needs a host"),
        ("tcp://host:99999", "bad port"),
        ("usb://zz", "needs hex VID:PID"),
        ("serial://", "needs a device path"),
        ("serial:///dev/ttyS0?baudrate=fast", "baudrate must be a number"),
        ("/dev/does-not-exist", "cannot open the printer's serial port /dev/does-not-exist"),
        ("", "non-empty string"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(PrinterUnavailable, match=message):
        PrinterDriver.open(url)


def test_serial_url_form_reaches_the_pty() -> None:
    with simulator("pty") as sim, \
            PrinterDriver.open(f"serial://{sim.url}?baudrate=9600", status_timeout=STATUS_TIMEOUT) as drv:
        assert drv.status().state is PrinterState.READY
