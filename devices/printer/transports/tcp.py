"""A network printer's raw port over a plain socket (Nagle off: status requests are single bytes)."""

from __future__ import annotations

import socket

from devices.printer.errors import PrinterConnectionLost, PrinterUnavailable


class SocketTransport:
    can_read = True

    def __init__(self, host: str, port: int, timeout: float, write_timeout: float) -> None:
        self.description = f"tcp://{host}:{port}"
        self._address = (host, port)
        self._timeout = timeout
        self._write_timeout = write_timeout
        self._sock = self._connect()

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection(self._address, timeout=self._timeout)
        except OSError as exc:
            raise PrinterUnavailable(f"cannot connect to the printer at {self.description}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def reconnect(self) -> None:
        """A new connection (network printers close idle ones, or drop them when power-cycled)."""
        self._sock.close()
        self._sock = self._connect()

    def write(self, data: bytes) -> None:
        self._sock.settimeout(self._write_timeout)
        self._sock.sendall(data)

    def read(self, count: int, timeout: float) -> bytes:
        self._sock.settimeout(max(timeout, 1e-3))
        try:
            data = self._sock.recv(count)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise PrinterConnectionLost(
                f"connection to the printer at {self.description} lost: {exc.strerror or exc}"
            ) from exc
        if not data:
            raise PrinterConnectionLost(f"the printer at {self.description} closed the connection")
        return data

    def discard_input(self) -> bytes:
        dropped = b""
        self._sock.setblocking(False)
        try:
            while chunk := self._sock.recv(4096):
                dropped += chunk
        except BlockingIOError:
            pass
        except OSError as exc:
            raise PrinterConnectionLost(
                f"connection to the printer at {self.description} lost: {exc.strerror or exc}"
            ) from exc
        finally:
            self._sock.setblocking(True)
        return dropped

    def close(self) -> None:
        self._sock.close()
