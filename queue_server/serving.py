"""The HTTP servers `onewindow serve` runs: TCP_NODELAY on every accepted connection, and a read timeout for each
request (none for a WebSocket).

TCP_NODELAY: without it a small response written in two pieces (headers, then body; or a Socket.IO frame after a
ping) waits for the client's delayed ACK under Nagle's algorithm: ~40 ms per request with one client. Neither
gevent's pywsgi nor werkzeug set the option.

Read timeout: without it a client that opens a connection and sends half a request line (or half a body) holds a
greenlet or a thread and a socket forever: 50 such connections were held indefinitely. Flask-SocketIO runs
gevent's ``pywsgi.WSGIServer`` (``handler_class=``) in gevent mode and Werkzeug's ``run_simple``
(``request_handler=``) in threading mode; both get a handler that bounds the wait for a request line, headers and
body, then lifts the bound when the request is a WebSocket upgrade (that connection idles legitimately between
pings).
"""

from __future__ import annotations

import contextlib
import gc
import socket
from typing import Any

from werkzeug.serving import WSGIRequestHandler

DEFAULT_READ_TIMEOUT = 15.0  # seconds a client may take to send a request line, its headers or its body
_TIMEOUT_BODY = b'{"error":{"code":"request_timeout","message":"the request did not arrive in time; send it again"}}'
_REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(_TIMEOUT_BODY)) + _TIMEOUT_BODY


def set_nodelay(sock: Any) -> None:
    """Disable Nagle's algorithm on a connected TCP socket (a Unix socket has nothing to disable)."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _is_websocket(environ_or_headers: Any) -> bool:
    value = environ_or_headers.get("HTTP_UPGRADE") if isinstance(environ_or_headers, dict) else \
        environ_or_headers.get("Upgrade")
    return (value or "").lower() == "websocket"


class NoDelayRequestHandler(WSGIRequestHandler):
    """werkzeug's handler (threading mode); socketserver's StreamRequestHandler sets TCP_NODELAY in setup()."""

    disable_nagle_algorithm = True


def gevent_handler_class() -> type:
    """gevent's pywsgi handler with TCP_NODELAY set before the request is read (imported lazily: only gevent mode
    patches the standard library for it)."""
    from gevent import pywsgi

    class NoDelayWSGIHandler(pywsgi.WSGIHandler):
        def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None) -> None:
            set_nodelay(sock)
            super().__init__(sock, address, server, rfile)

    return NoDelayWSGIHandler


def gevent_handler(read_timeout: float) -> type:
    class TimedHandler(gevent_handler_class()):  # type: ignore[misc]
        def handle_one_request(self):  # type: ignore[no-untyped-def]
            # Also bounds the idle time between keep-alive requests.
            self.socket.settimeout(read_timeout)
            return super().handle_one_request()

        def _handle_client_error(self, ex):  # type: ignore[no-untyped-def]
            if isinstance(ex, TimeoutError):  # headers too slow: answer 408 and close, without a log line each
                return "408", _REQUEST_TIMEOUT
            return super()._handle_client_error(ex)

        def run_application(self) -> None:
            websocket = _is_websocket(self.environ)
            if websocket:
                self.socket.settimeout(None)
            try:
                super().run_application()
            finally:
                if websocket:
                    # The socket served a WebSocket: what follows on it (the close frame) is not an HTTP request.
                    # Reading it as one logged "Invalid HTTP method: '\x88\x82…'" on every disconnect.
                    self.close_connection = True

    return TimedHandler


def threading_handler(read_timeout: float) -> type:
    class TimedHandler(NoDelayRequestHandler):
        timeout = read_timeout  # socketserver applies it to the connection in setup()

        def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            if format.startswith("Request timed out"):  # a dropped slow client is not a server error
                return
            super().log_error(format, *args)

        def run_wsgi(self) -> None:
            if _is_websocket(self.headers):
                self.connection.settimeout(None)
            super().run_wsgi()

    return TimedHandler


# Allocations between young-generation collections (Python's default: 700). A request allocates thousands of
# objects, so the default collected several times per request and promoted enough survivors to trigger a full
# collection every few seconds under load; cycles are few here (a collection finds tens of them).
GC_YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Before serving: collect once, then move everything alive (modules, the app, config, the kiosk's search
    index) out of the collector's sight. A full collection otherwise walked it all again and again: 170-330 ms
    pauses of the whole server (every screen waiting) at 1,000 live screens, BENCHMARKS.md issue 11."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)


def server_kwargs(async_mode: str, read_timeout: float = DEFAULT_READ_TIMEOUT) -> dict[str, Any]:
    """Extra keyword arguments for ``socketio.run`` in this async mode: the server's no-delay, timed handler."""
    if async_mode == "gevent":
        return {"handler_class": gevent_handler(read_timeout)}
    return {"allow_unsafe_werkzeug": True, "request_handler": threading_handler(read_timeout)}
