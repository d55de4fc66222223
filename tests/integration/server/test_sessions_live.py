"""Issue 9 finding 7 against a live ``onewindow serve``: a logout ends the session on the server — a saved copy
of its cookie opens nothing over REST or a new Socket.IO connection, and a socket opened before the logout can
no longer act — while the same clerk's other session lives on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import socketio

from tests.integration.agent.harness import Server
from tests.support.live import StaffSession, add_staff

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("sessions-live"))
    add_staff(srv.database, "clerk1", roles=("window_staff",), windows=("w01",))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def staff_socket(server: Server, session: StaffSession) -> socketio.Client:
    sio = socketio.Client(reconnection=False)
    sio.connect(server.url, transports=["polling"], wait_timeout=5, headers={"Cookie": session.cookie_header()},
                auth={"csrf_token": session.headers["X-CSRF-Token"]})
    return sio


def test_a_logged_out_cookie_is_worth_nothing(server: Server, tmp_path: Path) -> None:
    clerk = StaffSession(server.url, "clerk1")
    other = StaffSession(server.url, "clerk1")  # the same clerk on another PC
    saved = clerk.cookie_header()
    sock = staff_socket(server, clerk)
    try:
        assert sock.call("window_action", {"window_id": "w01", "action": "open"}, timeout=5)["ok"]
        assert clerk.post("/auth/logout", json={}).status_code == 200
        # the socket opened before the logout: its next action is refused
        reply = sock.call("window_action", {"window_id": "w01", "action": "pause"}, timeout=5)
        assert not reply.get("ok") and reply["error"]["code"] in ("not_logged_in", "csrf_failed")
    finally:
        sock.disconnect()
    replay = requests.get(f"{server.api}/auth/me", headers={"Cookie": saved}, timeout=5)
    assert replay.json()["staff"] is None
    r = requests.post(f"{server.api}/windows/w01/pause", json={}, timeout=5,
                      headers={"Cookie": saved, "X-CSRF-Token": clerk.headers["X-CSRF-Token"]})
    assert r.status_code in (401, 403)
    assert other.get("/auth/me").json()["staff"]["username"] == "clerk1"
    assert other.post("/windows/w01/pause", json={}).status_code == 200
