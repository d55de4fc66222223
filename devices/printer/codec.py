"""Ticket document -> ESC/POS bytes. Pure: no I/O.

Text encoding is done here rather than by python-escpos's magic encoder, which only switches to GB18030 when a
string holds a CJK ideograph (so "，：" alone come out as "??") and sends accented Latin as ``ESC t`` + CP437,
which a printer in Chinese mode reads as half a double-byte character. The rules:

* A Chinese printer (``profile.chinese``) is put in Chinese mode (``FS &``) once at the start of a ticket and
  every line goes out GB18030-encoded. Its font covers the one- and two-byte part of GB18030 (GBK); four-byte
  codes (Tibetan, Mongolian, rare ideographs, emoji) are not in the font.
* A western printer takes code page 437 only.
* A line holding any character outside the printer's font is drawn with Pillow (CJK and Tibetan fonts, with
  complex shaping) and sent as a raster image (``GS v 0``, :mod:`devices.printer.raster`), so the whole line keeps
  its alignment and size.

The printer's models are in :mod:`devices.printer.profile` and its status replies in :mod:`devices.printer.status`;
the names callers outside this package use are re-exported here, so ``codec`` stays the one import for both ways.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from escpos.constants import (
    CTL_LF,
    ESC,
    FS,
    HW_INIT,
    PAPER_FULL_CUT,
    PAPER_PART_CUT,
    QR_ECLEVEL_H,
    QR_ECLEVEL_L,
    QR_ECLEVEL_M,
    QR_ECLEVEL_Q,
    TXT_SIZE,
    TXT_STYLE,
)
from escpos.printer import Dummy

from devices.printer.document import (
    Cut,
    Feed,
    Footer,
    Header,
    Number,
    QRCode,
    Separator,
    Text,
    TicketDocument,
)
from devices.printer.errors import CodecError, StatusProtocolError
from devices.printer.profile import DEFAULT_PROFILE, PROFILES, PrinterProfile, get_profile
from devices.printer.raster import QR_RASTER_BORDER, fit_qr_size, qr_image, raster, text_images
from devices.printer.status import (
    PrinterState,
    PrinterStatus,
    decode_paper_sensor,
    decode_status,
    encode_paper_sensor,
    encode_status,
    status_request,
)

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "CodecError",
    "PrinterProfile",
    "PrinterState",
    "PrinterStatus",
    "StatusProtocolError",
    "decode_paper_sensor",
    "decode_status",
    "encode_paper_sensor",
    "encode_status",
    "get_profile",
    "render",
    "status_request",
    "wrap_cells",
]

CHINESE_MODE_ON = FS + b"&"
CHINESE_MODE_OFF = FS + b"."
CHINESE_SIZE = FS + b"!"  # FS ! n: bit 2 double width, bit 3 double height for double-byte characters
CHINESE_DOUBLE = 0x0C
FEED_LINES = ESC + b"d"
FEED_DOTS = ESC + b"J"
CUT_FEED_LINES = 6  # feed past the cutter before cutting, as python-escpos's cut() does

_QR_LEVELS = {"L": QR_ECLEVEL_L, "M": QR_ECLEVEL_M, "Q": QR_ECLEVEL_Q, "H": QR_ECLEVEL_H}


def render(document: TicketDocument, profile: PrinterProfile | str | None = None) -> bytes:
    """The ESC/POS bytes that print ``document`` on a printer described by ``profile``."""
    return b"".join(_Renderer(get_profile(profile)).document(document))


class _Renderer:
    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile

    def document(self, document: TicketDocument) -> Iterator[bytes]:
        yield HW_INIT
        if self.profile.chinese:
            yield CHINESE_MODE_ON
        for block in document.blocks:
            yield from self.block(block)

    def block(self, block: Any) -> Iterator[bytes]:
        if isinstance(block, Header):
            yield from self.lines(block.text, block.align, bold=True, scale=2)
        elif isinstance(block, Number):
            yield from self.lines(block.text, block.align, bold=True, scale=block.scale)
        elif isinstance(block, Text):
            yield from self.lines(block.text, block.align, bold=block.bold, scale=2 if block.double else 1)
        elif isinstance(block, Footer):
            yield from self.lines(block.text, block.align, bold=False, scale=1)
        elif isinstance(block, Separator):
            cells = self.profile.cells(block.char) or 2
            yield from self.lines(block.char * (self.profile.columns // cells), "left", bold=False, scale=1)
        elif isinstance(block, QRCode):
            yield from self.qr(block)
        elif isinstance(block, Feed):
            yield FEED_LINES + bytes([block.lines])
        elif isinstance(block, Cut):
            yield FEED_LINES + bytes([CUT_FEED_LINES]) + (PAPER_PART_CUT if block.partial else PAPER_FULL_CUT)
        else:  # pragma: no cover - the document model admits no other block
            raise CodecError(f"no rendering for block {type(block).__name__}")

    def style(self, align: str, bold: bool, scale: int) -> bytes:
        # Every block states its whole style, so no block depends on what the one before left behind.
        out = TXT_STYLE["align"][align] + TXT_STYLE["bold"][bold] + TXT_SIZE + bytes([(scale - 1) * 0x11])
        if self.profile.chinese:
            out += CHINESE_SIZE + bytes([CHINESE_DOUBLE if scale >= 2 else 0])
        return out

    def lines(self, text: str, align: str, *, bold: bool, scale: int) -> Iterator[bytes]:
        yield self.style(align, bold, scale)
        for paragraph in text.split("\n"):
            if all(self.profile.cells(char) is not None for char in paragraph):
                for row in wrap_cells(paragraph, self.profile, scale):
                    yield self.profile.encode_text(row) + CTL_LF
            else:
                for image in text_images(paragraph, self.profile, align=align, bold=bold, scale=scale):
                    yield raster(image)
        yield self.style("left", False, 1)

    def qr(self, block: QRCode) -> Iterator[bytes]:
        size = fit_qr_size(block.payload, block.ec, block.size, self.profile.paper_width_dots)
        if self.profile.native_qr:
            # The printer draws the bare symbol; feed a quiet zone above and below so text does not touch it.
            quiet = FEED_DOTS + bytes([min(255, QR_RASTER_BORDER * size)])
            yield TXT_STYLE["align"][block.align] + quiet
            dummy = Dummy()  # python-escpos builds the five GS ( k commands (model 2, size, level, store, print)
            dummy.qr(block.payload, ec=_QR_LEVELS[block.ec], size=size, native=True)
            yield dummy.output
            yield quiet + TXT_STYLE["align"]["left"]
        else:
            yield raster(qr_image(block.payload, block.ec, size, self.profile.paper_width_dots, block.align))


def wrap_cells(text: str, profile: PrinterProfile, scale: int = 1) -> list[str]:
    """Split a line the printer's font can print into rows that fit the paper, breaking at spaces if possible."""
    limit = profile.columns
    rows: list[str] = []
    row = ""
    used = 0
    for char in text:
        width = (profile.cells(char) or 2) * scale
        if used + width > limit and row:
            cut = row.rfind(" ")
            if cut > len(row) // 2 and char != " ":
                rows.append(row[:cut])
                row = row[cut + 1 :]
            else:
                rows.append(row)
                row = ""
            used = sum((profile.cells(c) or 2) * scale for c in row)
        row += char
        used += width
    rows.append(row)
    return rows
