"""Ticket document -> ESC/POS bytes, and the printer's status bytes -> values. Pure: no I/O.

Text encoding is done here rather than by python-escpos's magic encoder, which only switches to GB18030 when a
string holds a CJK ideograph (so "，：" alone come out as "??") and sends accented Latin as ``ESC t`` + CP437,
which a printer in Chinese mode reads as half a double-byte character. The rules:

* A Chinese printer (``profile.chinese``) is put in Chinese mode (``FS &``) once at the start of a ticket and
  every line goes out GB18030-encoded. Its font covers the one- and two-byte part of GB18030 (GBK); four-byte
  codes (Tibetan, Mongolian, rare ideographs, emoji) are not in the font.
* A western printer takes code page 437 only.
* A line holding any character outside the printer's font is drawn with Pillow (CJK and Tibetan fonts, with
  complex shaping) and sent as a raster image (``GS v 0``), so the whole line keeps its alignment and size.

Status: ``DLE EOT n`` (real time, answered even mid-job) and ``GS r 1`` (answered when the printer reaches it in
its buffer, i.e. once everything before it has printed) replies decode to :class:`PrinterStatus`. Replies that
break the fixed bits raise :class:`StatusProtocolError`: noise is never taken for "OK".
"""

from __future__ import annotations

import enum
import functools
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

import qrcode
import qrcode.constants
from escpos.constants import (
    CTL_LF,
    ESC,
    FS,
    GS,
    HW_INIT,
    PAPER_FULL_CUT,
    PAPER_PART_CUT,
    QR_ECLEVEL_H,
    QR_ECLEVEL_L,
    QR_ECLEVEL_M,
    QR_ECLEVEL_Q,
    RT_STATUS,
    TXT_SIZE,
    TXT_STYLE,
)
from escpos.image import EscposImage
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

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

CJK_FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_FONT_INDEX = 7  # Noto Sans Mono CJK SC: 12-dot Latin / 24-dot Hanzi at 24 px, like the printer's own font
TIBETAN_FONT_PATH = "/usr/share/fonts/truetype/tibetan-machine/TibetanMachineUni.ttf"
# Tibetan letters sit small in their em square: at the Hanzi size their body is ~10 dots, too small to read.
TIBETAN_SCALE = 1.5

CHINESE_MODE_ON = FS + b"&"
CHINESE_MODE_OFF = FS + b"."
CHINESE_SIZE = FS + b"!"  # FS ! n: bit 2 double width, bit 3 double height for double-byte characters
CHINESE_DOUBLE = 0x0C
FEED_LINES = ESC + b"d"
FEED_DOTS = ESC + b"J"
RASTER_IMAGE = GS + b"v0"
PAPER_SENSOR_REQUEST = GS + b"r\x01"  # GS r 1: answered in buffer order, after what precedes it has printed
CUT_FEED_LINES = 6  # feed past the cutter before cutting, as python-escpos's cut() does
RASTER_FRAGMENT_DOTS = 960  # taller images go out in several GS v 0 commands; printers cap one command's height

_ALIGN = {"left": 0, "center": 1, "right": 2}
_QR_LEVELS = {"L": QR_ECLEVEL_L, "M": QR_ECLEVEL_M, "Q": QR_ECLEVEL_Q, "H": QR_ECLEVEL_H}
_QRCODE_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
QR_RASTER_BORDER = 2  # modules of quiet zone drawn into a rasterised QR; paper margins give the rest


class CodecError(ValueError):
    """Something that cannot be turned into, or read from, ESC/POS bytes."""


class StatusProtocolError(CodecError):
    """A status reply that is not a valid reply to the request (fixed bits wrong, or no such request)."""


# --------------------------------------------------------------------------------------------- profile


