"""Server events -> device work, one at a time in the order they arrived.

* ``device_command`` for this station: carried out at most once per ``command_id`` (remembered across
  restarts), by the device's worker; the outcome goes back as ``command_result`` through the courier.
* ``window_state``, ``ticket_called``, ``ticket_recalled`` for this station's window: the LED screen follows.

The seq of every handled event is saved, so the next ``agent_hello`` asks only for what came after it.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from devices.agent.courier import Courier
from devices.agent.state import AgentState
from devices.agent.workers.base import Command, DeviceWorker, WindowScreen
from devices.contract.messages import DeviceCommand

# Commands older than this when they reach the agent are refused rather than carried out.
COMMAND_TTL = 300.0

log = logging.getLogger(__name__)

WINDOW_EVENTS = ("window_state", "ticket_called", "ticket_recalled")


class Dispatcher:
    def __init__(self, station: str, workers: dict[str, DeviceWorker], state: AgentState, courier: Courier, *,
                 window_id: str | None = None, command_ttl: float = COMMAND_TTL) -> None:
        self.station = station
        self.command_ttl = command_ttl
        self.window_id = window_id
        self.workers = workers
        self.state = state
        self.courier = courier
        self.handled = 0
        self.server_clock = ServerClock()
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"agent-dispatch-{station}", daemon=True)

    def start(self) -> Dispatcher:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def put(self, event: str, payload: dict[str, Any]) -> None:
        """Called on the link's reader thread: queue only."""
        self._queue.put((event, payload))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            event, payload = item
            try:
                self.handle(event, payload)
            except Exception:
                log.exception("handling %s failed", event)
            seq = payload.get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool):
                self.state.set_seq(seq)
            self.handled += 1

    def handle(self, event: str, payload: dict[str, Any]) -> None:
        self.server_clock.observe(payload.get("at"))
        if event == "device_command":
            self._command(payload)
        elif event in WINDOW_EVENTS:
            self._window(event, payload)

    def _command(self, payload: dict[str, Any]) -> None:
        if payload.get("station") != self.station:
            return
        command_id = payload.get("command_id")
        if not isinstance(command_id, str) or not command_id:
            log.warning("a device_command without a command_id was ignored")
            return
        try:
            cmd = DeviceCommand.model_validate(payload)
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            self.courier.add_result(command_id, False, f"the command does not match the contract: {fields}", None)
            return
        device, name = cmd.device, cmd.command
        if not self.state.claim_command(command_id):
            log.info("command %s (%s.%s) was already carried out; ignored", command_id, device, name)
            return
        age = self.server_clock.age(cmd.at)
        if age is not None and age > self.command_ttl:
            # Sent while this agent was away for long: a ticket printed now would be for someone long gone.
            log.warning("command %s (%s.%s) expired: sent %.0f s ago", command_id, device, name, age)
            self.courier.add_result(command_id, False, f"expired: sent {age:.0f} s ago, before the agent was back",
                                    None)
            return
        args = cmd.args
        worker = self.workers.get(str(device))
        if worker is None:
            have = ", ".join(self.workers) or "no devices"
            self.courier.add_result(command_id, False, f"station {self.station} has no {device}; it has: {have}", None)
            return
        log.info("command %s: %s.%s", command_id, device, name)

        def done(ok: bool, error: str | None, result: dict[str, Any] | None) -> None:
            if ok:
                log.info("command %s done", command_id)
            else:
                log.warning("command %s failed: %s", command_id, error)
            self.courier.add_result(command_id, ok, error, result)

        worker.submit(Command(command_id, str(name), args, done))

    def _window(self, event: str, payload: dict[str, Any]) -> None:
        if not self.window_id or payload.get("window_id") != self.window_id:
            return
        led = self.workers.get("led")
        if not isinstance(led, WindowScreen):
            return
        seq = payload.get("seq") if isinstance(payload.get("seq"), int) else None
        if event == "window_state":
            led.apply_window(payload, seq)
        else:
            led.apply_call(payload, seq)


def _sent_at(at: Any) -> datetime | None:
    if not isinstance(at, str):
        return None
    try:
        sent = datetime.fromisoformat(at)
    except ValueError:
        return None
    return sent if sent.tzinfo is not None else None


class ServerClock:
    """How old an event is by the server's clock, which need not be ours.

    A server started with ``--clock`` (a demo at opening time, a soak run at ``--clock-speed 60``) stamps events with
    its own time; measured against this PC's clock every command would look days old (or not yet sent) and be
    refused. The offset is estimated as the smallest (our now - event's ``at``) seen: a live event arrives within
    milliseconds, a replayed one is older, so the minimum follows the server's clock (also one that runs fast).
    Within :data:`SYNCED` seconds the clocks are taken as the same (NTP in a hall) and the plain difference is used,
    so an agent back after a long absence still refuses what was sent long ago.
    """

    SYNCED = 5.0

    def __init__(self) -> None:
        self.offset: float | None = None

    def observe(self, at: Any) -> None:
        sent = _sent_at(at)
        if sent is None:
            return
        seen = (datetime.now(UTC) - sent).total_seconds()
        self.offset = seen if self.offset is None else min(self.offset, seen)

    def age(self, at: Any) -> float | None:
        """Seconds since the server sent an event (its ``at``), or None when it carries no usable time."""
        sent = _sent_at(at)
        if sent is None:
            return None
        raw = (datetime.now(UTC) - sent).total_seconds()
        if self.offset is None or abs(self.offset) < self.SYNCED:
            return raw
        return raw - self.offset
