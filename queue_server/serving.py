"""The HTTP servers `onewindow serve` runs, with TCP_NODELAY on every accepted connection.

Without it a small response written in two pieces (headers, then body; or a Socket.IO frame after a ping) waits for
the client's delayed ACK under Nagle's algorithm: ~40 ms per request with one client. Neither gevent's pywsgi nor
werkzeug set the option, so each gets a handler class that does.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from werkzeug.serving import WSGIRequestHandler


def set_nodelay(sock: Any) -> None:
    """Disable Nagle's algorithm on a connected TCP socket (a Unix socket has nothing to disable)."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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


def server_options(async_mode: str) -> dict[str, Any]:
    """Keyword arguments for ``socketio.run`` that install the no-delay handler of the async mode's server."""
    if async_mode == "gevent":
        return {"handler_class": gevent_handler_class()}
    if async_mode == "threading":
        return {"allow_unsafe_werkzeug": True, "request_handler": NoDelayRequestHandler}
    return {}
