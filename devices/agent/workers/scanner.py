"""The serial barcode/QR scanner: every complete code becomes a code_scanned input."""

from __future__ import annotations

import logging

from devices.agent.privacy import safe_error
from devices.agent.workers.base import DeviceWorker, Health
from devices.scanner.codec import ScanError
from devices.scanner.driver import SerialScanner

log = logging.getLogger("devices.agent.workers")


class ScannerWorker(DeviceWorker):
    kind = "scanner"
    reads = True
    poll_interval = 5.0  # a scanner has nothing to ask; health is "the port is open and readable"

    scanner: SerialScanner | None = None
    codes_read = 0

    def open(self, url: str) -> None:
        self.scanner = SerialScanner.open(url, baudrate=getattr(self.settings, "baudrate", 115200))

    def close_device(self) -> None:
        if self.scanner is not None:
            self.scanner.close()
            self.scanner = None

    def check(self) -> Health:
        return Health("ok")

    def step(self) -> None:
        assert self.scanner is not None
        try:
            code = self.scanner.read(timeout=0.2)
        except ScanError as exc:
            log.info("%s/scanner: unreadable line: %s", self.host.station, safe_error(exc))
            return
        if code is None:
            return
        if not code.complete:
            log.info("%s/scanner: code without its suffix taken after a pause", self.host.station)
        self.codes_read += 1
        # A code may carry a name, an ID or a phone number (e-licences, health codes): its content is not logged.
        log.info("%s/scanner: code scanned (%d characters)", self.host.station, len(code.text))
        self.host.submit_input(self.kind, "code_scanned", {"code": code.text, "symbology": code.symbology})
