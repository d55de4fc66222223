"""The agent's connection to the queue server: Socket.IO, reconnect with backoff and jitter, hello with since.

One thread owns the connection. It connects with ``auth={"actor": "device:<station>"}``, says ``agent_hello``
(with ``since`` = the last event seq the agent handled, so events sent while it was away come back in the
reply), hands every event to ``on_event`` in seq order, exactly once, and when the connection drops starts over
after a backoff delay. Live events that arrive while the hello is in flight are held back and merged with the
replayed ones, so nothing is handled twice or out of order.

``since`` is taken a few events back (``since_overlap``): events published out of commit order by two server
threads cannot then slip between the last one seen and the next hello. Repeats are dropped here by seq, and
commands once more by id in the dispatcher.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import socketio
import socketio.exceptions

from devices.agent.backoff import Backoff
from devices.agent.state import AgentState
from devices.contract.messages import AgentHello


@functools.cache
def agent_version() -> str:
    """The installed package's version, shown on the technician's device page."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onewindow")
    except PackageNotFoundError:
        return "dev"


log = logging.getLogger(__name__)

SEEN_SEQS = 4096


class LinkDown(Exception):
    """The server cannot be reached right now (not connected, or no acknowledgement in time)."""


class HelloRefused(Exception):
    """The server answered ``agent_hello`` with an error (unknown window, bad station name...)."""


EventHandler = Callable[[str, dict[str, Any]], None]


