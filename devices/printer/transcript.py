"""Read an ESC/POS byte stream back: what a printer would do with it, as text and as a picture.

Written independently of :mod:`devices.printer.codec` (it shares no ESC/POS code with it, only the outline fonts)
so that tests which render a ticket and read it back here check the bytes, not the codec against itself. The
simulator prints with it too.

* :class:`EscPosParser` (:mod:`devices.printer.escpos_parser`) is incremental: feed it bytes as they arrive, in
  any chunking, and it emits events (:mod:`devices.printer.escpos_events`: text, line feeds, formatting commands,
  raster images, QR data, status requests). Bytes it cannot make sense of become :class:`Unknown` events with the
  offset and the reason, and parsing resumes at the next byte.
* :class:`TicketAssembler` (here) applies events like a printer: it tracks the print mode, lays out lines, measures
  the paper each one uses, and closes a :class:`Ticket` at every cut.
* A :class:`Ticket` (:mod:`devices.printer.ticket`) gives a plain text (GB18030 decoded), an annotated transcript,
  the QR payloads, and a PNG drawn with the CJK font (:mod:`devices.printer.ticket_image`) where native QR codes are
  re-generated as images, so a scanner can read them back.

The parser's and the ticket's names are re-exported here for callers outside this package.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from devices.printer.escpos_events import Control, Event, LineFeed, QRData, Raster, StatusQuery, Text, Unknown
from devices.printer.escpos_parser import EscPosParser
from devices.printer.ticket import ImageItem, Item, QRItem, Segment, Space, TextLine, Ticket
from devices.printer.ticket_image import CHAR_HEIGHT_DOTS, qr_modules

__all__ = [
    "Control",
    "EscPosParser",
    "Event",
    "LineFeed",
    "QRData",
    "Raster",
    "StatusQuery",
    "Text",
    "Ticket",
    "TicketAssembler",
    "Unknown",
    "transcribe",
]

DEFAULT_LINE_SPACING = 34  # ESC 2: 1/6 inch


@dataclass(frozen=True)
class Applied:
    """What applying one event did: paper moved (dots) and a ticket finished by a cut, if any."""

    dots: int = 0
    ticket: Ticket | None = None


class TicketAssembler:
    """Applies parser events like a printer would and collects tickets, one per cut."""

    def __init__(self, paper_width_dots: int = 576) -> None:
        self.paper_width_dots = paper_width_dots
        self._count = 0
        self._reset_mode()
        self._segments: list[Segment] = []
        self._line_align: str | None = None
        self._qr_data: bytes | None = None
        self.ticket = self._new_ticket()

    def _new_ticket(self) -> Ticket:
        self._count += 1
        return Ticket(self._count, paper_width_dots=self.paper_width_dots)

    def _reset_mode(self) -> None:
        self.align = "left"
        self.bold = False
        self.size = (1, 1)  # GS !
        self.esc_mode = 0  # ESC !
        self.chinese_double = (False, False)  # FS !: width, height
        self.line_spacing = DEFAULT_LINE_SPACING
        self.qr_size = 3
        self.qr_ec = "L"

    @property
    def has_content(self) -> bool:
        """Something has been printed since the last cut (or is waiting in the line buffer)."""
        return bool(self.ticket.items or self._segments)

    def apply(self, event: Event) -> Applied:
        if isinstance(event, Text):
            if self._line_align is None:
                self._line_align = self.align
            multiplier = self._multiplier(event.text)
            self._segments.append(Segment(event.text, multiplier[0], multiplier[1], self.bold or bool(self.esc_mode & 8)))
            return Applied()
        if isinstance(event, LineFeed):
            return Applied(self._finish_line(blank_ok=True))
        if isinstance(event, Raster):
            dots = self._finish_line()
            image = event.image()
            if event.mode:  # double width (bit 0) / double height (bit 1): every dot printed twice
                scale = (1 + (event.mode & 1), 1 + (event.mode >> 1 & 1))
                image = image.resize((image.width * scale[0], image.height * scale[1]), Image.Resampling.NEAREST)
            self._add(ImageItem(image, self.align, image.height))
            return Applied(dots + image.height)
        if isinstance(event, QRData):
            self._qr_data = event.data
            return Applied()
        if isinstance(event, Unknown):
            shown = event.data[:8].hex(" ") + (" ..." if len(event.data) > 8 else "")
            self.ticket.notes.append(f"{event.reason} at byte {event.offset}: {shown}")
            return Applied()
        if isinstance(event, StatusQuery):
            return Applied()
        return self._apply_control(event)

    def _apply_control(self, event: Control) -> Applied:
        name, value = event.name, event.value
        if name == "init":
            dots = self._finish_line()
            self._reset_mode()
            return Applied(dots)
        if name == "align":
            self.align = {0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}.get(value, "left")
        elif name == "bold":
            self.bold = bool(value & 1)
        elif name == "size":
            self.size = (min(8, (value >> 4) + 1), min(8, (value & 0x0F) + 1))
        elif name == "print_mode":
            self.esc_mode = value
        elif name == "chinese_mode":
            self.chinese_double = (bool(value & 0x04), bool(value & 0x08))
        elif name == "line_spacing":
            self.line_spacing = value
        elif name == "line_spacing_default":
            self.line_spacing = DEFAULT_LINE_SPACING
        elif name == "feed_lines":
            dots = self._finish_line() + value * self.line_spacing
            self._add(Space(value * self.line_spacing))
            return Applied(dots)
        elif name == "feed_dots":
            dots = self._finish_line() + value
            self._add(Space(value))
            return Applied(dots)
        elif name == "qr_size":
            self.qr_size = max(1, value)
        elif name == "qr_ec":
            self.qr_ec = value or "L"
        elif name == "qr_print":
            return Applied(self._finish_line() + self._print_qr(event.offset))
        elif name == "cut":
            dots = self._finish_line()
            ticket = self.ticket
            ticket.cut = value
            self.ticket = self._new_ticket()
            return Applied(dots, ticket)
        elif name in ("barcode", "column_image", "gs_paren_L", "print_nv_image", "print_downloaded_image"):
            self.ticket.notes.append(f"{name} at byte {event.offset} recognised but not drawn")
        return Applied()

    def abort(self, reason: str) -> Ticket | None:
        """Close the current ticket without a cut (the job was cut short); None if nothing was printed."""
        self._finish_line()
        if not self.ticket.items:
            return None
        ticket = self.ticket
        ticket.notes.append(reason)
        self.ticket = self._new_ticket()
        return ticket

    def _multiplier(self, text: str) -> tuple[int, int]:
        width, height = self.size
        if self.esc_mode & 0x20:
            width = max(width, 2)
        if self.esc_mode & 0x10:
            height = max(height, 2)
        if any(ord(char) >= 0x80 for char in text):
            # Double-byte characters also follow FS !; GS ! applies to every character.
            width = max(width, 2 if self.chinese_double[0] else 1)
            height = max(height, 2 if self.chinese_double[1] else 1)
        return width, height

    def _finish_line(self, blank_ok: bool = False) -> int:
        if not self._segments:
            if not blank_ok:
                return 0
            self._add(TextLine((), self.align, self.line_spacing))
            return self.line_spacing
        tallest = max(segment.height for segment in self._segments) * CHAR_HEIGHT_DOTS
        line = TextLine(tuple(self._segments), self._line_align or self.align, max(self.line_spacing, tallest))
        self._segments = []
        self._line_align = None
        self._add(line)
        return line.height_dots

    def _print_qr(self, offset: int) -> int:
        if self._qr_data is None:
            self.ticket.notes.append(f"QR print at byte {offset} with no data stored")
            return 0
        payload = self._qr_data.decode("utf-8", errors="replace")
        modules = qr_modules(payload, self.qr_ec)
        item = QRItem(payload, self.qr_size, self.qr_ec, self.align, modules * self.qr_size)
        self._add(item)
        return item.height_dots

    def _add(self, item: Item) -> None:
        self.ticket.items.append(item)


def transcribe(data: bytes, *, chinese: bool = True, paper_width_dots: int = 576) -> list[Ticket]:
    """Every ticket in ``data``; content after the last cut comes back as a final ticket without a cut."""
    parser = EscPosParser(chinese=chinese)
    assembler = TicketAssembler(paper_width_dots)
    tickets = []
    for event in [*parser.feed(data), *parser.flush()]:
        applied = assembler.apply(event)
        if applied.ticket is not None:
            tickets.append(applied.ticket)
    assembler._finish_line()
    if assembler.ticket.items or assembler.ticket.notes:
        tickets.append(assembler.ticket)
    return tickets


def events_of(data: bytes, *, chinese: bool = True) -> list[Event]:
    """All events in a complete byte stream (a truncated tail is reported as Unknown)."""
    parser = EscPosParser(chinese=chinese)
    return [*parser.feed(data), *parser.flush()]
