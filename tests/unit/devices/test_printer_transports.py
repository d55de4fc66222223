"""The USB transport moves bytes through the pyusb device python-escpos opened, on its public endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from devices.printer.errors import PrinterConnectionLost
from devices.printer.transports.usb import UsbTransport


class FakeUsbError(Exception):
    pass


class FakeDevice:
    """Stands in for a pyusb Device: records writes, answers reads from a queue, times out when empty."""

    def __init__(self) -> None:
        self.written: list[tuple[int, bytes, int]] = []
        self.replies: list[bytes] = []
        self.read_calls: list[tuple[int, int, int]] = []

    def write(self, endpoint: int, data: bytes, timeout: int) -> int:
        self.written.append((endpoint, bytes(data), timeout))
        return len(data)

    def read(self, endpoint: int, size: int, timeout: int) -> Any:
        self.read_calls.append((endpoint, size, timeout))
        if not self.replies:
            raise FakeUsbError("[Errno 110] Operation timed out")
        if self.replies[0] == b"gone":
            raise FakeUsbError("[Errno 19] No such device (it may have been disconnected)")
        return bytearray(self.replies.pop(0))


class FakePrinter:
    """The public face of an opened escpos.printer.Usb: device, in_ep, out_ep, close()."""

    out_ep, in_ep = 0x01, 0x82

    def __init__(self) -> None:
        self.device = FakeDevice()
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def _raw(self, _msg: bytes) -> None:  # pragma: no cover - must never be called
        raise AssertionError("the transport must not use python-escpos's private _raw")

    def _read(self) -> bytes:  # pragma: no cover - must never be called
        raise AssertionError("the transport must not use python-escpos's private _read")


def test_bytes_go_to_the_out_endpoint_and_replies_come_from_the_in_endpoint() -> None:
    printer = FakePrinter()
    transport = UsbTransport(printer, "usb://0416:5011", timeout_ms=2000)
    transport.write(b"\x10\x04\x01")
    assert printer.device.written == [(0x01, b"\x10\x04\x01", 2000)]
    printer.device.replies.append(b"\x16")
    assert transport.read(4, timeout=0.25) == b"\x16"
    assert printer.device.read_calls[-1] == (0x82, 4, 250)  # the caller's timeout, in ms, reaches pyusb


def test_silence_is_empty_and_a_lost_device_says_so() -> None:
    printer = FakePrinter()
    transport = UsbTransport(printer, "usb://0416:5011", timeout_ms=1000)
    assert transport.read(1, timeout=0.01) == b""
    printer.device.replies.append(b"gone")
    with pytest.raises(PrinterConnectionLost, match="reading from usb://0416:5011 failed"):
        transport.read(1, timeout=0.01)
    transport.close()
    assert printer.closed
