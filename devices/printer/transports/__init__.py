"""The byte pipes a ticket printer is reached through, one module each, and :func:`open_transport` by URL.

* ``tcp://HOST[:PORT]`` - :mod:`.tcp`, a network printer's raw port (9100 by default);
* ``/dev/ttyUSB0``, ``serial:///dev/ttyS0?baudrate=9600`` or any pyserial URL - :mod:`.serial_port`;
* ``usb://VID:PID`` (hex) - :mod:`.usb`, found and opened by python-escpos, bytes through pyusb;
* ``file:///path`` - :mod:`.file`, write-only (no status is known).
"""

from __future__ import annotations

import urllib.parse
from typing import Protocol

from devices.printer.errors import PrinterUnavailable

DEFAULT_TCP_PORT = 9100
_SERIAL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110")


class Transport(Protocol):
    """What the driver needs of a pipe. ``read`` returns b"" on silence; a broken link raises
    :class:`~devices.printer.errors.PrinterConnectionLost`. A transport may also offer ``reconnect()``."""

    description: str
    can_read: bool

    def write(self, data: bytes) -> None: ...

    def read(self, count: int, timeout: float) -> bytes: ...

    def discard_input(self) -> bytes: ...

    def close(self) -> None: ...


def open_transport(url: str, *, timeout: float = 1.0, write_timeout: float = 10.0,
                   baudrate: int = 115200) -> Transport:
    """The byte pipe a printer URL names (see the module docstring for the forms)."""
    from devices.printer.transports.file import FileTransport
    from devices.printer.transports.serial_port import SerialTransport
    from devices.printer.transports.tcp import SocketTransport
    from devices.printer.transports.usb import open_usb

    if not isinstance(url, str) or not url:
        raise PrinterUnavailable(f"printer URL must be a non-empty string, got {url!r}")
    if url.startswith("/"):
        return SerialTransport(url, baudrate, timeout, write_timeout)
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme.lower()
    if scheme == "tcp":
        if not parsed.hostname:
            raise PrinterUnavailable(f"tcp:// URL needs a host, e.g. tcp://192.168.1.50:9100, got {url!r}")
        try:
            port = parsed.port or DEFAULT_TCP_PORT
        except ValueError:
            raise PrinterUnavailable(f"bad port in printer URL {url!r}") from None
        return SocketTransport(parsed.hostname, port, timeout, write_timeout)
    if scheme == "serial":
        query = urllib.parse.parse_qs(parsed.query)
        try:
            rate = int(query.get("baudrate", [baudrate])[0])
        except ValueError:
            raise PrinterUnavailable(f"baudrate must be a number in {url!r}") from None
        if not parsed.path:
            raise PrinterUnavailable(f"serial:// URL needs a device path, e.g. serial:///dev/ttyUSB0, got {url!r}")
        return SerialTransport(parsed.path, rate, timeout, write_timeout)
    if scheme in _SERIAL_SCHEMES:
        return SerialTransport(url, baudrate, timeout, write_timeout)
    if scheme == "usb":
        return open_usb(parsed.netloc or parsed.path, timeout)
    if scheme == "file":
        if not parsed.path:
            raise PrinterUnavailable(f"file:// URL needs a path, e.g. file:///tmp/ticket.bin, got {url!r}")
        return FileTransport(parsed.path)
    raise PrinterUnavailable(
        f"unsupported printer URL {url!r}: use tcp://HOST:9100, /dev/ttyX or serial:///dev/ttyX, usb://VID:PID "
        "or file:///path"
    )