@dataclass(frozen=True)
class PrinterProfile:
    """What a printer model can do, as far as rendering a ticket is concerned."""

    name: str
    paper_width_dots: int = 576  # 80 mm paper, 72 mm printable at 8 dots/mm (203 dpi)
    dots_per_mm: int = 8
    native_qr: bool = True  # understands GS ( k; otherwise QR codes are sent as raster images
    chinese: bool = True  # boots in Chinese mode with a GB18030 (GBK-range) double-byte font
    gb18030_four_byte: bool = False  # its font also covers four-byte GB18030 codes (few do)
    char_width_dots: int = 12  # font A single-byte cell; double-byte characters are twice as wide
    char_height_dots: int = 24
    line_spacing_dots: int = 34  # ESC 2 default: 1/6 inch

    @property
    def columns(self) -> int:
        """Single-byte characters per line at normal size."""
        return self.paper_width_dots // self.char_width_dots

    def cells(self, char: str) -> int | None:
        """Width of ``char`` in single-byte cells in the printer's own font, or None if the font lacks it."""
        if self.chinese:
            try:
                encoded = char.encode("gb18030")
            except UnicodeEncodeError:
                return None
            if len(encoded) == 1:
                return 1 if 0x20 <= encoded[0] < 0x7F else None
            if len(encoded) == 2 or self.gb18030_four_byte:
                return 2
            return None
        try:
            encoded = char.encode("cp437")
        except UnicodeEncodeError:
            return None
        return 1 if encoded[0] >= 0x20 and encoded[0] != 0x7F else None

    def encode_text(self, text: str) -> bytes:
        """The bytes the printer's font prints as ``text``; raises CodecError for a character it lacks."""
        for char in text:
            if self.cells(char) is None:
                raise CodecError(f"U+{ord(char):04X} is not in the font of printer profile {self.name!r}")
        return text.encode("gb18030" if self.chinese else "cp437")


PROFILES: dict[str, PrinterProfile] = {
    profile.name: profile
    for profile in (
        PrinterProfile("zh-80"),  # Xprinter, Rongta, GP, Epson TM-T88 (Chinese model): 80 mm
        PrinterProfile("zh-80-raster-qr", native_qr=False),  # cheaper Chinese printers without GS ( k
        PrinterProfile("intl-80", chinese=False),  # Epson TM-T88 with western firmware: CP437, no Chinese font
        PrinterProfile("zh-58", paper_width_dots=384),  # 58 mm paper, 48 mm printable
    )
}
DEFAULT_PROFILE = PROFILES["zh-80"]


