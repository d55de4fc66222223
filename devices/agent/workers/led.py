"""The window-top LED screen: follows the window's state and calls, takes ``show``/``clear``, pings for health.

What the screen should show is kept here (``desired``) whatever the screen's state, so a screen that was off
or unplugged gets the current content again as soon as it is reopened.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from devices.agent.ledview import ContentError, content_from_args, window_content
from devices.agent.privacy import safe_error
from devices.agent.workers.base import Command, CommandFailed, DeviceWorker, Health
from devices.led.codec import ScreenContent
from devices.led.driver import RS485WindowScreen, ScreenConnectionError, ScreenError, ScreenNak, ScreenTimeout

_REFRESH = "_refresh"
log = logging.getLogger("devices.agent.workers")


def _noop(ok: bool, error: str | None, result: dict[str, Any] | None) -> None:
    pass


class LedWorker(DeviceWorker):
    kind = "led"
    commands = ("show", "clear")
    poll_interval = 5.0
    lost_errors = (ScreenConnectionError, OSError)

    screen: RS485WindowScreen | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self.desired: ScreenContent | None = None
        self.shown: ScreenContent | None = None
        self._view: dict[str, Any] | None = None
        self._view_seq = -1
        self._refused: ScreenContent | None = None

    # ------------------------------------------------------------------------------ driven by the window's events

    def apply_window(self, view: dict[str, Any], seq: int | None) -> None:
        """A window_state payload (or a snapshot's entry): show it unless a newer one was applied."""
        with self._lock:
            if seq is not None and seq <= self._view_seq:
                return
            self._view_seq = seq if seq is not None else self._view_seq
            self._view = dict(view)
            self.desired = window_content(self._view)
        self._refresh()

    def apply_call(self, payload: dict[str, Any], seq: int | None) -> None:
        """ticket_called / ticket_recalled at this window: show the number (again: the line blinks anew)."""
        with self._lock:
            if seq is not None and seq <= self._view_seq:
                return
            self._view_seq = seq if seq is not None else self._view_seq
            view = dict(self._view or {"number": payload.get("window_number"), "status": "open"})
            view["current"] = {"number": payload.get("number")}
            if view.get("status") not in ("open", "paused"):
                view["status"] = "open"  # a call means the window serves; its window_state follows
            self._view = view
            self.desired = window_content(view)
            self.shown = None  # a recall re-sends the same content so the number blinks again
        self._refresh()

    def forget_order(self) -> None:
        """Accept any seq again: the server's event log may have restarted (a new database) while we were away.
        The snapshot loaded on every connect carries the head seq, so nothing older can win after it."""
        with self._lock:
            self._view_seq = -1

    def _refresh(self) -> None:
        self._commands.put(Command("", _REFRESH, {}, _noop))

    # ------------------------------------------------------------------------------ the device

    def open(self, url: str) -> None:
        self.screen = RS485WindowScreen(url, self.settings.address, baudrate=getattr(self.settings, "baudrate", 9600),
                                        timeout=0.3, retries=1)
        self.shown = None

    def close_device(self) -> None:
        if self.screen is not None:
            self.screen.close()
            self.screen = None

    def check(self) -> Health:
        assert self.screen is not None
        try:
            status = self.screen.ping()
        except ScreenTimeout as exc:
            self.shown = None  # a screen that comes back may have lost what it showed
            return Health("offline", {"error": safe_error(exc)})
        except ScreenConnectionError:
            raise
        except ScreenError as exc:
            return Health("error", {"error": safe_error(exc)})
        detail = {"brightness": status.brightness, "size": [status.rows, status.cols]}
        if not status.healthy:
            flags = []
            if status.flags & status.FLAG_MODULE_FAULT:
                flags.append("an LED module is dead")
            if status.flags & status.FLAG_OVERHEAT:
                flags.append("overheating")
            return Health("warning", {**detail, "error": ", ".join(flags) or f"flags 0x{status.flags:02X}"})
        self._catch_up()
        return Health("ok", detail)

    def on_opened(self) -> None:
        self._catch_up()

    def _catch_up(self) -> None:
        """Put the desired content on a screen that does not show it (just opened, or back from silence)."""
        with self._lock:
            desired = self.desired
        if desired is None or desired == self.shown or desired == self._refused:
            return
        try:
            self._show(desired)
        except CommandFailed as exc:
            log.warning("%s/led: the screen refused the content: %s", self.host.station, exc)

    def execute(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        if command == _REFRESH:
            with self._lock:
                desired = self.desired
            if desired is not None and desired != self.shown:
                self._show(desired)
            return {}
        if command == "clear":
            with self._lock:
                self.desired = ScreenContent()
            self._show(self.desired)
            return {}
        try:
            content = content_from_args(args)
        except ContentError as exc:
            raise CommandFailed(str(exc)) from None
        with self._lock:
            self.desired = content
        self._show(content)
        return {"lines": len(content.lines)}

    def _show(self, content: ScreenContent) -> None:
        assert self.screen is not None
        try:
            if content.lines:
                self.screen.show(content)
            else:
                self.screen.clear()
        except ScreenNak as exc:
            self._refused = content  # not retried until something else is asked for
            raise CommandFailed(str(exc)) from None
        except ScreenTimeout as exc:
            self.shown = None
            raise CommandFailed(f"the LED screen did not answer: {safe_error(exc)}") from None
        self.shown = content
