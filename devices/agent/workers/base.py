"""One thread per device: open it through its driver, poll or read it, report health, reopen it when it drops.

A worker's life: resolve the device's URL (a ``sim://`` is looked up in the running simulator hall's runtime file
each time, so a restarted simulator on a new pty is found), open it, then loop: carry out queued commands, read
or poll the device, and report its health when it changes. When the transport breaks (unplugged, simulator
gone) the worker closes the driver, reports ``offline`` and reopens after an exponential backoff with jitter.
Commands that arrive while the device is not open fail at once with the reason, instead of waiting unseen.

Subclasses implement :meth:`open`, :meth:`close_device`, :meth:`check` and, as needed, :meth:`step` (readers)
and :meth:`execute` (commands). Only the worker's own thread touches its driver.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import serial

from devices.agent.backoff import Backoff
from devices.agent.privacy import safe_error

log = logging.getLogger("devices.agent.workers")

HEALTH_STATES = ("ok", "warning", "error", "offline", "unknown")


@dataclass(frozen=True)
class Health:
    status: str
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in HEALTH_STATES:
            raise ValueError(f"health {self.status!r} is not one of {', '.join(HEALTH_STATES)}")


class DeviceLost(Exception):
    """The device's transport broke: the worker closes the driver and reopens it."""


class CommandFailed(Exception):
    """A command could not be carried out; the message goes back to the server as the result's error."""


Done = Callable[[bool, str | None, dict[str, Any] | None], None]


@dataclass
class Command:
    command_id: str
    command: str
    args: dict[str, Any]
    done: Done


class WorkerHost(Protocol):
    """What a worker needs from the agent."""

    station: str

    def resolve_url(self, kind: str) -> str: ...

    def report_health(self, kind: str, health: Health) -> None: ...

    def submit_input(self, kind: str, input_kind: str, data: dict[str, Any]) -> None: ...


