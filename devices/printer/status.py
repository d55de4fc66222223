"""The printer's status replies as values: ``DLE EOT n`` (real time, answered even mid-job) and ``GS r 1`` (answered
in buffer order, once everything before it has printed). Replies that break the fixed bits raise
:class:`StatusProtocolError`: noise is never taken for "OK"."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from typing import Any

from escpos.constants import GS, RT_STATUS

from devices.printer.errors import CodecError, StatusProtocolError

PAPER_SENSOR_REQUEST = GS + b"r\x01"  # GS r 1: answered in buffer order, after what precedes it has printed


class PrinterState(enum.StrEnum):
    """One word for what the printer is doing, worst condition first."""

    UNKNOWN = "unknown"  # it did not answer (all four requests), so nothing can be said
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    CUTTER_ERROR = "cutter_error"
    UNRECOVERABLE_ERROR = "unrecoverable_error"
    RECOVERABLE_ERROR = "recoverable_error"
    OFFLINE = "offline"
    PAPER_NEAR_END = "paper_near_end"
    READY = "ready"


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself; a field is None when the request that reports it got no answer."""

    online: bool | None = None  # DLE EOT 1, bit 3 clear
    cover_open: bool | None = None  # DLE EOT 2, bit 2
    feed_button: bool | None = None  # DLE EOT 2, bit 3: paper being fed by the FEED button
    stopped_at_paper_end: bool | None = None  # DLE EOT 2, bit 5
    error: bool | None = None  # DLE EOT 2, bit 6
    cutter_error: bool | None = None  # DLE EOT 3, bit 3
    unrecoverable_error: bool | None = None  # DLE EOT 3, bit 5
    recoverable_error: bool | None = None  # DLE EOT 3, bit 6 (e.g. head too hot; clears by itself)
    paper_near_end: bool | None = None  # DLE EOT 4, bits 2-3
    paper_out: bool | None = None  # DLE EOT 4, bits 5-6
    replies: tuple[tuple[int, int], ...] = ()  # (n, reply byte) as received
    note: str = ""  # why the status is incomplete, for messages

    @classmethod
    def unknown(cls, note: str) -> PrinterStatus:
        """The printer did not answer; ``note`` says what was tried."""
        return cls(note=note)

    @property
    def answered(self) -> bool:
        return bool(self.replies)

    @property
    def complete(self) -> bool:
        """All four DLE EOT requests were answered."""
        return {n for n, _ in self.replies} >= {1, 2, 3, 4}

    def merge(self, other: PrinterStatus) -> PrinterStatus:
        """Combine two partial statuses; fields ``other`` knows win."""
        known = {f.name: getattr(other, f.name) for f in fields(self) if f.name not in ("replies", "note")}
        known = {name: value for name, value in known.items() if value is not None}
        return replace(self, **known, replies=self.replies + other.replies, note=other.note or self.note)

    @property
    def state(self) -> PrinterState:
        if not self.complete:
            return PrinterState.UNKNOWN
        if self.paper_out or self.stopped_at_paper_end:
            return PrinterState.PAPER_OUT
        if self.cover_open:
            return PrinterState.COVER_OPEN
        if self.cutter_error:
            return PrinterState.CUTTER_ERROR
        if self.unrecoverable_error:
            return PrinterState.UNRECOVERABLE_ERROR
        if self.recoverable_error or self.error:
            return PrinterState.RECOVERABLE_ERROR
        if not self.online:
            return PrinterState.OFFLINE
        if self.paper_near_end:
            return PrinterState.PAPER_NEAR_END
        return PrinterState.READY

    @property
    def ok(self) -> bool:
        """Ready to print (paper near its end still prints)."""
        return self.state in (PrinterState.READY, PrinterState.PAPER_NEAR_END)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state.value}
        out.update({f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("replies", "note")})
        out["replies"] = {str(n): f"0x{byte:02X}" for n, byte in self.replies}
        if self.note:
            out["note"] = self.note
        return out


_FIXED_MASK = 0x93  # bits 0, 1, 4, 7
_FIXED_VALUE = 0x12  # bits 1 and 4 set, 0 and 7 clear


def _check_request(n: int) -> None:
    if n not in (1, 2, 3, 4):
        raise CodecError(f"DLE EOT takes n = 1, 2, 3 or 4, got {n!r}")


def _check_byte(byte: int) -> None:
    if not isinstance(byte, int) or not 0 <= byte <= 0xFF:
        raise CodecError(f"a status reply is one byte (0-255), got {byte!r}")


def status_request(n: int) -> bytes:
    """``DLE EOT n``: ask for status ``n`` (1 printer, 2 offline cause, 3 error cause, 4 paper sensor)."""
    _check_request(n)
    return RT_STATUS + bytes([n])


def decode_status(n: int, byte: int) -> PrinterStatus:
    """Decode the reply to ``DLE EOT n``; raises StatusProtocolError when it cannot be such a reply."""
    _check_request(n)
    _check_byte(byte)
    if byte & _FIXED_MASK != _FIXED_VALUE:
        raise StatusProtocolError(
            f"0x{byte:02X} is not a reply to DLE EOT {n}: bits 1 and 4 must be set and bits 0 and 7 clear"
        )
    bit = lambda b: bool(byte & (1 << b))  # noqa: E731 - a local shorthand keeps the table readable
    replies = ((n, byte),)
    if n == 1:
        return PrinterStatus(online=not bit(3), replies=replies)
    if n == 2:
        return PrinterStatus(
            cover_open=bit(2), feed_button=bit(3), stopped_at_paper_end=bit(5), error=bit(6), replies=replies
        )
    if n == 3:
        return PrinterStatus(
            cutter_error=bit(3), unrecoverable_error=bit(5), recoverable_error=bit(6), replies=replies
        )
    # Printers set both bits of a sensor pair; either one is taken as the sensor having fired.
    return PrinterStatus(paper_near_end=bool(byte & 0x0C), paper_out=bool(byte & 0x60), replies=replies)


def encode_status(n: int, status: PrinterStatus) -> int:
    """The byte a printer in ``status`` answers to ``DLE EOT n`` (unknown fields count as clear)."""
    _check_request(n)
    flags: list[tuple[bool | None, int]]
    if n == 1:
        flags = [(status.online is False, 0x08)]
    elif n == 2:
        flags = [
            (status.cover_open, 0x04),
            (status.feed_button, 0x08),
            (status.stopped_at_paper_end, 0x20),
            (status.error, 0x40),
        ]
    elif n == 3:
        flags = [(status.cutter_error, 0x08), (status.unrecoverable_error, 0x20), (status.recoverable_error, 0x40)]
    else:
        flags = [(status.paper_near_end, 0x0C), (status.paper_out, 0x60)]
    return _FIXED_VALUE | sum(mask for flag, mask in flags if flag)


def decode_paper_sensor(byte: int) -> tuple[bool, bool]:
    """Decode the reply to ``GS r 1`` into (paper near end, paper out)."""
    _check_byte(byte)
    if byte & 0x90:
        raise StatusProtocolError(f"0x{byte:02X} is not a reply to GS r 1: bits 4 and 7 must be clear")
    return bool(byte & 0x03), bool(byte & 0x0C)


def encode_paper_sensor(near_end: bool, paper_out: bool) -> int:
    """The byte a printer answers to ``GS r 1``."""
    return (0x03 if near_end else 0) | (0x0C if paper_out else 0)
