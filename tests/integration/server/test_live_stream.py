"""The public live stream (``GET /live``, queue_server/realtime/live.py) against a live gevent server with real
WebSocket clients: one frame per committed write, the same bytes for every screen, the hall's ``prev`` chain
intact and equal to the event log, rooms, the origin check, and nothing but public events."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests
import websocket

from queue_server.policy import AUDIENCES, Audience
from tests.conftest_server import Api, require_redis, write_hall

PUBLIC = {k for k, a in AUDIENCES.items() if a is Audience.PUBLIC}


def ws_url(base: str, room: str | None = None) -> str:
    return base.replace("http://", "ws://") + "/live" + (f"?room={room}" if room else "")


def open_live(base: str, room: str | None = None, **kw: Any) -> websocket.WebSocket:
    return websocket.create_connection(ws_url(base, room), timeout=10, **kw)


def next_batch(ws: websocket.WebSocket) -> tuple[bytes, list[dict[str, Any]]]:
    """The next events frame (heartbeats skipped), raw and decoded."""
    while True:
        raw = ws.recv()
        raw = raw.encode() if isinstance(raw, str) else raw
        msg = json.loads(raw)
        if "events" in msg:
            return raw, msg["events"]


def until_two_calls(ws: websocket.WebSocket) -> list[tuple[bytes, list[dict[str, Any]]]]:
    """Frames up to the one with the second ticket_called (the coalesced queue_stats may come in between)."""
    frames: list[tuple[bytes, list[dict[str, Any]]]] = []
    while sum(e["type"] == "ticket_called" for _, events in frames for e in events) < 2:
        frames.append(next_batch(ws))
    return frames


@pytest.fixture(params=["gevent", "threading"])
def hall(request, servers, hall_yaml) -> Any:
    srv = servers.start(database=str(hall_yaml.parent / "live.db"), config=hall_yaml, always_open=True,
                        env={"ONEWINDOW_ASYNC_MODE": request.param})
    api = Api(srv.url + "/api/v1")
    api.post("/windows/w09/open")
    return srv, api


def test_a_call_reaches_every_screen_as_one_identical_frame_in_the_event_log_s_order(hall):
    srv, api = hall
    for _ in range(2):
        api.issue("solo")
    screens = [open_live(srv.url) for _ in range(30)]
    try:
        since = requests.get(f"{srv.url}/api/v1/events", params={"since": 0, "limit": 0}, timeout=10).json()["seq"]
        for action in ("call-next", "start", "call-next"):  # the second call finishes the first ticket
            api.post(f"/windows/w09/{action}")
        frames = [until_two_calls(ws) for ws in screens]
    finally:
        for ws in screens:
            ws.close()

    assert all(f == frames[0] for f in frames), "every screen gets the same bytes"
    batches = [events for _, events in frames[0]]
    second = batches[-1]  # the second call: one frame for the whole write, not three
    assert [e["type"] for e in second][:2] == ["ticket_finished", "ticket_called"], second
    assert "window_state" in [e["type"] for e in second]
    received = [e for events in batches for e in events if e["payload"]["seq"] > since]  # not the issues' stats
    log = requests.get(f"{srv.url}/api/v1/events", params={"since": since}, timeout=10).json()["events"]
    assert [(e["type"], e["payload"]) for e in received] == [(e["type"], e["payload"]) for e in log][:len(received)]
    assert {e["type"] for e in received} <= PUBLIC
    prev = received[0]["payload"]["prev"]
    for e in received:
        assert e["payload"]["prev"] == prev, "each public event names the one before it"
        prev = e["payload"]["seq"]


def test_a_room_gets_its_own_events_and_unknown_rooms_and_foreign_pages_are_refused(hall):
    srv, api = hall
    solo, other = open_live(srv.url, "queue:solo"), open_live(srv.url, "queue:qa")
    try:
        api.issue("solo")
        _, events = next_batch(solo)
        assert events[0]["type"] == "ticket_issued" and events[0]["payload"]["queue_id"] == "solo"
        api.issue("qa")
        _, events = next_batch(other)
        assert [e["payload"]["queue_id"] for e in events if e["type"] == "ticket_issued"] == ["qa"]
    finally:
        solo.close()
        other.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        open_live(srv.url, "staff:testhall")
    assert e.value.status_code == 404
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        open_live(srv.url, origin="http://evil.example")
    assert e.value.status_code == 403
    open_live(srv.url, origin=srv.url).close()  # the server's own pages may, also behind an HTTPS proxy
    open_live(srv.url, origin="https://hall.example", header=["X-Forwarded-Proto: https",
                                                              "X-Forwarded-Host: hall.example"]).close()
    plain = requests.get(f"{srv.url}/live", timeout=10)
    assert plain.status_code == 400


def test_with_a_message_queue_a_screen_on_one_process_sees_a_call_made_through_another(servers, tmp_path):
    require_redis()
    hall_id = f"live-{secrets.token_hex(4)}"  # its own rooms on the shared Redis channel
    config = write_hall(tmp_path, hall_id=hall_id)
    db = str(tmp_path / "two.db")
    mq = f"redis://127.0.0.1:6379/{secrets.randbelow(8) + 8}"
    env = {"ONEWINDOW_SECRET_KEY": "live-relay-key", "ONEWINDOW_PERSON_SECRET": "live-relay-secret"}
    one = servers.start(database=db, config=config, always_open=True, message_queue=mq, env=env, name="one")
    two = servers.start(database=db, config=config, always_open=True, message_queue=mq, env=env, name="two")
    screens = [open_live(two.url), open_live(one.url)]
    try:
        api = Api(one.url + "/api/v1")
        api.post("/windows/w09/open")
        ticket = api.issue("solo")
        called = api.post("/windows/w09/call-next")["ticket"]
        assert called["id"] == ticket["id"]
        for ws in screens:  # each process writes each batch once: the same events, in order, no duplicates
            got: list[dict[str, Any]] = []
            while not any(e["type"] == "ticket_called" for e in got):
                got += next_batch(ws)[1]
            seqs = [e["payload"]["seq"] for e in got]
            assert seqs == sorted(set(seqs))
            assert [e["payload"]["id"] for e in got if e["type"] == "ticket_called"] == [ticket["id"]]
    finally:
        for ws in screens:
            ws.close()