class DeviceWorker:
    kind: ClassVar[str] = ""
    commands: ClassVar[tuple[str, ...]] = ()
    poll_interval: float = 2.0  # seconds between health checks (a worker may be given its own)
    reads: ClassVar[bool] = False  # True: step() is called continuously (it blocks briefly itself)
    # Errors that mean the transport itself is gone; subclasses add their drivers' equivalents.
    lost_errors: ClassVar[tuple[type[BaseException], ...]] = (serial.SerialException, OSError)

    def __init__(self, host: WorkerHost, settings: Any, *, backoff: Backoff | None = None,
                 poll_interval: float | None = None) -> None:
        self.host = host
        self.settings = settings
        self.backoff = backoff or Backoff(initial=0.25, maximum=10.0)
        if poll_interval is not None:
            self.poll_interval = poll_interval
        self.url: str | None = None
        self.health: Health | None = None
        self.opened = 0  # times the device was opened
        self.read_errors = 0  # reads that failed on what the device sent (the worker carried on)
        self._commands: queue.Queue[Command] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"agent-{self.kind}", daemon=True)

    # ---------------------------------------------------------------------------------------------- subclass API

    def open(self, url: str) -> None:
        raise NotImplementedError

    def close_device(self) -> None:
        raise NotImplementedError

    def check(self) -> Health:
        """Ask the device how it is (raise a ``lost_errors`` error or DeviceLost if its transport is gone)."""
        return Health("ok")

    def step(self) -> None:
        """For readers: read for a short while and hand on what was read."""

    def execute(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        raise CommandFailed(f"the {self.kind} takes no command {command!r}")

    def on_opened(self) -> None:
        """After an open and the first good check (e.g. put the last content back on a screen)."""

    # ---------------------------------------------------------------------------------------------- lifecycle

    def start(self) -> DeviceWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, command: Command) -> None:
        if command.command not in self.commands:
            allowed = ", ".join(self.commands) or "none"
            command.done(False, f"the {self.kind} has no command {command.command!r}; it takes: {allowed}", None)
            return
        self._commands.put(command)

    def set_health(self, health: Health) -> None:
        detail = dict(health.detail)
        if self.url and "url" not in detail:
            detail["url"] = self.url
        health = Health(health.status, detail)
        if health != self.health:
            previous = self.health.status if self.health else None
            self.health = health
            if previous != health.status:
                why = detail.get("error") or detail.get("state") or ""
                log.info("%s/%s: %s -> %s%s", self.host.station, self.kind, previous or "start", health.status,
                         f" ({why})" if why else "")
            self.host.report_health(self.kind, health)

    # ---------------------------------------------------------------------------------------------- the loop

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                url = self.host.resolve_url(self.kind)
            except Exception as exc:
                self.url = None
                self.set_health(Health("offline", {"error": safe_error(exc)}))
                self._idle(self.backoff.next(), safe_error(exc))
                continue
            try:
                self.open(url)
            except Exception as exc:
                self.url = url
                self.set_health(Health("offline", {"error": safe_error(exc)}))
                self._idle(self.backoff.next(), safe_error(exc))
                continue
            self.url = url
            self.opened += 1
            log.info("%s/%s: opened %s", self.host.station, self.kind, url)
            try:
                self._serve()
            except DeviceLost as exc:
                self.set_health(Health("offline", {"error": safe_error(exc)}))
                log.warning("%s/%s: lost the device (%s); reopening", self.host.station, self.kind, safe_error(exc))
            except Exception as exc:  # a driver bug must not end the worker; report it and start over
                self.set_health(Health("error", {"error": safe_error(exc)}))
                log.error("%s/%s: unexpected %s: %s", self.host.station, self.kind, type(exc).__name__,
                          safe_error(exc))
            finally:
                with contextlib.suppress(Exception):
                    self.close_device()
            if not self._stop.is_set():
                self._idle(self.backoff.next(), (self.health.detail.get("error") if self.health else None)
                           or "the device is being reopened")
        with contextlib.suppress(Exception):
            self.close_device()

    def _serve(self) -> None:
        next_check = 0.0
        first = True
        while not self._stop.is_set():
            if time.monotonic() >= next_check:
                self.set_health(self._guard(self.check))
                next_check = time.monotonic() + self.poll_interval
                if first:
                    first = False
                    self.backoff.reset()
                    self._guard(self.on_opened)
            wait = 0.0 if self.reads else max(0.0, min(next_check - time.monotonic(), 0.5))
            command = self._take(wait)
            if command is not None:
                self._execute(command)
            elif self.reads:
                self._read_once()

    def _read_once(self) -> None:
        """One ``step``: a lost transport reopens the device; anything else the bytes caused (a decoder or driver
        bug on a strange line) is logged redacted, counted, and reading carries on with the next line."""
        try:
            self._guard(self.step)
        except DeviceLost:
            raise
        except Exception as exc:
            self.read_errors += 1
            log.error("%s/%s: a read failed (%s: %s); carrying on", self.host.station, self.kind,
                      type(exc).__name__, safe_error(exc))
            self._stop.wait(0.05)  # a device that fails every read must not spin the CPU

    def _lost_or_tty_errors(self) -> tuple[type[BaseException], ...]:
        # termios.error: tcflush on a pty whose other end is gone
        return (*self.lost_errors, termios.error)

    def _guard(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except DeviceLost:
            raise
        except self._lost_or_tty_errors() as exc:
            raise DeviceLost(safe_error(exc)) from exc

    def _execute(self, command: Command) -> None:
        try:
            result = self.execute(command.command, command.args)
        except self._lost_or_tty_errors() as exc:
            command.done(False, f"the {self.kind} connection broke: {safe_error(exc)}", None)
            raise DeviceLost(safe_error(exc)) from exc
        except DeviceLost as exc:
            command.done(False, f"the {self.kind} connection broke: {safe_error(exc)}", None)
            raise
        except Exception as exc:
            command.done(False, safe_error(exc), None)
            return
        command.done(True, None, result)

    def _take(self, timeout: float) -> Command | None:
        try:
            if timeout <= 0:
                return self._commands.get_nowait()
            return self._commands.get(timeout=timeout)
        except queue.Empty:
            return None

    def _idle(self, seconds: float, reason: str) -> None:
        """Wait before reopening; commands arriving meanwhile fail at once with the reason."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            command = self._take(min(left, 0.2))
            if command is not None:
                command.done(False, f"the {self.kind} is not available: {reason}", None)


@runtime_checkable
class WindowScreen(Protocol):
    """A worker that shows its window's state and calls (the LED): the agent feeds it the window's events."""

    def apply_window(self, view: dict[str, Any], seq: int | None) -> None: ...

    def apply_call(self, payload: dict[str, Any], seq: int | None) -> None: ...


@runtime_checkable
class OrderedWindowScreen(WindowScreen, Protocol):
    """A window screen that keeps events in seq order, and can be told the order starts again (a reconnect)."""

    def forget_order(self) -> None: ...