def get_profile(profile: PrinterProfile | str | None) -> PrinterProfile:
    """A profile given by value or by name (None = the default 80 mm Chinese printer)."""
    if profile is None:
        return DEFAULT_PROFILE
    if isinstance(profile, PrinterProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise CodecError(f"unknown printer profile {profile!r}; known: {', '.join(PROFILES)}") from None


# --------------------------------------------------------------------------------------------- rendering


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


# --------------------------------------------------------------------------------------------- images


@functools.lru_cache(maxsize=32)
def _font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        if kind == "tibetan":
            scaled = round(size * TIBETAN_SCALE)
            return ImageFont.truetype(TIBETAN_FONT_PATH, scaled, layout_engine=ImageFont.Layout.RAQM)
        return ImageFont.truetype(CJK_FONT_PATH, size, index=CJK_FONT_INDEX, layout_engine=ImageFont.Layout.RAQM)
    except OSError as exc:
        path = TIBETAN_FONT_PATH if kind == "tibetan" else CJK_FONT_PATH
        raise CodecError(
            f"cannot load the {kind} font {path}: {exc} (install fonts-noto-cjk / fonts-tibetan-machine)"
        ) from exc


def _script_runs(text: str) -> list[tuple[str, str]]:
    """Cut text into runs drawn with one font each: Tibetan, or everything else (Noto CJK covers Latin too)."""
    runs: list[tuple[str, str]] = []
    for char in text:
        # Combining marks stay with their base character so shaping sees the whole stack.
        kind = "tibetan" if "\u0f00" <= char <= "\u0fff" else "cjk"
        if runs and (runs[-1][0] == kind or unicodedata.combining(char)):
            runs[-1] = (runs[-1][0], runs[-1][1] + char)
        else:
            runs.append((kind, char))
    return runs


def _measure(text: str, size: int) -> float:
    return sum(_font(kind, size).getlength(run) for kind, run in _script_runs(text))


def _wrap_pixels(text: str, size: int, width: int) -> list[str]:
    rows: list[str] = []
    row = ""
    for char in text:
        if row and not unicodedata.combining(char) and _measure(row + char, size) > width:
            # Prefer breaking after a space or a Tibetan tsheg (syllable mark), as a reader would.
            cut = max(row.rfind(" "), row.rfind("\u0f0b"))
            if cut > len(row) // 2:
                rows.append(row[: cut + 1].rstrip())
                row = row[cut + 1 :]
            else:
                rows.append(row)
                row = ""
        row += char
    rows.append(row)
    return rows


def text_images(text: str, profile: PrinterProfile, *, align: str, bold: bool, scale: int) -> list[Image.Image]:
    """Draw a line (wrapped to the paper) as full-width black-on-white images, one per printed row."""
    size = profile.char_height_dots * scale
    width = profile.paper_width_dots
    images = []
    for row in _wrap_pixels(text, size, width):
        runs = _script_runs(row)
        kinds = {kind for kind, _ in runs} or {"cjk"}
        ascent = max(_font(kind, size).getmetrics()[0] for kind in kinds)
        descent = max(_font(kind, size).getmetrics()[1] for kind in kinds)
        image = Image.new("L", (width, ascent + descent), 255)
        draw = ImageDraw.Draw(image)
        row_width = _measure(row, size)
        x = {"left": 0.0, "center": (width - row_width) / 2, "right": width - row_width}[align]
        for kind, run in runs:
            font = _font(kind, size)
            draw.text((x, ascent), run, font=font, fill=0, anchor="ls", stroke_width=1 if bold else 0, stroke_fill=0)
            x += font.getlength(run)
        images.append(image)
    return images


def fit_qr_size(payload: str, ec: str, size: int, paper_width_dots: int) -> int:
    """The module size, shrunk if needed so that the symbol fits across the paper."""
    code = qrcode.QRCode(error_correction=_QRCODE_LEVELS[ec], border=0)
    code.add_data(payload.encode("utf-8"))
    modules = code.best_fit() * 4 + 17  # the version alone gives the size; no need to build the symbol
    return max(1, min(size, paper_width_dots // (modules + 2 * QR_RASTER_BORDER)))


def qr_image(payload: str, ec: str, size: int, width: int, align: str = "center") -> Image.Image:
    """A QR code drawn with ``size``-dot modules on a white strip ``width`` dots wide."""
    code = qrcode.QRCode(error_correction=_QRCODE_LEVELS[ec], box_size=size, border=QR_RASTER_BORDER)
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    symbol = code.make_image().get_image().convert("L")
    strip = Image.new("L", (width, symbol.height), 255)
    x = {"left": 0, "center": (width - symbol.width) // 2, "right": width - symbol.width}[align]
    strip.paste(symbol, (max(0, x), 0))
    return strip


def raster(image: Image.Image) -> bytes:
    """``GS v 0`` commands printing ``image`` (dark pixels print), split into fragments printers accept."""
    out = []
    # Threshold first so that anti-aliased edges print as solid dots instead of dithering speckle.
    mono = image.convert("L").point(lambda value: 0 if value < 128 else 255)
    for top in range(0, mono.height, RASTER_FRAGMENT_DOTS):
        fragment = EscposImage(mono.crop((0, top, mono.width, min(mono.height, top + RASTER_FRAGMENT_DOTS))))
        out.append(
            RASTER_IMAGE
            + b"\x00"
            + fragment.width_bytes.to_bytes(2, "little")
            + fragment.height.to_bytes(2, "little")
            + fragment.to_raster_format()
        )
    return b"".join(out)


# --------------------------------------------------------------------------------------------- status


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


def status_request(n: int) -> bytes:
    """``DLE EOT n``: ask for status ``n`` (1 printer, 2 offline cause, 3 error cause, 4 paper sensor)."""
    if n not in (1, 2, 3, 4):
        raise CodecError(f"DLE EOT takes n = 1, 2, 3 or 4, got {n!r}")
    return RT_STATUS + bytes([n])


def decode_status(n: int, byte: int) -> PrinterStatus:
    """Decode the reply to ``DLE EOT n``; raises StatusProtocolError when it cannot be such a reply."""
    if n not in (1, 2, 3, 4):
        raise CodecError(f"DLE EOT takes n = 1, 2, 3 or 4, got {n!r}")
    if not isinstance(byte, int) or not 0 <= byte <= 0xFF:
        raise CodecError(f"a status reply is one byte (0-255), got {byte!r}")
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
    if n not in (1, 2, 3, 4):
        raise CodecError(f"DLE EOT takes n = 1, 2, 3 or 4, got {n!r}")
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
    if not isinstance(byte, int) or not 0 <= byte <= 0xFF:
        raise CodecError(f"a status reply is one byte (0-255), got {byte!r}")
    if byte & 0x90:
        raise StatusProtocolError(f"0x{byte:02X} is not a reply to GS r 1: bits 4 and 7 must be clear")
    return bool(byte & 0x03), bool(byte & 0x0C)


def encode_paper_sensor(near_end: bool, paper_out: bool) -> int:
    """The byte a printer answers to ``GS r 1``."""
    return (0x03 if near_end else 0) | (0x0C if paper_out else 0)