class ServerLink:
    def __init__(
        self,
        url: str,
        station: str,
        state: AgentState,
        on_event: EventHandler,
        *,
        window_id: str | None = None,
        on_connect: Callable[[], None] | None = None,
        device_summary: Callable[[], dict[str, str]] | None = None,
        backoff: Backoff | None = None,
        connect_timeout: float = 5.0,
        ack_timeout: float = 5.0,
        since_overlap: int = 20,
        token: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token  # a device token (`onewindow devices token STATION`); never logged
        self.station = station
        self.window_id = window_id
        self.state = state
        self.on_event = on_event
        self.on_connect = on_connect
        self.device_summary = device_summary or dict
        self.backoff = backoff or Backoff(initial=0.5, maximum=30.0)
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.since_overlap = since_overlap
        self.connected = threading.Event()
        self.connections = 0  # successful hellos so far
        self.last_hello: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._dropped = threading.Event()
        self._lock = threading.Lock()
        self._call_lock = threading.Lock()
        self._holding = False
        self._held: list[tuple[str, dict[str, Any]]] = []
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()
        self._sio = self._make_client()
        self._thread = threading.Thread(target=self._run, name=f"agent-link-{station}", daemon=True)

    def _make_client(self) -> socketio.Client:
        sio = socketio.Client(reconnection=False, handle_sigint=False, logger=False, engineio_logger=False)
        sio.on("disconnect", self._on_disconnect)
        sio.on("*", self._on_any)
        return sio

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> ServerLink:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._dropped.set()  # the link's own thread disconnects: two threads disconnecting one client race
        if self._thread.is_alive():
            self._thread.join(timeout)
        else:
            self._disconnect_quietly()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    # ------------------------------------------------------------------------------------------------ sending

    def call(self, event: str, data: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send and wait for the server's acknowledgement; :class:`LinkDown` if it cannot be had."""
        if not self.connected.is_set():
            raise LinkDown("not connected to the server")
        wait = timeout or self.ack_timeout
        with self._call_lock:
            try:
                reply = self._sio.call(event, data, timeout=wait)
            except socketio.exceptions.TimeoutError:
                raise LinkDown(f"the server did not acknowledge {event} within {wait:g} s") from None
            except (socketio.exceptions.SocketIOError, OSError, ValueError) as exc:
                raise LinkDown(f"cannot send {event}: {exc or type(exc).__name__}") from None
        return reply if isinstance(reply, dict) else {"ok": False, "error": {"message": f"odd reply {reply!r}"}}

    def emit(self, event: str, data: dict[str, Any]) -> bool:
        """Send without waiting; False when not connected (the caller resends after the next connect)."""
        if not self.connected.is_set():
            return False
        try:
            self._sio.emit(event, data)
        except (socketio.exceptions.SocketIOError, OSError, ValueError):
            return False
        return True

    # ------------------------------------------------------------------------------------------------ the loop

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._connect_once()
            except Exception as exc:
                failures += 1
                delay = self.backoff.next()
                why = exc.args[0] if isinstance(exc, HelloRefused) and exc.args else (str(exc) or type(exc).__name__)
                # The first failure (and one in ten after it) is worth a warning; the rest would flood the log.
                level = logging.WARNING if failures == 1 or failures % 10 == 0 or isinstance(exc, HelloRefused) \
                    else logging.INFO
                log.log(level, "server %s: %s; retrying in %.1f s", self.url, why, delay)
                self._disconnect_quietly()
                self._stop.wait(delay)
                continue
            failures = 0
            self.backoff.reset()
            self.connections += 1
            self.connected.set()
            log.info("connected to %s as device:%s (rooms %s)", self.url, self.station,
                     ", ".join(self.last_hello.get("rooms", [])) if self.last_hello else "?")
            if self.on_connect is not None:
                try:
                    self.on_connect()
                except Exception:
                    log.exception("the agent's on-connect work failed")
            while not self._dropped.wait(0.5):
                if self._stop.is_set():
                    break
            self.connected.clear()
            self._disconnect_quietly()
            if not self._stop.is_set():
                delay = self.backoff.next()
                log.warning("lost the connection to %s; reconnecting in %.1f s", self.url, delay)
                self._stop.wait(delay)

    def _connect_once(self) -> None:
        self._dropped.clear()
        with self._lock:
            self._holding, self._held = True, []
        try:
            # With a device token the server knows the station from it; without one (a hall that runs without
            # required login) the agent names itself.
            auth = {"token": self._token} if self._token else {"actor": f"device:{self.station}"}
            try:
                self._sio.connect(self.url, auth=auth, transports=["websocket"], wait_timeout=self.connect_timeout)
            except socketio.exceptions.ConnectionError as exc:
                if "namespace" in str(exc).lower():  # the server answered, and refused us
                    raise HelloRefused(
                        "the server refused the connection: "
                        + ("the device token is unknown or revoked" if self._token else
                           "it requires a device token (onewindow devices token STATION; --token-file)")
                    ) from None
                raise
            since = self._since()
            hello = AgentHello(station=self.station, devices=dict(self.device_summary()), version=agent_version(),
                               window_id=self.window_id or None, since=since).model_dump(exclude_none=True)
            try:
                reply = self._sio.call("agent_hello", hello, timeout=self.ack_timeout)
            except socketio.exceptions.TimeoutError:
                raise LinkDown(f"no answer to agent_hello within {self.ack_timeout:g} s") from None
            if not isinstance(reply, dict) or not reply.get("ok"):
                error = (reply or {}).get("error") if isinstance(reply, dict) else None
                message = error.get("message") if isinstance(error, dict) else error
                raise HelloRefused(f"the server refused agent_hello: {message or reply!r}")
            events = list(reply.get("events") or [])
            head = reply.get("seq")
            if reply.get("reset") and isinstance(head, int):
                log.warning("the server's event log restarted (seq %d < %s); following it", head, since)
                self.state.reset_seq(head)
                self._forget_seen()
            elif since is not None and not reply.get("complete", True):
                events += self._resync_rest(events)
            elif since is None and isinstance(head, int):
                self.state.set_seq(head)  # first contact: start from now
            self.last_hello = {k: v for k, v in reply.items() if k != "events"}
        except BaseException:
            with self._lock:
                self._holding, self._held = False, []
            raise
        with self._lock:
            replay = [(str(e.get("type")), e.get("payload") or {}) for e in events if isinstance(e, dict)]
            pending = sorted(replay + self._held, key=lambda item: _seq_of(item[1]) or 0)
            self._holding, self._held = False, []
            for name, payload in pending:
                self._deliver(name, payload)
        if self._dropped.is_set():
            raise LinkDown("the connection dropped during the hello")

    def _resync_rest(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """More than one page of missed events: fetch the rest with ``resync`` until complete."""
        more: list[dict[str, Any]] = []
        after = events[-1]["seq"] if events else None
        for _page in range(100):
            if after is None:
                break
            reply = self._sio.call("resync", {"since": after}, timeout=self.ack_timeout)
            if not isinstance(reply, dict) or not reply.get("ok"):
                break
            page = list(reply.get("events") or [])
            more += page
            if reply.get("complete", True) or not page:
                break
            after = page[-1]["seq"]
        return more

    def _since(self) -> int | None:
        seq = self.state.seq
        return None if seq is None else max(0, seq - self.since_overlap)

    def _disconnect_quietly(self) -> None:
        # websocket-client's close() waits up to 3 s for the server's close frame, which the engine.io reader
        # thread takes first; a short wait is enough (the server has the socket.io disconnect by then).
        ws = getattr(self._sio.eio, "ws", None)
        close = getattr(ws, "close", None)
        if close is not None and not isinstance(close, functools.partial):
            with contextlib.suppress(Exception):
                # python-engineio's ws is untyped (None until connected; checked just above).
                ws.close = functools.partial(close, timeout=0.2)  # type: ignore[union-attr]
        with contextlib.suppress(Exception):
            self._sio.disconnect()
        # A client whose transport died mid-handshake can be left half-open; start the next try on a fresh one.
        if self._sio.connected or getattr(self._sio.eio, "state", "disconnected") != "disconnected":
            self._sio = self._make_client()

    # ------------------------------------------------------------------------------------------------ receiving

    def _on_disconnect(self, *_reason: Any) -> None:
        self._dropped.set()

    def _on_any(self, event: str, data: Any = None) -> None:
        """Runs on the Socket.IO reader thread: never block here, only queue."""
        payload = data if isinstance(data, dict) else {"value": data}
        with self._lock:
            if self._holding:
                self._held.append((event, payload))
                return
            self._deliver(event, payload)

    def _deliver(self, event: str, payload: dict[str, Any]) -> None:
        seq = _seq_of(payload)
        if seq is not None:
            if seq in self._seen:
                return
            self._seen.add(seq)
            self._seen_order.append(seq)
            while len(self._seen_order) > SEEN_SEQS:
                self._seen.discard(self._seen_order.popleft())
        try:
            self.on_event(event, payload)
        except Exception:
            log.exception("handling the server event %s failed", event)

    def _forget_seen(self) -> None:
        with self._lock:
            self._seen.clear()
            self._seen_order.clear()


def _seq_of(payload: dict[str, Any]) -> int | None:
    seq = payload.get("seq") if isinstance(payload, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None

