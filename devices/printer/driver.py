"""Open a ticket printer by URL, print ticket documents on it, and ask it how it is.

URLs:

* ``tcp://HOST[:PORT]`` - a network printer (raw port 9100 by default), over a plain socket;
* ``/dev/ttyUSB0``, ``/dev/pts/N``, ``serial:///dev/ttyS0?baudrate=9600`` or any pyserial URL (``socket://``,
  ``rfc2217://``, ``loop://``...) - a serial printer, opened with ``serial.serial_for_url``;
* ``usb://VID:PID`` (hex) - a USB printer, opened by python-escpos (needs pyusb and the device);
* ``file:///path`` - append the bytes to a file or device node (e.g. ``/dev/usb/lp0``); write-only, so no
  status is known.

Each transport is a module of :mod:`devices.printer.transports`. A printer that does not answer a status request is reported as offline/unknown, never as ready; faults come
out as :class:`PrinterError` subclasses whose messages say what to do. Ticket content is never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from devices.printer.codec import render
from devices.printer.document import TicketDocument
from devices.printer.errors import (
    CoverOpen,
    CutterError,
    PaperOut,
    PrinterConnectionLost,
    PrinterError,
    PrinterHardwareError,
    PrinterOffline,
    PrinterProtocolError,
    PrinterUnavailable,
    PrintNotConfirmed,
    StatusProtocolError,
)
from devices.printer.profile import PrinterProfile, get_profile
from devices.printer.status import (
    PAPER_SENSOR_REQUEST,
    PrinterState,
    PrinterStatus,
    decode_paper_sensor,
    decode_status,
    status_request,
)
from devices.printer.transports import Transport, open_transport

__all__ = [
    "CoverOpen", "CutterError", "PaperOut", "PrintNotConfirmed", "PrintResult", "PrinterConnectionLost",
    "PrinterDriver", "PrinterError", "PrinterHardwareError", "PrinterOffline", "PrinterProtocolError",
    "PrinterUnavailable", "open_transport", "raise_for_status",
]

log = logging.getLogger(__name__)

_ALL_STATUS_REQUESTS = b"".join(status_request(n) for n in (1, 2, 3, 4))
_WRITE_CHUNK = 4096


@dataclass(frozen=True)
class PrintResult:
    """What happened to one print job."""

    bytes_sent: int
    seconds: float  # from the call to the last byte handed to the transport
    status: PrinterStatus  # as checked before printing (unknown for write-only transports)
    confirmed: bool  # the printer reported that it had printed everything (GS r 1 answered)
    warnings: tuple[str, ...] = ()


def raise_for_status(status: PrinterStatus, context: str = "") -> None:
    """Raise the PrinterError that ``status`` calls for; return if the printer can print."""
    where = f" {context}" if context else ""
    state = status.state
    if state is PrinterState.UNKNOWN:
        raise PrinterOffline(
            f"printer did not answer{where}: {status.note or 'no status reply'} - it is off, disconnected, "
            "or not an ESC/POS printer"
        )
    if state is PrinterState.PAPER_OUT:
        raise PaperOut(f"printer is out of paper{where}: load a new roll")
    if state is PrinterState.COVER_OPEN:
        raise CoverOpen(f"printer cover is open{where}: close it")
    if state is PrinterState.CUTTER_ERROR:
        raise CutterError(f"printer's autocutter failed{where}: open the cover and clear the jammed paper")
    if state is PrinterState.UNRECOVERABLE_ERROR:
        raise PrinterHardwareError(f"printer reports an unrecoverable error{where}: power-cycle it or call service")
    if state is PrinterState.RECOVERABLE_ERROR:
        raise PrinterHardwareError(f"printer reports an error{where} (e.g. head overheated): wait and retry")
    if state is PrinterState.OFFLINE:
        raise PrinterOffline(f"printer reports itself offline{where}")


# ------------------------------------------------------------------------------------------ driver


class PrinterDriver:
    """One ESC/POS ticket printer. Thread-safe: calls are serialised."""

    def __init__(
        self, transport: Transport, profile: PrinterProfile | str | None = None, status_timeout: float = 1.0
    ) -> None:
        self._transport = transport
        self.profile = get_profile(profile)
        self.status_timeout = status_timeout
        self._lock = threading.RLock()
        self._closed = False
        # GS r 1 requests whose reply has not been seen (a confirmation given up on, e.g. at a paper-out): the
        # printer still answers them once it resumes, and those late 0x00-0x0F bytes must not be taken for
        # answers to later requests.
        self._gs_r_outstanding = 0

    @classmethod
    def open(
        cls,
        url: str,
        *,
        profile: PrinterProfile | str | None = None,
        status_timeout: float = 1.0,
        write_timeout: float = 10.0,
        baudrate: int = 115200,
    ) -> PrinterDriver:
        """Open the printer at ``url``; ``status_timeout`` is how long a silent printer gets to answer."""
        transport = open_transport(url, timeout=status_timeout, write_timeout=write_timeout, baudrate=baudrate)
        return cls(transport, profile, status_timeout)

    @property
    def url(self) -> str:
        return self._transport.description

    @property
    def can_read_status(self) -> bool:
        return self._transport.can_read

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._transport.close()

    def __enter__(self) -> PrinterDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ status

    def status(self) -> PrinterStatus:
        """Ask DLE EOT 1-4. Silence gives an UNKNOWN status (never OK); garbage raises PrinterProtocolError."""
        with self._lock:
            return self._status_reconnecting()

    def _status_reconnecting(self) -> PrinterStatus:
        """Status; a lost network connection is re-opened once (no ticket is at stake here, so retrying is safe)."""
        try:
            return self._status()
        except PrinterConnectionLost:
            reconnect = getattr(self._transport, "reconnect", None)
            if reconnect is None:
                raise
            log.info("printer %s: connection lost, reconnecting", self.url)
            reconnect()
            self._gs_r_outstanding = 0  # the old connection's late answers can no longer arrive
            return self._status()

    def _status(self) -> PrinterStatus:
        if not self._transport.can_read:
            return PrinterStatus.unknown(f"{self.url} is write-only; the printer's status cannot be read")
        self._drain()  # a late reply to an earlier request would shift every answer
        self._send(_ALL_STATUS_REQUESTS, what="status request")
        replies = self._read_replies(4, self.status_timeout)
        if not replies:
            return PrinterStatus.unknown(f"no answer to DLE EOT within {self.status_timeout:g} s")
        status = PrinterStatus()
        for n, byte in zip((1, 2, 3, 4), replies, strict=False):
            status = status.merge(_decode(n, byte))
        if len(replies) < 4:
            status = status.merge(PrinterStatus(note=f"answered {len(replies)} of 4 status requests"))
        return status

    def _read_replies(self, count: int, timeout: float) -> bytes:
        """Up to ``count`` DLE EOT replies arriving within ``timeout``; late GS r replies are set aside."""
        deadline = time.monotonic() + timeout
        replies = bytearray()
        while len(replies) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for byte in self._transport.read(count - len(replies), left):
                if not self._late_gs_r_reply(byte):
                    replies.append(byte)
        return bytes(replies)

    def _late_gs_r_reply(self, byte: int) -> bool:
        """Account for ``byte`` if it answers an outstanding GS r 1 (bit 4 clear; DLE EOT replies have it set)."""
        if byte & 0x90 == 0 and self._gs_r_outstanding:
            self._gs_r_outstanding -= 1
            return True
        return False

    def _drain(self) -> None:
        for byte in self._transport.discard_input():
            self._late_gs_r_reply(byte)

    # ------------------------------------------------------------------------------------ printing

    def print_document(
        self,
        document: TicketDocument | dict[str, Any],
        *,
        check_status: bool = True,
        confirm: bool = False,
        confirm_timeout: float = 10.0,
    ) -> PrintResult:
        """Print a ticket document (or its JSON form).

        With ``check_status`` (and a transport that can read) the printer must be ready first. With ``confirm``
        the call returns only once the printer reports it has printed everything, raising PaperOut, CoverOpen...
        if it stops mid-ticket.
        """
        if isinstance(document, dict):
            document = TicketDocument.from_dict(document)
        return self.print_bytes(
            render(document, self.profile), check_status=check_status, confirm=confirm, confirm_timeout=confirm_timeout
        )

    def print_bytes(
        self, data: bytes, *, check_status: bool = True, confirm: bool = False, confirm_timeout: float = 10.0
    ) -> PrintResult:
        """Send an already rendered ESC/POS job (see :meth:`print_document`)."""
        with self._lock:
            if self._closed:
                raise PrinterUnavailable(f"the driver for {self.url} is closed")
            warnings: list[str] = []
            status = PrinterStatus.unknown("not checked")
            if check_status and self._transport.can_read:
                status = self._status_reconnecting()
                raise_for_status(status, "before printing")
                if status.paper_near_end:
                    warnings.append("paper near end: change the roll soon")
            started = time.perf_counter()
            self._send(data, what="ticket")
            seconds = time.perf_counter() - started
            confirmed = False
            if self._transport.can_read:
                try:
                    if confirm:
                        self._confirm(confirm_timeout)
                        confirmed = True
                    else:
                        self._probe_after_send()
                except PrinterConnectionLost as exc:
                    raise PrinterConnectionLost(
                        f"connection to the printer at {self.url} lost after the ticket was sent; the ticket is "
                        f"probably incomplete ({exc})"
                    ) from exc
            log.info("printer %s: sent %d bytes in %.1f ms%s", self.url, len(data), seconds * 1000,
                     ", confirmed" if confirmed else "")
            return PrintResult(len(data), seconds, status, confirmed, tuple(warnings))

    def _send(self, data: bytes, *, what: str) -> None:
        sent = 0
        try:
            for start in range(0, len(data), _WRITE_CHUNK):
                chunk = data[start : start + _WRITE_CHUNK]
                self._transport.write(chunk)
                sent += len(chunk)
        except TimeoutError as exc:
            raise PrinterOffline(
                f"the printer at {self.url} stopped accepting data after {sent} of {len(data)} bytes of the {what} "
                f"({exc or 'write timed out'})"
            ) from exc
        except OSError as exc:
            raise PrinterConnectionLost(
                f"connection to the printer at {self.url} lost after {sent} of {len(data)} bytes of the {what}: "
                f"{exc.strerror or exc}" + ("; the ticket is incomplete" if what == "ticket" else "")
            ) from exc

    def _probe_after_send(self) -> None:
        """One real-time request after the job: a printer that vanished mid-ticket is an error, not silence."""
        self._drain()
        self._send(status_request(1), what="status request")
        reply = self._read_replies(1, self.status_timeout)
        if not reply:
            raise PrinterOffline(
                f"the printer at {self.url} stopped answering while the ticket was sent; it may not have printed"
            )
        status = _decode(1, reply[0])
        if status.online is False:
            log.info("printer %s went offline right after the job was sent", self.url)

    def _confirm(self, timeout: float) -> None:
        """Send GS r 1 and wait for its reply, which comes only after everything before it has printed.

        Meanwhile DLE EOT 1-4 is polled (its replies have bit 4 set, GS r's clear, so they cannot be confused):
        a printer that halts or falls silent mid-ticket raises at once instead of at the deadline.
        """
        self._drain()
        older = self._gs_r_outstanding  # their replies come first: the printer answers in order
        self._send(PAPER_SENSOR_REQUEST, what="paper status request")
        self._gs_r_outstanding += 1
        started = time.monotonic()
        deadline = started + timeout
        poll_every = min(0.25, self.status_timeout)
        next_poll = started + poll_every
        awaiting_since: float | None = None  # when the outstanding DLE EOT poll was sent
        realtime: list[int] = []
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise PrintNotConfirmed(
                    f"the printer at {self.url} had not finished the ticket after {timeout:g} s (it may be slow)"
                )
            if awaiting_since is None and now >= next_poll:
                self._send(_ALL_STATUS_REQUESTS, what="status request")
                awaiting_since, realtime = now, []
            wake = next_poll if awaiting_since is None else awaiting_since + self.status_timeout
            reply = self._transport.read(1, max(1e-3, min(deadline, wake) - now))
            if reply:
                byte = reply[0]
                if byte & 0x90 == 0:  # a GS r 1 reply
                    self._gs_r_outstanding = max(0, self._gs_r_outstanding - 1)
                    if older:
                        older -= 1  # the answer to an earlier, abandoned request
                        continue
                    decode_paper_sensor(byte)  # ours: everything before it has been printed
                    return
                realtime.append(byte)
                if len(realtime) == 4:
                    status = PrinterStatus()
                    for n, value in zip((1, 2, 3, 4), realtime, strict=True):
                        status = status.merge(_decode(n, value))
                    raise_for_status(status, "while printing the ticket")
                    awaiting_since, next_poll = None, time.monotonic() + poll_every
            elif awaiting_since is not None and time.monotonic() - awaiting_since >= self.status_timeout:
                raise PrinterOffline(
                    f"the printer at {self.url} stopped answering while printing the ticket; it may be incomplete"
                )


def _decode(n: int, byte: int) -> PrinterStatus:
    try:
        return decode_status(n, byte)
    except StatusProtocolError as exc:
        raise PrinterProtocolError(f"{exc}; is this an ESC/POS printer, and is nothing else using the port?") from exc
