"""Every connection the server accepts has TCP_NODELAY set (no 40 ms Nagle/delayed-ACK stall per request), in both
async modes; the stock handlers do not, which shows the check can fail."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from queue_server.serving import NoDelayRequestHandler, server_kwargs


def _nodelay_seen_by_werkzeug(handler: type[WSGIRequestHandler]) -> int:
    def app(environ, start_response):  # type: ignore[no-untyped-def]
        body = str(environ["werkzeug.socket"].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as c:
            c.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            reply = b""
            while chunk := c.recv(4096):
                reply += chunk
        return int(reply.split(b"\r\n\r\n", 1)[1])
    finally:
        server.shutdown()
        thread.join(5)


def test_threading_mode_sets_nodelay_on_accepted_connections() -> None:
    ours = server_kwargs("threading")["request_handler"]
    assert issubclass(ours, NoDelayRequestHandler)
    assert _nodelay_seen_by_werkzeug(ours) != 0
    assert _nodelay_seen_by_werkzeug(WSGIRequestHandler) == 0


GEVENT_PROBE = textwrap.dedent("""
    import socket, sys
    import gevent
    from gevent import pywsgi, socket as gsocket
    from queue_server.serving import server_kwargs

    base = server_kwargs("gevent")["handler_class"] if sys.argv[1] == "ours" else pywsgi.WSGIHandler
    seen = []

    class Probe(base):
        def handle(self):
            seen.append(self.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            return super().handle()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = pywsgi.WSGIServer(("127.0.0.1", 0), app, handler_class=Probe, log=None)
    server.start()
    c = gsocket.create_connection(("127.0.0.1", server.server_port), timeout=5)
    c.sendall(b"GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
    while c.recv(4096):
        pass
    c.close()
    server.stop()
    print(seen[0])
""")


def _nodelay_seen_by_gevent(which: str) -> int:
    out = subprocess.run([sys.executable, "-c", GEVENT_PROBE, which], capture_output=True, text=True, timeout=60,
                         check=True)
    return int(out.stdout.strip())


def test_gevent_mode_sets_nodelay_on_accepted_connections() -> None:
    assert _nodelay_seen_by_gevent("ours") != 0
    assert _nodelay_seen_by_gevent("stock") == 0
