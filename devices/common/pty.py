"""A pseudo-terminal pair for a simulator: the simulator holds the master, a driver opens the slave path."""

from __future__ import annotations

import contextlib
import os
import select
import termios
import tty


class PtyEndpoint:
    """The device's side of a serial line.

    ``path`` is the ``/dev/pts/N`` a driver opens (``serial.serial_for_url(path)``); the simulator reads and
    writes the master fd through :meth:`read` and :meth:`write`.
    """

    def __init__(self) -> None:
        self.master_fd, self._slave_fd = os.openpty()
        # Raw mode on the slave so no byte (0x0D, 0x11, 0x13...) is translated or swallowed by the line discipline.
        tty.setraw(self._slave_fd)
        attrs = termios.tcgetattr(self._slave_fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self._slave_fd, termios.TCSANOW, attrs)
        self.path = os.ttyname(self._slave_fd)
        self._closed = False

    def read(self, max_bytes: int = 4096, timeout: float | None = 0.1) -> bytes:
        """Bytes the driver wrote, or b"" after ``timeout`` seconds with nothing to read."""
        if self._closed:
            return b""
        ready, _, _ = select.select([self.master_fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.master_fd, max_bytes)
        except OSError:  # EIO while no process holds the slave open
            return b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.master_fd, view)
            view = view[written:]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for fd in (self.master_fd, self._slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
