"""The public live stream: hall screens and phone trackers follow committed public events over a plain WebSocket,
``GET /live?room=hall`` (or ``queue:<id>``, ``zone:<id>``, ``window:<id>``).

Why not Socket.IO for them: a call sent ticket_finished, ticket_called and window_state to every hall client, and
each of those frames went through the client's engine.io queue, its writer greenlet and wsproto's framing before
its own send — per client, per event. At 1,000 screens that was a p99 of ~200 ms from call to screen on two
cores (BENCHMARKS.md, issue 11). Here a committed write's public events go out as ONE text frame, encoded ONCE
per room, and the same bytes are written to every subscriber with a non-blocking send: per screen the cost is
one ``send``.

Protocol (server → client; anything a client sends is ignored):

- ``{"events": [{"type": …, "payload": {…, "seq", "prev", "at"}}, …]}`` — one committed write, in seq order; a
  room's subscribers get the events that went to that room (the hall room: every public event);
- ``{"hb": <the last public seq delivered, or null>}`` — every ``HEARTBEAT_S`` seconds: the page knows the socket
  is alive, and a lost trailing event shows up as a seq beyond its own.

A page opens the socket first and then reads its state over REST (``/api/v1/snapshot`` or ``/api/v1/events?since=``),
so nothing committed in between is missed; ``prev`` (the hall's previous public seq) reveals any gap, which the page
fills from ``/api/v1/events``. Only public events ever reach this module's sockets (``Audience.PUBLIC``).

A subscriber that cannot take a frame at once gets the rest from a flusher task of its own; one that falls more
than ``MAX_BACKLOG`` bytes behind is dropped (it reconnects and resyncs) instead of holding memory or the others.

With several server processes (``--message-queue``) each batch travels once through the Socket.IO message queue
and every process's hub writes it to its own subscribers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import simple_websocket
from flask import Blueprint, Response, current_app, request

from ..policy import Audience, audience_of
from ..services.events import hall_room

log = logging.getLogger("onewindow.live")

HEARTBEAT_S = 10.0
MAX_BACKLOG = 512 * 1024  # bytes a subscriber may lag before it is dropped
UNACKED_S = 30.0  # seconds sent data may stay unacknowledged before the connection is given up (TCP_USER_TIMEOUT)
LIVE_EVENT = "onewindow:live"  # a batch's name on the message queue between server processes
_ROOM_KINDS = ("zone", "window", "queue")

Spawn = Callable[..., Any]


def text_frame(text: str) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 §5.2): what a server sends, the same for every client."""
    data = text.encode()
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x81, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 127, n)
    return head + data


def _nonblocking_send(sock: Any) -> Callable[[bytes], int]:
    """A send that writes what the socket takes now and never waits (raises BlockingIOError when it takes none).

    gevent's sockets wait for writability unless told a zero timeout for this call; a real socket (threading
    mode) is blocking, MSG_DONTWAIT makes the one call non-blocking without changing the socket for the reader."""
    if type(sock).__module__.startswith("gevent"):
        return lambda data: sock.send(data, 0, timeout=0.0)
    return lambda data: sock.send(data, socket.MSG_DONTWAIT)


