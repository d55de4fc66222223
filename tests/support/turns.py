"""A TCP relay in front of PostgreSQL that counts round trips: the requests a client waits on the server for.

The client's side of the wire protocol is read message by message: each Query ('Q', a simple statement such as
BEGIN) and each Sync ('S', the end of one extended-protocol statement, or of a whole pipeline) is one request the
server answers before the client goes on. So statements sent in one pipeline count once. The start-up exchange is
not counted. Use: ``relay = TurnCounter(("127.0.0.1", 5432))``, connect to ``relay.port``, read ``relay.reset()``.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104


class TurnCounter:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.turns = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> int:
        with self._lock:
            n, self.turns = self.turns, 0
        return n

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _count(self, buf: bytearray, started: list[bool]) -> None:
        """Consume whole client messages from ``buf``; count Query and Sync."""
        while True:
            if not started[0]:  # untyped start-up packets: SSL/GSS requests, then the startup message
                if len(buf) < 8:
                    return
                size, code = struct.unpack("!II", buf[:8])
                if len(buf) < size:
                    return
                del buf[:size]
                if code not in (_SSL_REQUEST, _GSS_REQUEST):
                    started[0] = True
                continue
            if len(buf) < 5:
                return
            kind = buf[0:1]
            (size,) = struct.unpack("!I", buf[1:5])
            if len(buf) < 1 + size:
                return
            del buf[:1 + size]
            if kind in (b"Q", b"S"):
                with self._lock:
                    self.turns += 1

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, server)
        sel.register(server, selectors.EVENT_READ, client)
        pending = bytearray()
        started = [False]
        try:
            while True:
                for key, _ in sel.select():
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = src.recv(65536)
                    if not data:
                        return
                    if src is client:  # counted before it is passed on: the answer cannot overtake the count
                        pending += data
                        self._count(pending, started)
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            client.close()
            server.close()

    def close(self) -> None:
        self._listener.close()
