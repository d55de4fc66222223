"""One station's agent: its device workers, the server link, the outbox and courier, the dispatcher, heartbeats."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import requests

from devices.agent.backoff import Backoff
from devices.agent.courier import Courier
from devices.agent.dispatch import Dispatcher
from devices.agent.link import LinkDown, ServerLink
from devices.agent.outbox import Outbox
from devices.agent.state import AgentState
from devices.agent.workers import DeviceWorker, Health, WorkerUnavailable, worker_class
from devices.agent.workers.base import OrderedWindowScreen, WindowScreen
from devices.agent.workers.unavailable import UnavailableWorker
from devices.contract.messages import DeviceHealth
from devices.stations import DevicesConfig, DevicesConfigError

log = logging.getLogger(__name__)

_WINDOW_STATION = re.compile(r"window-(\d{1,3})")


class AgentError(Exception):
    """The agent cannot start as asked; the message says why and what to do."""


def window_id_for(config: DevicesConfig, station: str, explicit: str | None = None) -> str | None:
    """The hall window a window station serves: ``--window-id``, the station's ``window_id`` setting, or
    ``window-N`` -> ``wNN`` (the default hall's ids: window-1 -> w01 ... window-10 -> w10)."""
    if explicit:
        return explicit
    settings = config.stations[station]
    configured = getattr(settings, "window_id", None)
    if configured:
        return str(configured)
    if settings.role != "window":
        return None
    match = _WINDOW_STATION.fullmatch(station)
    if match is None:
        raise AgentError(f"station {station} is a window station, but its window id cannot be derived from the name "
                         "(window-N -> wNN); pass --window-id")
    return f"w{int(match.group(1)):02d}"


class Agent:
    """Build with a loaded devices file and a station name; :meth:`start`, then :meth:`stop`."""

    def __init__(
        self,
        config: DevicesConfig,
        station: str,
        server: str,
        state_dir: str | Path,
        *,
        window_id: str | None = None,
        runtime_file: str | Path | None = None,
        heartbeat: float = 30.0,
        connect_timeout: float = 5.0,
        ack_timeout: float = 5.0,
        reconnect_max: float = 30.0,
        token: str | None = None,
    ) -> None:
        if station not in config.stations:
            raise AgentError(f"{config.path}: no station {station!r}; stations: {', '.join(config.stations)}")
        self.config = config
        self.station = station
        self.server = server.rstrip("/")
        self.settings = config.stations[station]
        self.window_id = window_id_for(config, station, window_id)
        self.runtime_file = Path(runtime_file) if runtime_file else None
        self.heartbeat = heartbeat
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._take_lock()
        self.state = AgentState(self.state_dir / f"agent-{station}.state.json")
        self.outbox = Outbox(self.state_dir / f"agent-{station}.outbox.jsonl")
        self._health: dict[str, Health] = {}
        self._health_lock = threading.Lock()
        self._stop = threading.Event()
        self.workers: dict[str, DeviceWorker] = {}
        for kind, device in self.settings.devices().items():
            try:
                self.workers[kind] = worker_class(kind)(self, device)
            except WorkerUnavailable as exc:
                self.workers[kind] = UnavailableWorker(self, device, kind, str(exc))
        self.link = ServerLink(self.server, station, self.state, self._on_event, window_id=self.window_id,
                               on_connect=self._on_connect, device_summary=self._summary,
                               connect_timeout=connect_timeout, ack_timeout=ack_timeout,
                               backoff=Backoff(initial=min(0.5, reconnect_max), maximum=reconnect_max),
                               token=token)
        self._token = token
        self.courier = Courier(self.link, self.outbox, station)
        self.dispatcher = Dispatcher(station, self.workers, self.state, self.courier, window_id=self.window_id)
        self._heartbeat = threading.Thread(target=self._beat, name=f"agent-heartbeat-{station}", daemon=True)

    def _take_lock(self) -> int:
        path = self.state_dir / f"agent-{self.station}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise AgentError(f"another agent for station {self.station} is running with state dir {self.state_dir} "
                             f"(lock {path}); stop it first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd

    # ------------------------------------------------------------------------------------------- lifecycle

    def start(self) -> Agent:
        log.info("agent for %s (%s%s) -> %s; devices: %s; state in %s", self.station, self.settings.role,
                 f", window {self.window_id}" if self.window_id else "", self.server,
                 ", ".join(self.workers) or "none", self.state_dir)
        self.dispatcher.start()
        self.courier.start()
        for worker in self.workers.values():
            worker.start()
        self.link.start()
        self._heartbeat.start()
        return self

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Stop the devices, give pending inputs a moment to reach the server, say the devices are unmonitored."""
        self._stop.set()
        for worker in self.workers.values():
            worker.stop()
        if self.link.connected.is_set():
            deadline = threading.Event()
            for _ in range(int(flush_timeout / 0.05)):
                if self.courier.idle or deadline.wait(0.05):
                    break
            for kind in self.workers:
                with contextlib.suppress(LinkDown):
                    stopped = DeviceHealth(station=self.station, device=kind, status="unknown",
                                           detail={"error": "the device agent stopped"})
                    self.link.call("device_health", stopped.model_dump(), timeout=1.0)
        self.courier.stop()
        self.link.stop()
        self.dispatcher.stop()
        if self._heartbeat.is_alive():
            self._heartbeat.join(2)
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)
        log.info("agent for %s stopped; %d input(s) wait in the outbox", self.station, len(self.outbox))

    def run(self, stop: threading.Event) -> None:
        self.start()
        try:
            stop.wait()
        finally:
            self.stop()

    # ------------------------------------------------------------------------------------------- WorkerHost

    def resolve_url(self, kind: str) -> str:
        try:
            return self.config.resolve(self.station, kind, self.runtime_file).url
        except DevicesConfigError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise DevicesConfigError(f"station {self.station}, {kind}: cannot resolve the URL: {exc}") from exc

    def report_health(self, kind: str, health: Health) -> None:
        with self._health_lock:
            self._health[kind] = health
        self._send_health(kind, health)

    def submit_input(self, kind: str, input_kind: str, data: dict[str, Any]) -> None:
        entry = self.outbox.add(kind, input_kind, data)
        log.info("%s/%s: %s %s queued", self.station, kind, input_kind, entry.input_id)
        self.courier.kick()

    # ------------------------------------------------------------------------------------------- server side

    def health(self) -> dict[str, Health]:
        with self._health_lock:
            return dict(self._health)

    def _summary(self) -> dict[str, str]:
        with self._health_lock:
            return {kind: (self._health[kind].status if kind in self._health else "unknown") for kind in self.workers}

    def _send_health(self, kind: str, health: Health) -> None:
        message = DeviceHealth(station=self.station, device=kind, status=health.status, detail=health.detail)
        self.link.emit("device_health", message.model_dump())

    def _send_all_health(self) -> None:
        for kind, health in self.health().items():
            self._send_health(kind, health)

    def _on_event(self, event: str, payload: dict[str, Any]) -> None:
        self.dispatcher.put(event, payload)

    def _on_connect(self) -> None:
        self._send_all_health()
        self.courier.kick()
        led = self.workers.get("led")
        if self.window_id and isinstance(led, OrderedWindowScreen):
            led.forget_order()
            threading.Thread(target=self._load_window, name=f"agent-window-{self.station}", daemon=True).start()

    def _load_window(self) -> None:
        """The window's state now (after a restart, or a drop during which events were missed)."""
        try:
            headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
            response = requests.get(f"{self.server}/api/v1/snapshot", headers=headers, timeout=5)
            response.raise_for_status()
            snapshot = response.json()
        except (requests.RequestException, ValueError) as exc:
            log.info("cannot load the window's state from the server (%s); the LED waits for the next event", exc)
            return
        led = self.workers.get("led")
        for view in snapshot.get("windows", []):
            if view.get("window_id") == self.window_id and isinstance(led, WindowScreen):
                led.apply_window(view, snapshot.get("seq"))
                return
        log.warning("the server has no window %s; the LED shows only commands", self.window_id)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            self._send_all_health()