class Subscriber:
    """One live socket. ``backlog`` holds what it has not taken yet: non-empty only while a flusher task is
    sending it, or while the subscriber is ``held`` (registered before its handshake answer went out)."""

    __slots__ = ("sock", "_send_now", "_spawn", "backlog", "held", "closed", "lock")

    def __init__(self, sock: Any, spawn: Spawn, held: bool = False) -> None:
        self.sock = sock
        # A phone that left the Wi-Fi never acknowledges: drop it after UNACKED_S instead of the kernel's ~15 min
        # of retransmissions, its frames piling up meanwhile (heartbeats make sure there is always something sent).
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(UNACKED_S * 1000))
        self._send_now = _nonblocking_send(sock)
        self._spawn = spawn
        self.backlog = bytearray()
        self.held = held
        self.closed = False
        self.lock = threading.Lock()

    def write(self, frame: bytes) -> bool:
        """Send the frame now, or queue it behind what this subscriber has not taken yet. False: it is gone (or
        was too slow and is now closed); the hub forgets it."""
        with self.lock:
            if self.closed:
                return False
            if self.backlog or self.held:
                if len(self.backlog) + len(frame) > MAX_BACKLOG:
                    self._close()
                    return False
                self.backlog += frame
                return True
            try:
                sent = self._send_now(frame)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close()
                return False
            if sent < len(frame):
                self.backlog += memoryview(frame)[sent:]
                self._spawn(self._flush)
            return True

    def release(self) -> None:
        """The handshake answer is out: frames may follow it (those that came meanwhile first)."""
        with self.lock:
            self.held = False
            if self.backlog and not self.closed:
                self._spawn(self._flush)

    def _flush(self) -> None:
        while True:
            with self.lock:
                if self.closed or not self.backlog:
                    return
                data = bytes(self.backlog)
            try:
                self.sock.sendall(data)  # waits for this subscriber only
            except OSError:
                with self.lock:
                    self._close()
                return
            with self.lock:
                del self.backlog[:len(data)]

    def close(self) -> None:
        with self.lock:
            self._close()

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self.backlog.clear()
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)  # the reader sees the end and the request finishes


class LiveHub:
    """The subscribers of one process by room, and the batches they are sent."""

    def __init__(self, hall_id: str, spawn: Spawn) -> None:
        self.hall = hall_room(hall_id)
        self.spawn = spawn
        self.rooms: dict[str, set[Subscriber]] = {}
        self.public_seq: int | None = None  # the last public event delivered (heartbeats carry it)
        self.frames_encoded = 0  # one per room per batch, however many subscribers (tests count it)
        self._lock = threading.Lock()

    def add(self, room: str, sub: Subscriber) -> None:
        with self._lock:
            self.rooms.setdefault(room, set()).add(sub)

    def remove(self, room: str, sub: Subscriber) -> None:
        with self._lock:
            subs = self.rooms.get(room)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.rooms[room]

    def subscribers(self) -> int:
        return sum(len(s) for s in self.rooms.values())

    def deliver(self, events: list[dict[str, Any]]) -> None:
        """Write one committed write's public events to every room that saw any of them: one frame per room."""
        # (A shared message queue may carry other halls' batches: their rooms are not this hall's.)
        public = [ev for ev in events if audience_of(ev["type"]) is Audience.PUBLIC and self.hall in ev["rooms"]]
        if not public:
            return
        with self._lock:
            self.public_seq = max(self.public_seq or 0, max(ev["seq"] for ev in public))
            for room, subs in list(self.rooms.items()):
                batch = [{"type": ev["type"], "payload": ev["payload"]} for ev in public if room in ev["rooms"]]
                if batch:
                    self._write_all(subs, self._encode({"events": batch}))

    def heartbeat(self) -> None:
        with self._lock:
            if self.rooms:
                frame = self._encode({"hb": self.public_seq})
                for subs in list(self.rooms.values()):
                    self._write_all(subs, frame)

    def _encode(self, message: dict[str, Any]) -> bytes:
        self.frames_encoded += 1
        return text_frame(json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str))

    @staticmethod
    def _write_all(subs: set[Subscriber], frame: bytes) -> None:
        gone = [s for s in subs if not s.write(frame)]
        subs.difference_update(gone)

    def run_heartbeat(self, sleep: Callable[[float], Any]) -> None:
        while True:
            sleep(HEARTBEAT_S)
            try:
                self.heartbeat()
            except Exception:  # keep the loop alive; the next beat tries again
                log.exception("live heartbeat failed")


