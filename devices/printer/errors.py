"""What can go wrong with a ticket printer: each message says why and what to do; and the codec's errors."""

from __future__ import annotations


class PrinterError(Exception):
    """The printer cannot print right now; the message says why and what to do."""


class PrinterUnavailable(PrinterError):
    """The printer's port or address cannot be opened."""


class PrinterOffline(PrinterError):
    """The printer is off, disconnected, not answering, or reports itself offline."""


class PrinterConnectionLost(PrinterOffline):
    """The connection to the printer broke (mid-ticket, the ticket is incomplete)."""


class PaperOut(PrinterError):
    """No paper: load a new roll."""


class CoverOpen(PrinterError):
    """The cover is open: close it."""


class CutterError(PrinterError):
    """The autocutter failed (usually jammed paper)."""


class PrinterHardwareError(PrinterError):
    """The printer reports an error of its mechanism (unrecoverable, or recoverable such as an overheated head)."""


class PrinterProtocolError(PrinterError):
    """The device answered with bytes that are not ESC/POS status replies."""


class PrintNotConfirmed(PrinterError):
    """The printer is fine but did not confirm the end of the job in time (it may still be printing)."""


class CodecError(ValueError):
    """Something that cannot be turned into, or read from, ESC/POS bytes."""


class StatusProtocolError(CodecError):
    """A status reply that is not a valid reply to the request (fixed bits wrong, or no such request)."""
