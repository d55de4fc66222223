"""An outsider on the hall's Wi-Fi, against a live server (default Hezuo config and devices.toml): what the
public hall room, the event log and the socket origin check let them read or do (issue 9, findings 1 and 5)."""

from __future__ import annotations

import contextlib
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
import websocket

from queue_server.policy import AUDIENCES, Audience
from tests.conftest_server import Screen
from tests.support.live import StaffSession, add_staff, device_token

ID = "11010519491231002X"
FULL_NAME = "王小娜"


@pytest.fixture
def live(servers, tmp_path: Path) -> dict[str, Any]:
    db = str(tmp_path / "hall.db")
    add_staff(db, "clerk", roles=("window_staff",), windows=("w01",))
    srv = servers.start(database=db, always_open=True)
    return {"srv": srv, "db": db, "kiosk": device_token(db, "kiosk-1"), "window": device_token(db, "window-1")}


def agent(url: str, token: str) -> socketio.SimpleClient:
    c = socketio.SimpleClient()
    c.connect(url, auth={"token": token}, transports=["websocket"])
    return c


def private_traffic(live: dict[str, Any]) -> dict[str, Any]:
    """What happens in a morning that the public must not see: a card read at kiosk-1, a notice with the
    applicant's full name printed there, a case taken at w01."""
    srv = live["srv"]
    kiosk = agent(srv.url, live["kiosk"])
    assert kiosk.call("agent_hello", {"station": "kiosk-1"})["ok"]
    read = kiosk.call("device_input", {"station": "kiosk-1", "device": "idcard", "input_id": secrets.token_hex(6),
                                       "kind": "card_read", "data": {"id_number": ID, "name": FULL_NAME}})
    assert read["ok"], read
    sup = StaffSession(srv.url)
    ticket = requests.post(f"{srv.url}/api/v1/tickets", json={"queue_id": "comprehensive"}, timeout=5).json()
    clerk = StaffSession(srv.url, "clerk")
    for action in ("open", "call-next", "start"):
        assert clerk.post(f"/windows/w01/{action}", json={}).status_code == 200
    case = clerk.post("/cases", json={"item_id": "teacher-registration", "applicant_name": FULL_NAME,
                                      "id_number": ID, "phone": "13812342345", "window_id": "w01",
                                      "ticket_id": ticket["ticket"]["id"],
                                      "materials": ["e_licence", "original", "original", "original"]}).json()["case"]
    notice = clerk.post(f"/cases/{case['id']}/accept", json={}).json()["notice"]
    printed = sup.post(f"/notices/{notice['id']}/print", json={"station": "kiosk-1"})
    assert printed.status_code == 200, printed.text
    kiosk.disconnect()
    return {"input_id": read["input_id"], "case": case, "ticket": ticket["ticket"]}


def test_the_public_hall_room_and_event_log_carry_no_private_traffic(live):
    srv = live["srv"]
    screen = Screen(srv.url, "outsider").connect()
    screen.subscribe(hall=True)
    staff_screen = Screen(srv.url, "supervisor", actor="staff:tester").connect()
    staff_screen.subscribe(hall=False, staff=True)
    stream = websocket.create_connection(srv.url.replace("http://", "ws://") + "/live", timeout=5)  # the screens'
    seen = private_traffic(live)
    head = requests.get(f"{srv.url}/api/v1/events", params={"since": 0}, timeout=5).json()
    staff_screen.wait_for_seq(head["seq"])
    streamed = []
    with contextlib.suppress(websocket.WebSocketTimeoutException):
        stream.settimeout(1.5)
        while True:
            streamed += json.loads(stream.recv()).get("events", [])
    stream.close()
    assert {"ticket_issued", "ticket_called"} <= {e["type"] for e in streamed} <= \
        {k for k, a in AUDIENCES.items() if a is Audience.PUBLIC}

    public_kinds = {e for e, _ in screen.events}
    assert public_kinds and public_kinds <= {"ticket_issued", "ticket_called", "ticket_started", "window_state",
                                             "queue_stats", "day_rolled_over"}, public_kinds
    logged = json.dumps(head, ensure_ascii=False)
    heard = json.dumps([screen.events, streamed], ensure_ascii=False)
    for secret in (FULL_NAME, ID, "13812342345", seen["input_id"], seen["case"]["number"], "tracker_token",
                   "document"):
        assert secret not in logged and secret not in heard, secret
    assert {e["type"] for e in head["events"]} <= {k for k, a in AUDIENCES.items() if a is Audience.PUBLIC}

    # Public events are chained by prev: the hall room sees no gap although device events took seq numbers.
    chain = [(d["prev"], d["seq"]) for _e, d in screen.events]
    assert all(prev == earlier for (prev, _), (_, earlier) in zip(chain[1:], chain[:-1], strict=False)), chain

    # Staff see the command, but not the document a printer prints (nor the full name in it).
    commands = staff_screen.of_type("device_command")
    assert commands and all("args" not in c for c in commands)
    assert FULL_NAME not in json.dumps(staff_screen.events, ensure_ascii=False)


