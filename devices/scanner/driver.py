"""Serial barcode/QR scanner driver: opens the port a URL names and yields each scanned code."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

import serial

from devices.common.scans import ScannedCode
from devices.scanner.codec import LineDecoder, ScanError

log = logging.getLogger(__name__)


class ScannerUnavailable(Exception):
    """The port the URL names could not be opened (unplugged, wrong path, no permission)."""


class SerialScanner:
    """A scanner in serial (USB CDC or RS-232) mode. One owner reads it; ``close`` may come from another thread."""

    def __init__(
        self,
        port: serial.Serial,
        suffix: str | bytes | None = None,
        encoding: str = "utf-8",
        idle_timeout: float = 0.3,
    ) -> None:
        """``idle_timeout``: silence after which a line with no suffix is handed on as an incomplete code."""
        if idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be positive, got {idle_timeout}")
        self._port = port
        self._decoder = LineDecoder(suffix, encoding)
        self._idle_timeout = idle_timeout
        self._ready: deque[ScannedCode | ScanError] = deque()
        self._last_byte = 0.0

    @classmethod
    def open(
        cls,
        url: str,
        baudrate: int = 115200,
        suffix: str | bytes | None = None,
        encoding: str = "utf-8",
        idle_timeout: float = 0.3,
    ) -> SerialScanner:
        """Open ``url`` (``/dev/ttyACM0``, ``/dev/pts/N``, ``socket://...``, ``loop://``); ``suffix`` as in
        :func:`devices.scanner.codec.parse_suffix` (None or ``"auto"``: CR, LF or CRLF)."""
        try:
            port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise ScannerUnavailable(f"cannot open the scanner at {url!r}: {exc}") from exc
        return cls(port, suffix=suffix, encoding=encoding, idle_timeout=idle_timeout)

    def close(self) -> None:
        self._port.close()

    def __enter__(self) -> SerialScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, timeout: float | None = None) -> ScannedCode | None:
        """The next code, or None after ``timeout`` seconds (None: wait for ever). Raises ScanError for a bad line."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            wait = 0.05
            if self._decoder.pending:
                wait = max(0.001, min(wait, self._last_byte + self._idle_timeout - now))
            if deadline is not None:
                wait = max(0.001, min(wait, deadline - now))
            self._port.timeout = wait
            chunk = self._port.read(max(1, self._port.in_waiting))
            if chunk:
                self._last_byte = time.monotonic()
                self._ready.extend(self._decoder.feed(chunk))
            elif self._decoder.pending and time.monotonic() - self._last_byte >= self._idle_timeout:
                self._ready.extend(self._decoder.flush())
        item = self._ready.popleft()
        if isinstance(item, ScanError):
            raise item
        return item

    def codes(
        self,
        stop: threading.Event | None = None,
        on_error: Callable[[ScanError], None] | None = None,
    ) -> Iterator[ScannedCode]:
        """Yield codes until ``stop`` is set; bad lines go to ``on_error`` (default: a warning in the log)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                code = self.read(timeout=0.1)
            except ScanError as exc:
                if on_error is not None:
                    on_error(exc)
                else:
                    log.warning("scanner: %s", exc)
                continue
            if code is not None:
                yield code
