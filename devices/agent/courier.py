"""Sends what the server must acknowledge, in order: command results, then the outbox's inputs.

One thread, so inputs reach the server in the order they happened. An input leaves the outbox only on an
``ok`` acknowledgement; when the link is down or the server does not answer, the courier waits for the next
connection and sends it again (the server takes each ``input_id`` once). An input the server rejects as
invalid (4xx: it would be rejected forever) is dropped with a log line naming its id and the reason, never
its data.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from devices.agent.backoff import Backoff
from devices.agent.link import LinkDown, ServerLink
from devices.agent.outbox import Outbox
from devices.agent.privacy import safe_error
from devices.contract.messages import CommandResult

log = logging.getLogger(__name__)


def _status(reply: dict[str, Any]) -> int:
    status = reply.get("status")
    return status if isinstance(status, int) else 500


def _error_text(reply: dict[str, Any]) -> str:
    error = reply.get("error")
    if isinstance(error, dict):
        return f"{error.get('code', '?')}: {safe_error(Exception(error.get('message', '')))}"
    return safe_error(Exception(str(error)))


class Courier:
    def __init__(self, link: ServerLink, outbox: Outbox, station: str, *, backoff: Backoff | None = None) -> None:
        self.link = link
        self.outbox = outbox
        self.station = station
        self.backoff = backoff or Backoff(initial=0.5, maximum=10.0)
        self.sent_inputs = 0
        self.dropped_inputs = 0
        self._results: deque[dict[str, Any]] = deque(maxlen=1000)
        self._lock = threading.Lock()
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"agent-courier-{station}", daemon=True)

    def start(self) -> Courier:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def kick(self) -> None:
        """Something new to send, or the link came back."""
        self._kick.set()

    def add_result(self, command_id: str, ok: bool, error: str | None, result: dict[str, Any] | None) -> None:
        body = CommandResult(station=self.station, command_id=command_id, ok=ok,
                             error=None if error is None else error[:500], result=result).model_dump(exclude_none=True)
        with self._lock:
            self._results.append(body)
        self._kick.set()

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._results and len(self.outbox) == 0

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.link.connected.is_set():
                self._kick.wait(0.5)
                self._kick.clear()
                continue
            try:
                worked = self._send_one()
            except LinkDown as exc:
                delay = self.backoff.next()
                log.info("courier: %s; trying again in %.1f s", exc, delay)
                self._stop.wait(delay)
                continue
            if worked:
                self.backoff.reset()
                continue
            self._kick.wait(0.5)
            self._kick.clear()

    def _send_one(self) -> bool:
        """Send the next result or input; False when there was nothing to send."""
        with self._lock:
            result = self._results[0] if self._results else None
        if result is not None:
            reply = self.link.call("command_result", result)
            with self._lock:
                if self._results and self._results[0] is result:
                    self._results.popleft()
            # "ok" in the reply acknowledges the record (the command's own outcome travels inside it).
            if not reply.get("ok"):
                log.warning("courier: the server refused the result of command %s: %s", result["command_id"],
                            _error_text(reply))
            return True
        entry = self.outbox.first()
        if entry is None:
            return False
        reply = self.link.call("device_input", entry.message(self.station))
        if reply.get("ok"):
            self.outbox.ack(entry.input_id)
            self.sent_inputs += 1
            log.info("courier: %s %s delivered%s", entry.kind, entry.input_id,
                     " (the server already had it)" if reply.get("duplicate") else "")
            return True
        status = _status(reply)
        if 400 <= status < 500:
            self.outbox.ack(entry.input_id)
            self.dropped_inputs += 1
            log.warning("courier: the server rejected %s %s (%s); dropped", entry.kind, entry.input_id,
                        _error_text(reply))
            return True
        raise LinkDown(f"the server could not take {entry.kind} {entry.input_id} ({_error_text(reply)})")
