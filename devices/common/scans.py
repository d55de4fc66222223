"""What a code reader (serial scanner, keyboard-wedge scanner, camera) hands on: one scanned code."""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.common.redaction import redact_text


@dataclass(frozen=True)
class ScannedCode:
    """One scan. ``complete`` is False when the code was cut off by a timeout instead of its suffix."""

    text: str
    source: str  # "serial", "hid" or "camera"
    symbology: str | None = None  # "QRCODE", "EAN13", ... when the reader knows it
    complete: bool = True
    raw: bytes = field(default=b"", compare=False)

    def __repr__(self) -> str:
        # A code can carry an ID or phone number (e-licences, health codes): never print it whole.
        extra = f", symbology={self.symbology!r}" if self.symbology else ""
        extra += "" if self.complete else ", complete=False"
        return f"ScannedCode({redact_text(self.text)!r}, source={self.source!r}{extra})"

    __str__ = __repr__
