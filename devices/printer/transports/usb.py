"""A USB printer: python-escpos finds, claims and configures it (``Usb.open()``); the bytes then go through the
pyusb device it opened (``Usb.device``) on the printer's bulk endpoints, both public API. python-escpos's own
byte methods (``_raw``/``_read``) are private, and ``_read`` has no timeout of its own."""

from __future__ import annotations

import errno
from typing import Any

from devices.printer.errors import PrinterConnectionLost, PrinterUnavailable


class UsbTransport:
    can_read = True

    def __init__(self, printer: Any, description: str, timeout_ms: int) -> None:
        self._printer = printer  # an opened escpos.printer.Usb
        self.description = description
        self._timeout_ms = timeout_ms

    def write(self, data: bytes) -> None:
        try:
            self._printer.device.write(self._printer.out_ep, data, self._timeout_ms)
        except Exception as exc:  # pyusb's USBError/USBTimeoutError
            if _is_timeout(exc):
                raise TimeoutError(f"writing to {self.description} timed out") from exc
            raise OSError(f"writing to {self.description} failed: {exc}") from exc

    def read(self, count: int, timeout: float) -> bytes:
        try:
            return bytes(self._printer.device.read(self._printer.in_ep, count, max(1, int(timeout * 1000))))
        except Exception as exc:  # pyusb raises its own timeout and I/O errors
            if _is_timeout(exc):
                return b""
            raise PrinterConnectionLost(f"reading from {self.description} failed: {exc}") from exc

    def discard_input(self) -> bytes:
        return b""

    def close(self) -> None:
        self._printer.close()


def _is_timeout(exc: Exception) -> bool:
    # pyusb says "[Errno 110] Operation timed out" (USBTimeoutError, errno ETIMEDOUT); older backends "timeout".
    text = str(exc).lower()
    return (type(exc).__name__ == "USBTimeoutError" or getattr(exc, "errno", None) == errno.ETIMEDOUT
            or "timed out" in text or "timeout" in text)


def open_usb(location: str, timeout: float) -> UsbTransport:
    from escpos.printer import Usb

    try:
        vid_text, pid_text = location.split(":")
        vid, pid = int(vid_text, 16), int(pid_text, 16)
    except ValueError:
        raise PrinterUnavailable(f"usb:// URL needs hex VID:PID, e.g. usb://0416:5011, got {location!r}") from None
    description = f"usb://{vid:04x}:{pid:04x}"
    if not Usb.is_usable():
        # Not even constructed: without pyusb a python-escpos Usb object raises from its own destructor.
        raise PrinterUnavailable(f"cannot open {description}: USB printing needs the pyusb package (pip install pyusb)")
    timeout_ms = int(timeout * 1000)
    printer = Usb(vid, pid, timeout=timeout_ms)
    try:
        printer.open()
    except Exception as exc:
        raise PrinterUnavailable(f"cannot open {description}: {exc}") from exc
    return UsbTransport(printer, description, timeout_ms)