def test_private_rooms_and_leaked_ids_give_an_outsider_nothing(live):
    srv = live["srv"]
    seen = private_traffic(live)
    api = f"{srv.url}/api/v1"
    for room in ("station:kiosk-1", "staff:hezuo"):
        r = requests.get(f"{api}/events", params={"since": 0, "rooms": room}, timeout=5)
        assert r.status_code == 403 and r.json()["error"]["code"] == "room_forbidden"
    r = requests.post(f"{api}/kiosk/identify", json={"station": "kiosk-1", "input_id": seen["input_id"]}, timeout=5)
    assert r.status_code in (401, 403)
    assert requests.get(f"{api}/tickets/{seen['ticket']['id']}", timeout=5).status_code == 401
    outsider = Screen(srv.url, "outsider").connect()
    for sub in ({"hall": False, "station": "kiosk-1"}, {"hall": False, "staff": True}):
        assert outsider.call("subscribe", sub)["status"] in (401, 403)
    # The kiosk's own station token reads its room whole: the print job with its document.
    own = requests.get(f"{api}/events", params={"since": 0, "rooms": "station:kiosk-1"}, timeout=5,
                       headers={"Authorization": f"Bearer {live['kiosk']}"}).json()
    assert any(e["type"] == "device_command" and "document" in e["payload"]["args"] for e in own["events"])


def test_a_page_of_another_origin_cannot_open_a_socket(live):
    """The Engine.IO handshake a browser makes, with the Origin it sends: only the server's own is accepted
    (clients that send no Origin, like the device agents, are not browsers and pass)."""
    srv = live["srv"]
    url = f"{srv.url}/socket.io/?EIO=4&transport=polling"
    for origin, ok in (("http://127.0.0.1:1", False), ("http://evil.example", False), (srv.url, True),
                       (None, True)):
        headers = {"Origin": origin} if origin else {}
        r = requests.get(url, headers=headers, timeout=5)
        assert (r.status_code == 200) is ok, (origin, r.status_code, r.text[:100])


def test_a_cookie_socket_without_the_csrf_token_cannot_act(live):
    """A page on another port of the same host could open a socket that carries the clerk's cookie (same site):
    without the page's CSRF token that socket may not pause a window."""
    srv = live["srv"]
    clerk = StaffSession(srv.url, "clerk")
    cookie = "; ".join(f"{c.name}={c.value}" for c in clerk.cookies)
    c = socketio.SimpleClient()
    c.connect(srv.url, headers={"Cookie": cookie}, transports=["websocket"])
    r = c.call("window_action", {"window_id": "w01", "action": "pause"})
    assert r["ok"] is False and r["error"]["code"] == "csrf_failed"
    c.disconnect()
    c = socketio.SimpleClient()
    c.connect(srv.url, headers={"Cookie": cookie}, auth={"csrf_token": clerk.headers["X-CSRF-Token"]},
              transports=["websocket"])
    assert c.call("window_action", {"window_id": "w01", "action": "open"})["ok"]
    c.disconnect()
