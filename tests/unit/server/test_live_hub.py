"""The live stream's hub (queue_server/realtime/live.py) on real socket pairs: a broadcast is encoded once per room
however many subscribers, only public events go out, and a subscriber that stops reading is dropped without
holding up the others."""

from __future__ import annotations

import json
import socket
import struct
import threading
from typing import Any

import pytest

from queue_server.realtime.live import MAX_BACKLOG, UNACKED_S, LiveHub, Subscriber, text_frame


def spawn(fn: Any, *args: Any) -> threading.Thread:
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


def read_frame(sock: socket.socket) -> dict[str, Any]:
    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            assert chunk, "closed"
            buf += chunk
        return buf

    b0, b1 = exactly(2)
    assert b0 == 0x81 and not b1 & 0x80  # final text frame, unmasked (a server's)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", exactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exactly(8))[0]
    return json.loads(exactly(n))


def event(type_: str, seq: int, prev: int, rooms: list[str]) -> dict[str, Any]:
    return {"type": type_, "seq": seq, "rooms": rooms, "payload": {"seq": seq, "prev": prev, "number": f"A{seq:03}"}}


@pytest.fixture
def pairs() -> Any:
    made: list[tuple[socket.socket, socket.socket]] = []

    def make(n: int) -> list[tuple[Subscriber, socket.socket]]:
        out = []
        for _ in range(n):
            server_side, client_side = socket.socketpair()
            client_side.settimeout(5)
            made.append((server_side, client_side))
            out.append((Subscriber(server_side, spawn), client_side))
        return out

    yield make
    for a, b in made:
        a.close()
        b.close()


def test_a_batch_is_encoded_once_per_room_for_any_number_of_subscribers(pairs):
    hub = LiveHub("h", spawn)
    hall = pairs(40)
    queue = pairs(10)
    for sub, _ in hall:
        hub.add("hall:h", sub)
    for sub, _ in queue:
        hub.add("queue:qa", sub)
    batch = [event("ticket_finished", 7, 5, ["hall:h", "queue:qb", "staff:h"]),
             event("alert_raised", 8, 0, ["staff:h"]),  # staff only: never on the public stream
             event("ticket_called", 9, 7, ["hall:h", "queue:qa", "staff:h"]),
             event("window_state", 10, 9, ["hall:h", "staff:h"])]
    hub.deliver(batch)
    assert hub.frames_encoded == 2  # the hall's frame and queue qa's: not 50, not 3 per event
    for _, peer in hall:
        got = read_frame(peer)["events"]
        assert [(e["type"], e["payload"]["prev"]) for e in got] == [("ticket_finished", 5), ("ticket_called", 7),
                                                                    ("window_state", 9)]
    for _, peer in queue:
        assert [e["type"] for e in read_frame(peer)["events"]] == ["ticket_called"]
    hub.deliver([event("alert_closed", 11, 0, ["staff:h"])])
    hub.deliver([event("ticket_issued", 12, 11, ["hall:other", "queue:qa"])])  # another hall's, on a shared queue
    assert hub.frames_encoded == 2  # nothing public of this hall: nothing sent
    hub.heartbeat()
    assert read_frame(hall[0][1]) == {"hb": 10}


def test_a_subscriber_that_stops_reading_is_dropped_and_the_others_keep_up(pairs):
    hub = LiveHub("h", spawn)
    (stuck, stuck_peer), *readers = pairs(3)
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    for sub, _ in [(stuck, stuck_peer), *readers]:
        hub.add("hall:h", sub)
    big = "x" * 60_000
    rounds = MAX_BACKLOG // 60_000 + 30
    for i in range(rounds):
        ev = event("ticket_issued", i + 1, i, ["hall:h"])
        ev["payload"]["pad"] = big
        hub.deliver([ev])
        for _, peer in readers:
            assert read_frame(peer)["events"][0]["payload"]["seq"] == i + 1
    assert stuck.closed and hub.subscribers() == 2
    assert len(stuck.backlog) == 0  # its memory is released


def test_a_subscriber_held_until_its_handshake_is_out_gets_what_came_meanwhile_first(pairs):
    hub = LiveHub("h", spawn)
    [(sub, peer)] = pairs(1)
    sub.held = True
    hub.add("hall:h", sub)
    hub.deliver([event("ticket_issued", 1, 0, ["hall:h"])])
    sub.sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")  # what the handshake writes meanwhile
    sub.release()
    hub.deliver([event("ticket_issued", 2, 1, ["hall:h"])])
    assert peer.recv(len(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")).startswith(b"HTTP/1.1 101")
    assert [read_frame(peer)["events"][0]["payload"]["seq"] for _ in range(2)] == [1, 2]


def test_a_tcp_subscriber_is_given_up_when_its_data_stays_unacknowledged():
    with socket.create_server(("127.0.0.1", 0)) as server:
        peer = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
        with peer, conn:
            Subscriber(conn, spawn)
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == int(UNACKED_S * 1000)


def test_frames_are_the_rfc_6455_lengths():
    for n in (0, 125, 126, 65535, 65536):
        frame = text_frame("a" * n)
        assert frame[0] == 0x81 and frame.endswith(b"a" * n)
        assert len(frame) == n + (2 if n < 126 else 4 if n < 65536 else 10)
