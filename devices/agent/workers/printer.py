"""The ticket printer: health from DLE EOT every few seconds, ``print`` commands with the ticket document."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from devices.agent.workers.base import CommandFailed, DeviceWorker, Health
from devices.printer.codec import PROFILES, PrinterProfile, PrinterState
from devices.printer.document import DocumentError, TicketDocument
from devices.printer.driver import (
    PrinterConnectionLost,
    PrinterDriver,
    PrinterError,
    PrinterOffline,
    PrinterProtocolError,
    PrinterUnavailable,
    PrintNotConfirmed,
)

# What a printer state means for the hall: READY prints, near-end prints but wants a new roll soon.
STATE_HEALTH = {
    PrinterState.READY: "ok",
    PrinterState.PAPER_NEAR_END: "warning",
    PrinterState.PAPER_OUT: "error",
    PrinterState.COVER_OPEN: "error",
    PrinterState.CUTTER_ERROR: "error",
    PrinterState.UNRECOVERABLE_ERROR: "error",
    PrinterState.RECOVERABLE_ERROR: "error",
    PrinterState.OFFLINE: "offline",
    PrinterState.UNKNOWN: "offline",  # silence is never "ok"
}


def profile_for(settings: Any) -> PrinterProfile:
    """The printer profile the devices file describes (paper width, QR native or raster)."""
    width = getattr(settings, "width_mm", 80)
    base = PROFILES["zh-58"] if width == 58 else PROFILES["zh-80"]
    native = getattr(settings, "qr", "raster") == "native"
    return dataclasses.replace(base, name=f"{base.name}-{'native' if native else 'raster'}-qr", native_qr=native)


class PrinterWorker(DeviceWorker):
    kind = "printer"
    commands = ("print",)
    poll_interval = 2.0
    lost_errors = (PrinterConnectionLost, PrinterUnavailable, OSError)
    confirm_timeout: ClassVar[float] = 15.0

    driver: PrinterDriver | None = None

    def open(self, url: str) -> None:
        self.driver = PrinterDriver.open(url, profile=profile_for(self.settings), status_timeout=0.5,
                                         write_timeout=5.0)

    def close_device(self) -> None:
        if self.driver is not None:
            self.driver.close()
            self.driver = None

    def check(self) -> Health:
        assert self.driver is not None
        if not self.driver.can_read_status:  # file:// and the like: it takes bytes and says nothing
            return Health("unknown", {"note": f"{self.driver.url} is write-only; the printer's state cannot be read"})
        try:
            status = self.driver.status()
        except PrinterConnectionLost:
            raise
        except PrinterOffline as exc:  # it stopped taking even the status request
            return Health("offline", {"error": str(exc)})
        except PrinterProtocolError as exc:
            return Health("error", {"error": str(exc)})
        state = status.state
        detail: dict[str, Any] = {"state": state.value}
        if status.note:
            detail["note"] = status.note
        return Health(STATE_HEALTH[state], detail)

    def execute(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        assert self.driver is not None
        try:
            document = TicketDocument.from_dict(args.get("document"))
        except DocumentError as exc:
            raise CommandFailed(str(exc)) from None
        try:
            result = self.driver.print_document(document, confirm=self.driver.can_read_status,
                                                confirm_timeout=self.confirm_timeout)
        except PrintNotConfirmed as exc:
            return {"bytes": None, "confirmed": False, "warnings": [str(exc)]}
        except PrinterConnectionLost:
            raise
        except PrinterError as exc:
            self.set_health(self.check())  # paper out, cover open...: the hall should see it now, not in 2 s
            raise CommandFailed(str(exc)) from None
        return {"bytes": result.bytes_sent, "confirmed": result.confirmed, "ms": round(result.seconds * 1000, 1),
                "warnings": list(result.warnings)}
