"""A device whose driver is not in this installation: reported once as health "unknown", never opened."""

from __future__ import annotations

from typing import Any

from devices.agent.workers.base import Command, DeviceWorker, Health


class UnavailableWorker(DeviceWorker):
    """Stands in for a device kind the agent cannot drive; commands to it fail with the reason."""

    def __init__(self, host: Any, settings: Any, kind: str, reason: str) -> None:
        # Real workers fix their kind on the class (ClassVar); this stand-in takes on whichever kind failed.
        self.kind = kind  # type: ignore[misc]
        super().__init__(host, settings)
        self.reason = reason

    def start(self) -> UnavailableWorker:
        self.set_health(Health("unknown", {"error": self.reason}))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        pass

    @property
    def alive(self) -> bool:
        return False

    def submit(self, command: Command) -> None:
        command.done(False, f"the {self.kind} is not available: {self.reason}", None)
