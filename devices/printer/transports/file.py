"""A file or device node (e.g. ``/dev/usb/lp0``) the ticket bytes are written to; write-only, so no status.

python-escpos's ``File`` opens it (``open()``); the bytes go to the file object it exposes (``File.device``) and
are flushed with ``flush()``, both public API."""

from __future__ import annotations

from devices.printer.errors import PrinterUnavailable


class FileTransport:
    can_read = False

    def __init__(self, path: str) -> None:
        from escpos.printer import File

        self.description = f"file://{path}"
        self._printer = File(path, auto_flush=True)
        try:
            self._printer.open()
        except Exception as exc:
            raise PrinterUnavailable(f"cannot open {path} for writing: {exc}") from exc

    def write(self, data: bytes) -> None:
        self._printer.device.write(data)
        self._printer.flush()

    def read(self, count: int, timeout: float) -> bytes:
        return b""

    def discard_input(self) -> bytes:
        return b""

    def close(self) -> None:
        self._printer.close()
