"""The simulated printer's end of the wire: a TCP connection or a pty, behind the same five methods."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading

from devices.common.pty import PtyEndpoint


class TcpLink:
    """A host's TCP connection (one at a time, as a network printer on port 9100 takes)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(1.0)  # a reply must never wedge the simulator behind a client that stopped reading
        self._send_lock = threading.Lock()

    def recv(self, timeout: float) -> bytes | None:
        """Bytes, b"" after ``timeout`` with nothing, None when the peer has gone."""
        try:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return b""
            data = self.sock.recv(65536)
        except (OSError, ValueError):
            return None
        return data or None

    def send(self, data: bytes) -> None:
        # An OSError means the host went away: the reply has nowhere to go.
        with self._send_lock, contextlib.suppress(OSError):
            self.sock.sendall(data)

    def wake(self) -> None:
        """Make a pending recv() return at once (the simulator is closing)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def abort(self) -> None:
        """Reset the connection (RST), as a printer losing power or its network would."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class PtyLink:
    """The device end of a pty standing in for a serial line."""

    def __init__(self, endpoint: PtyEndpoint) -> None:
        self.endpoint = endpoint
        # Non-blocking master: if the host never reads, replies are dropped instead of blocking the receiver.
        os.set_blocking(endpoint.master_fd, False)
        self._send_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._wake_fds: tuple[int, ...] = (self._wake_r, self._wake_w)

    def recv(self, timeout: float) -> bytes | None:
        try:
            ready, _, _ = select.select([self.endpoint.master_fd, self._wake_r], [], [], timeout)
            if self._wake_r in ready:
                return None
            return self.endpoint.read(65536, timeout=0) if ready else b""
        except (OSError, ValueError):
            return None

    def wake(self) -> None:
        with self._send_lock, contextlib.suppress(OSError):
            if self._wake_fds:
                os.write(self._wake_w, b"x")

    def send(self, data: bytes) -> None:
        # BlockingIOError (an OSError) means the host is not reading its replies: drop them.
        with self._send_lock, contextlib.suppress(OSError):
            os.write(self.endpoint.master_fd, data)

    def abort(self) -> None:
        pass  # a serial line cannot be "closed" from the device end; the simulator goes deaf instead

    def close(self) -> None:
        # Called by the receiver and by close(): closing the pipe's fd numbers twice could close someone else's.
        with self._send_lock:
            fds, self._wake_fds = self._wake_fds, ()
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)



Link = TcpLink | PtyLink
