"""Slow and half-open clients are dropped after the read timeout; WebSockets are not; a WebSocket's close is not
logged as an invalid HTTP request. Raw TCP sockets against live servers, in both async modes."""

from __future__ import annotations

import socket
import time

import pytest

from tests.conftest_server import Screen, ServerFactory, write_hall

HALF_OPEN = 50
TIMEOUT = 2.0


def _dropped(sock: socket.socket, deadline: float) -> bool:
    """True once the server closed the connection (EOF, possibly after a 400/408 reply)."""
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True
    except (TimeoutError, OSError):
        return False


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", ["gevent", "threading"])
def test_half_open_connections_are_dropped_and_websockets_stay(servers: ServerFactory, mode: str) -> None:
    hall = write_hall(servers.directory)
    srv = servers.start(database=str(servers.directory / "h.db"), config=hall,
                        extra=["--async-mode", mode, "--read-timeout", str(TIMEOUT)])
    screen = Screen(srv.url).connect()
    screen.subscribe(hall=True)
    partial = [b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n", b"GE", b"",
               b"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100\r\n\r\n{\"queue_id\""]
    socks = []
    for i in range(HALF_OPEN):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(partial[i % len(partial)])
        socks.append(s)
    started = time.monotonic()
    deadline = started + TIMEOUT + 8
    held = [s for s in socks if not _dropped(s, deadline)]
    for s in socks:
        s.close()
    assert not held, f"{len(held)} of {HALF_OPEN} half-open connections still held after {deadline - started:.0f} s"
    # The WebSocket, idle longer than the read timeout, still receives events.
    import requests

    r = requests.post(srv.api + "/tickets", json={"queue_id": "qa"}, timeout=10)
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 10
    while not screen.of_type("ticket_issued") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert screen.of_type("ticket_issued"), "the WebSocket was dropped by the read timeout"
    screen.drop()
    time.sleep(1.0)
    log = srv.log_text()
    assert "Invalid HTTP method" not in log and "\\x88" not in log, log[-2000:]
    assert "Traceback" not in log and "timed out" not in log, log[-2000:]  # a dropped client is no error