def live_batch(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What of a committed write the hubs need (public events only), small enough for the message queue."""
    return [{"type": ev["type"], "seq": ev["seq"], "rooms": ev["rooms"], "payload": ev["payload"]}
            for ev in events if audience_of(ev["type"]) is Audience.PUBLIC]


def relay_through(manager: Any, hub: LiveHub) -> bool:
    """With a message queue, route live batches through it: every process's hub gets each batch once (the
    sender's own through the same path). False when the server has no message queue (deliver directly)."""
    handle = getattr(manager, "_handle_emit", None)
    if handle is None:
        return False

    def handle_emit(message: dict[str, Any]) -> None:
        if message.get("event") == LIVE_EVENT:
            hub.deliver(message["data"][0])  # the manager sends the emit's data as a one-item list
        else:
            handle(message)

    manager._handle_emit = handle_emit
    return True


# ---------------------------------------------------------------------------------------------- the route

bp = Blueprint("live", __name__)


class _AfterWebSocket(Response):
    """What the view returns once the socket is done: the bytes already went over the raw connection, so the
    server must not write an HTTP response after them."""

    mode = "gevent"

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if self.mode == "werkzeug":
            raise ConnectionError("the WebSocket closed")  # werkzeug treats it as the client having gone
        return []


class _Handshake(simple_websocket.Server):
    """simple-websocket's server side, with a hook between taking the socket and answering the handshake."""

    def __init__(self, environ: Any, on_socket: Callable[[Any], None], **kw: Any) -> None:
        self._on_socket = on_socket
        super().__init__(environ, **kw)

    def handshake(self) -> None:
        self._on_socket(self.sock)
        super().handshake()


def _origin_allowed() -> bool:
    """As engine.io decides for Socket.IO: no Origin (not a browser) passes; otherwise one listed with
    --allowed-origin, or by default the server's own origin as the request names it (Host, and behind a proxy
    X-Forwarded-Proto / X-Forwarded-Host)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    listed = current_app.extensions["onewindow.settings"].allowed_origins
    if listed:
        return "*" in listed or origin in listed
    env = request.environ
    own = {f"{env['wsgi.url_scheme']}://{env.get('HTTP_HOST', '')}"}
    if "HTTP_X_FORWARDED_PROTO" in env or "HTTP_X_FORWARDED_HOST" in env:
        scheme = str(env.get("HTTP_X_FORWARDED_PROTO", env["wsgi.url_scheme"])).split(",")[0].strip()
        host = str(env.get("HTTP_X_FORWARDED_HOST", env.get("HTTP_HOST", ""))).split(",")[0].strip()
        own.add(f"{scheme}://{host}")
    return origin in own


def _room(name: str | None) -> str | None:
    ctx = current_app.extensions["onewindow"]
    if name in (None, "", "hall"):
        return hall_room(ctx.hall_id)
    assert name is not None
    kind, _, ident = name.partition(":")
    known = {"zone": {z.id for z in ctx.config.zones}, "window": {w.id for w in ctx.config.windows},
             "queue": {q.id for q in ctx.config.queues}}
    return name if kind in _ROOM_KINDS and ident in known[kind] else None


def _error(status: int, code: str, message: str) -> Response:
    return Response(json.dumps({"error": {"code": code, "message": message}}), status=status,
                    mimetype="application/json")


@bp.get("/live", websocket=True)  # werkzeug routes a WebSocket handshake only to a rule marked so (else 400)
def stream() -> Response:
    if not _origin_allowed():
        return _error(403, "origin_not_allowed", "pages of this origin may not open the live stream")
    room = _room(request.args.get("room"))
    if room is None:
        return _error(404, "room_not_found", "room is hall (the default), or zone:<id>, window:<id>, queue:<id> "
                                             "of this hall")
    hub: LiveHub = current_app.extensions["onewindow.live"]
    subs: list[Subscriber] = []

    def register(sock: Any) -> None:
        # Before the handshake answer: a page that has the answer is subscribed, so the snapshot it reads next
        # is followed by every later event (a write in between waits in the backlog until release()).
        subs.append(Subscriber(sock, hub.spawn, held=True))
        hub.add(room, subs[0])

    ws = None
    try:
        ws = _Handshake(request.environ, register, max_message_size=1024)
        subs[0].release()
        while ws.connected:
            ws.receive()  # nothing is expected; this waits for the close
    except simple_websocket.ConnectionClosed:
        pass
    finally:
        for sub in subs:
            hub.remove(room, sub)
            sub.close()
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()
    done = _AfterWebSocket()
    done.mode = ws.mode if ws is not None else "gevent"
    return done
