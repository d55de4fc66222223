"""Read an ESC/POS byte stream back: what a printer would do with it, as text and as a picture.

Written independently of :mod:`devices.printer.codec` (it shares no code with it) so that tests which render a
ticket and read it back here check the bytes, not the codec against itself. The simulator prints with it too.

* :class:`EscPosParser` is incremental: feed it bytes as they arrive, in any chunking, and it emits events
  (text, line feeds, formatting commands, raster images, QR data, status requests). Bytes it cannot make sense
  of become :class:`Unknown` events with the offset and the reason, and parsing resumes at the next byte.
* :class:`TicketAssembler` applies events like a printer: it tracks the print mode, lays out lines, measures the
  paper each one uses, and closes a :class:`Ticket` at every cut.
* A :class:`Ticket` gives a plain text (GB18030 decoded), an annotated transcript, the QR payloads, and a PNG
  drawn with the CJK font where native QR codes are re-generated as images, so a scanner can read them back.
"""

from __future__ import annotations

import functools
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

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

_CJK_FONT = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 7)  # Noto Sans Mono CJK SC
_TIBETAN_FONT = ("/usr/share/fonts/truetype/tibetan-machine/TibetanMachineUni.ttf", 0)

CELL_DOTS = 12  # single-byte character cell of font A on a 203-dpi printer; double-byte cells are 24
CHAR_HEIGHT_DOTS = 24
DEFAULT_LINE_SPACING = 34  # ESC 2: 1/6 inch
MAX_RASTER_WIDTH_BYTES = 256  # 2048 dots: wider than any roll printer, so a larger header is corruption
MAX_RASTER_HEIGHT = 4096

_CODEPAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252", 17: "cp866", 18: "cp852"}


# --------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Text:
    """Printable characters, decoded."""

    text: str
    offset: int = 0


@dataclass(frozen=True)
class LineFeed:
    """LF: print the line buffer and move to the next line."""

    offset: int = 0


@dataclass(frozen=True)
class Control:
    """A recognised command: ``name`` says which (``align``, ``bold``, ``size``, ``cut``...), ``value`` its
    parameter."""

    name: str
    value: Any = None
    offset: int = 0


@dataclass(frozen=True)
class Raster:
    """``GS v 0``: a raster bit image, ``width_bytes`` * 8 dots wide, rows of packed bits, 1 = black."""

    mode: int
    width_bytes: int
    height: int
    data: bytes
    offset: int = 0

    def image(self) -> Image.Image:
        """The image as black text/graphics on white, mode L."""
        bits = Image.frombytes("1", (self.width_bytes * 8, self.height), self.data)
        return bits.convert("L").point(lambda value: 255 - value)


@dataclass(frozen=True)
class QRData:
    """``GS ( k`` store: the data for the next QR print."""

    data: bytes
    offset: int = 0


@dataclass(frozen=True)
class StatusQuery:
    """A request the printer answers: ``dle_eot`` (real time, n = 1-4) or ``gs_r`` (in buffer order)."""

    command: str
    n: int
    offset: int = 0


@dataclass(frozen=True)
class Unknown:
    """Bytes that are not a valid command or character; parsing resumed after them."""

    data: bytes
    reason: str
    offset: int = 0


Event = Text | LineFeed | Control | Raster | QRData | StatusQuery | Unknown


# --------------------------------------------------------------------------------------------- parser

_NEED_MORE = object()

# ESC x commands with a fixed number of parameter bytes, and the name they go by.
_ESC_FIXED: dict[int, tuple[int, str]] = {
    ord("@"): (0, "init"),
    ord("!"): (1, "print_mode"),
    ord("E"): (1, "bold"),
    ord("G"): (1, "double_strike"),
    ord("-"): (1, "underline"),
    ord("a"): (1, "align"),
    ord("d"): (1, "feed_lines"),
    ord("J"): (1, "feed_dots"),
    ord("M"): (1, "font"),
    ord("t"): (1, "codepage"),
    ord("2"): (0, "line_spacing_default"),
    ord("3"): (1, "line_spacing"),
    ord("{"): (1, "upside_down"),
    ord("V"): (1, "rotate"),
    ord("R"): (1, "charset"),
    ord(" "): (1, "char_spacing"),
    ord("p"): (3, "drawer_kick"),
    ord("B"): (2, "buzzer"),
    ord("e"): (1, "reverse_feed"),
    ord("$"): (2, "absolute_position"),
    ord("\\"): (2, "relative_position"),
    ord("r"): (1, "color"),
    ord("="): (1, "peripheral"),
    ord("L"): (0, "page_mode"),
    ord("S"): (0, "standard_mode"),
    ord("T"): (1, "page_direction"),
    ord("U"): (1, "unidirectional"),
    ord("i"): (0, "cut_full_legacy"),
    ord("m"): (0, "cut_partial_legacy"),
    ord("<"): (0, "return_home"),
    ord("u"): (1, "drawer_status"),
    ord("c"): (2, "panel_or_sensor"),
}
_GS_FIXED: dict[int, tuple[int, str]] = {
    ord("!"): (1, "size"),
    ord("B"): (1, "invert"),
    ord("H"): (1, "hri_position"),
    ord("h"): (1, "barcode_height"),
    ord("w"): (1, "barcode_width"),
    ord("f"): (1, "hri_font"),
    ord("a"): (1, "auto_status_back"),
    ord("b"): (1, "smoothing"),
    ord("|"): (1, "density"),
    ord("L"): (2, "left_margin"),
    ord("W"): (2, "print_width"),
    ord("P"): (2, "motion_units"),
    ord("I"): (1, "printer_id"),
    ord("$"): (2, "absolute_vertical"),
    ord("\\"): (2, "relative_vertical"),
    ord("/"): (1, "print_downloaded_image"),
    ord(":"): (0, "macro"),
    ord("^"): (3, "run_macro"),
}
_FS_FIXED: dict[int, tuple[int, str]] = {
    ord("&"): (0, "chinese_on"),
    ord("."): (0, "chinese_off"),
    ord("!"): (1, "chinese_mode"),
    ord("-"): (1, "chinese_underline"),
    ord("C"): (1, "chinese_code_system"),
    ord("W"): (1, "chinese_quad"),
    ord("S"): (2, "chinese_spacing"),
    ord("p"): (2, "print_nv_image"),
}


class EscPosParser:
    """Incremental ESC/POS parser; ``chinese`` is the mode the printer boots in (Chinese printers: on)."""

    def __init__(self, *, chinese: bool = True) -> None:
        self.chinese = chinese
        self.codepage = "cp437"
        self._buffer = bytearray()
        self._offset = 0  # stream offset of _buffer[0]

    @property
    def pending(self) -> int:
        """Bytes held back because the command or character they start is not complete yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Event]:
        """Parse what ``data`` completes; an incomplete command at the end waits for the next call."""
        self._buffer += data
        events: list[Event] = []
        position = 0
        buffer = bytes(self._buffer)
        while position < len(buffer):
            result = self._parse_one(buffer, position)
            if result is _NEED_MORE:
                break
            event, position = result
            events.append(event)
        del self._buffer[:position]
        self._offset += position
        return events

    def flush(self) -> list[Event]:
        """End of stream: report a trailing incomplete command as truncated."""
        if not self._buffer:
            return []
        event = Unknown(bytes(self._buffer), "stream ended inside a command or character", self._offset)
        self.reset_input()
        return [event]

    def reset_input(self) -> None:
        """Drop an incomplete command (the connection it came on is gone); the print mode is kept."""
        self._offset += len(self._buffer)
        self._buffer.clear()

    # Each _parse_* returns (event, next position) or _NEED_MORE.

    def _parse_one(self, buf: bytes, i: int) -> Any:
        byte = buf[i]
        at = self._offset + i
        if byte == 0x0A:
            return LineFeed(at), i + 1
        if byte == 0x0D:
            return Control("carriage_return", None, at), i + 1
        if byte == 0x09:
            return Control("tab", None, at), i + 1
        if byte == 0x0C:
            return Control("form_feed", None, at), i + 1
        if byte == 0x1B:
            return self._parse_esc(buf, i, at)
        if byte == 0x1D:
            return self._parse_gs(buf, i, at)
        if byte == 0x1C:
            return self._parse_fs(buf, i, at)
        if byte == 0x10:
            return self._parse_dle(buf, i, at)
        if byte >= 0x20 and byte != 0x7F:
            return self._parse_text(buf, i, at)
        return Unknown(bytes([byte]), f"control byte 0x{byte:02X} has no meaning here", at), i + 1

    def _parse_text(self, buf: bytes, i: int, at: int) -> Any:
        chars: list[str] = []
        j = i
        while j < len(buf):
            byte = buf[j]
            if 0x20 <= byte < 0x7F:
                chars.append(chr(byte))
                j += 1
                continue
            if byte < 0x80:
                break
            if not self.chinese:
                chars.append(bytes([byte]).decode(self.codepage, errors="replace"))
                j += 1
                continue
            length = _gb18030_length(buf, j)
            if length is _NEED_MORE:
                if chars:
                    break
                return _NEED_MORE
            if length is None:
                if chars:
                    break
                return Unknown(bytes([byte]), f"0x{byte:02X} does not start a GB18030 character", at), i + 1
            try:
                chars.append(buf[j : j + length].decode("gb18030"))
            except UnicodeDecodeError:
                if chars:
                    break
                return Unknown(buf[j : j + length], "invalid GB18030 character", at), j + length
            j += length
        return Text("".join(chars), at), j

    def _fixed(self, buf: bytes, i: int, at: int, prefix: str, table: dict[int, tuple[int, str]]) -> Any:
        if i + 1 >= len(buf):
            return _NEED_MORE
        code = buf[i + 1]
        if code not in table:
            shown = chr(code) if 0x20 < code < 0x7F else f"0x{code:02X}"
            return Unknown(buf[i : i + 2], f"unknown command {prefix} {shown}", at), i + 2
        count, name = table[code]
        end = i + 2 + count
        if end > len(buf):
            return _NEED_MORE
        params = buf[i + 2 : end]
        value: Any = params[0] if count == 1 else (tuple(params) if count else None)
        return self._control(name, value, at), end

    def _control(self, name: str, value: Any, at: int) -> Event:
        # Mode changes that decide how the following bytes decode take effect here, in the parser.
        if name == "chinese_on":
            self.chinese = True
        elif name == "chinese_off":
            self.chinese = False
        elif name == "codepage":
            self.codepage = _CODEPAGES.get(value, "cp437")
        return Control(name, value, at)

    def _parse_esc(self, buf: bytes, i: int, at: int) -> Any:
        if i + 1 >= len(buf):
            return _NEED_MORE
        code = buf[i + 1]
        if code == ord("*"):  # ESC * m nL nH d...: column bit image
            if i + 5 > len(buf):
                return _NEED_MORE
            mode, width = buf[i + 2], buf[i + 3] | buf[i + 4] << 8
            if mode not in (0, 1, 32, 33):
                return Unknown(buf[i : i + 2], f"ESC * with invalid mode {mode}", at), i + 2
            end = i + 5 + width * (3 if mode >= 32 else 1)
            return (Control("column_image", (mode, width), at), end) if end <= len(buf) else _NEED_MORE
        if code == ord("D"):  # ESC D n1 ... NUL: tab stops
            end = buf.find(b"\x00", i + 2, i + 2 + 33)
            if end < 0:
                if len(buf) - i < 35:
                    return _NEED_MORE
                return Unknown(buf[i : i + 2], "ESC D without the closing NUL", at), i + 2
            return Control("tab_stops", tuple(buf[i + 2 : end]), at), end + 1
        if code == ord("v"):  # ESC v: transmit paper sensor status (older form of GS r 1)
            return StatusQuery("gs_r", 1, at), i + 2
        return self._fixed(buf, i, at, "ESC", _ESC_FIXED)

    def _parse_gs(self, buf: bytes, i: int, at: int) -> Any:
        if i + 1 >= len(buf):
            return _NEED_MORE
        code = buf[i + 1]
        if code == ord("V"):
            if i + 3 > len(buf):
                return _NEED_MORE
            mode = buf[i + 2]
            if mode in (0, 1, 48, 49):
                return Control("cut", "partial" if mode in (1, 49) else "full", at), i + 3
            if mode in (65, 66, 97, 98, 103, 104):
                if i + 4 > len(buf):
                    return _NEED_MORE
                return Control("cut", "partial" if mode % 2 == 0 else "full", at), i + 4
            return Unknown(buf[i : i + 3], f"GS V with invalid cut mode {mode}", at), i + 3
        if code == ord("v"):
            return self._parse_raster(buf, i, at)
        if code == ord("("):
            return self._parse_gs_paren(buf, i, at)
        if code == ord("r"):
            if i + 3 > len(buf):
                return _NEED_MORE
            n = buf[i + 2]
            if n in (1, 2, 49, 50):
                return StatusQuery("gs_r", n & 0x0F, at), i + 3
            return Unknown(buf[i : i + 3], f"GS r with invalid n {n}", at), i + 3
        if code == ord("k"):
            return self._parse_barcode(buf, i, at)
        if code == ord("*"):  # GS * x y d...: define downloaded bit image
            if i + 4 > len(buf):
                return _NEED_MORE
            end = i + 4 + buf[i + 2] * buf[i + 3] * 8
            return (Control("define_image", (buf[i + 2], buf[i + 3]), at), end) if end <= len(buf) else _NEED_MORE
        return self._fixed(buf, i, at, "GS", _GS_FIXED)

    def _parse_raster(self, buf: bytes, i: int, at: int) -> Any:
        if i + 8 > len(buf):
            return _NEED_MORE
        if buf[i + 2] not in (0, ord("0")):
            return Unknown(buf[i : i + 3], f"GS v with invalid function 0x{buf[i + 2]:02X}", at), i + 3
        mode = buf[i + 3]
        width_bytes = buf[i + 4] | buf[i + 5] << 8
        height = buf[i + 6] | buf[i + 7] << 8
        if mode not in (0, 1, 2, 3, 48, 49, 50, 51) or not (
            0 < width_bytes <= MAX_RASTER_WIDTH_BYTES and 0 < height <= MAX_RASTER_HEIGHT
        ):
            reason = f"GS v 0 header is implausible (mode {mode}, {width_bytes} bytes x {height} rows)"
            return Unknown(buf[i : i + 8], reason, at), i + 8
        end = i + 8 + width_bytes * height
        if end > len(buf):
            return _NEED_MORE
        return Raster(mode & 0x03, width_bytes, height, buf[i + 8 : end], at), end

    def _parse_gs_paren(self, buf: bytes, i: int, at: int) -> Any:
        if i + 5 > len(buf):
            return _NEED_MORE
        function = chr(buf[i + 2])
        length = buf[i + 3] | buf[i + 4] << 8
        end = i + 5 + length
        if end > len(buf):
            return _NEED_MORE
        body = buf[i + 5 : end]
        if function != "k":
            return Control(f"gs_paren_{function}" if function.isalpha() else "gs_paren", len(body), at), end
        if len(body) < 2:
            return Unknown(buf[i:end], "GS ( k with no function", at), end
        symbol, fn, args = body[0], body[1], body[2:]
        if symbol != 0x31:
            return Control("2d_code", (symbol, fn), at), end
        if fn == 65 and len(args) >= 1:
            return Control("qr_model", args[0] - 48, at), end
        if fn == 67 and len(args) >= 1:
            return Control("qr_size", args[0], at), end
        if fn == 69 and len(args) >= 1:
            return Control("qr_ec", "LMQH"[args[0] - 48] if 48 <= args[0] <= 51 else None, at), end
        if fn == 80 and len(args) >= 1:
            return QRData(bytes(args[1:]), at), end
        if fn == 81:
            return Control("qr_print", None, at), end
        return Control("qr_other", fn, at), end

    def _parse_barcode(self, buf: bytes, i: int, at: int) -> Any:
        if i + 3 > len(buf):
            return _NEED_MORE
        kind = buf[i + 2]
        if kind <= 6:
            end = buf.find(b"\x00", i + 3, i + 3 + 256)
            if end < 0:
                return _NEED_MORE if len(buf) - i < 259 else (Unknown(buf[i : i + 3], "GS k without NUL", at), i + 3)
            return Control("barcode", (kind, bytes(buf[i + 3 : end])), at), end + 1
        if 65 <= kind <= 78:
            if i + 4 > len(buf):
                return _NEED_MORE
            end = i + 4 + buf[i + 3]
            if end > len(buf):
                return _NEED_MORE
            return Control("barcode", (kind, bytes(buf[i + 4 : end])), at), end
        return Unknown(buf[i : i + 3], f"GS k with invalid barcode system {kind}", at), i + 3

    def _parse_fs(self, buf: bytes, i: int, at: int) -> Any:
        if i + 1 >= len(buf):
            return _NEED_MORE
        if buf[i + 1] == ord("2"):  # FS 2 c1 c2 d1..d72: define a user Chinese character
            end = i + 4 + 72
            return (Control("define_chinese_char", None, at), end) if end <= len(buf) else _NEED_MORE
        return self._fixed(buf, i, at, "FS", _FS_FIXED)

    def _parse_dle(self, buf: bytes, i: int, at: int) -> Any:
        if i + 2 >= len(buf):
            return _NEED_MORE
        code, n = buf[i + 1], buf[i + 2]
        if code == 0x04:
            if n in (1, 2, 3, 4):
                return StatusQuery("dle_eot", n, at), i + 3
            return Unknown(buf[i : i + 3], f"DLE EOT with unsupported n {n}", at), i + 3
        if code == 0x05:
            return Control("realtime_request", n, at), i + 3
        if code == 0x14:
            if i + 5 > len(buf):
                return _NEED_MORE
            return Control("realtime_pulse", tuple(buf[i + 2 : i + 5]), at), i + 5
        return Unknown(bytes([0x10]), "DLE not followed by EOT, ENQ or DC4", at), i + 1


def _gb18030_length(buf: bytes, j: int) -> Any:
    """Length of the GB18030 character starting at ``buf[j]`` (a byte >= 0x80), None if invalid."""
    lead = buf[j]
    if not 0x81 <= lead <= 0xFE:
        return None
    if j + 1 >= len(buf):
        return _NEED_MORE
    second = buf[j + 1]
    if 0x40 <= second <= 0xFE and second != 0x7F:
        return 2
    if 0x30 <= second <= 0x39:
        if j + 3 >= len(buf):
            return _NEED_MORE
        if 0x81 <= buf[j + 2] <= 0xFE and 0x30 <= buf[j + 3] <= 0x39:
            return 4
    return None


# --------------------------------------------------------------------------------------------- assembly


@dataclass(frozen=True)
class Segment:
    """A run of text in one print mode."""

    text: str
    width: int  # width multiplier
    height: int  # height multiplier
    bold: bool


@dataclass(frozen=True)
class TextLine:
    segments: tuple[Segment, ...]
    align: str
    height_dots: int

    @property
    def text(self) -> str:
        return "".join(segment.text for segment in self.segments)

    def describe(self) -> str:
        marks = [self.align]
        sizes = {(s.width, s.height) for s in self.segments if s.text.strip()}
        if any(s.bold for s in self.segments if s.text.strip()):
            marks.append("bold")
        marks += [f"{w}x{h}" for w, h in sorted(sizes) if (w, h) != (1, 1)]
        return f"[{' '.join(marks)}] {self.text}" if self.text else ""


@dataclass(frozen=True)
class ImageItem:
    image: Image.Image
    align: str
    height_dots: int

    def describe(self) -> str:
        return f"[image {self.image.width}x{self.image.height}]"


@dataclass(frozen=True)
class QRItem:
    payload: str
    module_dots: int
    ec: str
    align: str
    height_dots: int

    def describe(self) -> str:
        return f"[qr {self.ec} x{self.module_dots}] {self.payload}"


@dataclass(frozen=True)
class Space:
    height_dots: int
    note: str = ""

    def describe(self) -> str:
        return f"[{self.note}]" if self.note else ""


Item = TextLine | ImageItem | QRItem | Space


@dataclass
class Ticket:
    """What the printer put on paper between two cuts."""

    index: int
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # unknown bytes and other problems, with offsets
    cut: str | None = None  # "full", "partial", or None when the ticket never got its cut
    paper_width_dots: int = 576

    @property
    def complete(self) -> bool:
        return self.cut is not None

    @property
    def text(self) -> str:
        """The printed text, one line per printed line (images and QR codes left out)."""
        return "\n".join(item.text for item in self.items if isinstance(item, TextLine))

    @property
    def lines(self) -> list[str]:
        return [item.text for item in self.items if isinstance(item, TextLine)]

    @property
    def qr_payloads(self) -> list[str]:
        return [item.payload for item in self.items if isinstance(item, QRItem)]

    @property
    def images(self) -> list[Image.Image]:
        return [item.image for item in self.items if isinstance(item, ImageItem)]

    @property
    def height_dots(self) -> int:
        return sum(item.height_dots for item in self.items)

    @property
    def transcript(self) -> str:
        """Text lines with their print mode, images, QR codes, the cut and any unknown bytes."""
        out = [line for item in self.items if (line := item.describe())]
        out.append(f"[cut {self.cut}]" if self.cut else "[no cut]")
        out += [f"[! {note}]" for note in self.notes]
        return "\n".join(out)

    def render(self, margin: int = 16) -> Image.Image:
        """The ticket as it would look on paper (mode L, white paper, ``margin`` px white border)."""
        width = self.paper_width_dots
        page = Image.new("L", (width + 2 * margin, self.height_dots + 2 * margin), 255)
        y = margin
        for item in self.items:
            if isinstance(item, TextLine):
                _draw_line(page, item, margin, y, width)
            elif isinstance(item, ImageItem):
                page.paste(item.image, (margin + _x_for(item.align, item.image.width, width), y))
            elif isinstance(item, QRItem):
                symbol = _qr_symbol(item.payload, item.ec, item.module_dots)
                page.paste(symbol, (margin + _x_for(item.align, symbol.width, width), y))
            y += item.height_dots
        return page

    def png(self) -> bytes:
        """:meth:`render` as PNG bytes."""
        buffer = io.BytesIO()
        self.render().save(buffer, format="PNG", optimize=False)
        return buffer.getvalue()


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
        modules = _qr_modules(payload, self.qr_ec)
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


# --------------------------------------------------------------------------------------------- drawing


@functools.lru_cache(maxsize=16)
def _font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    path, index = _TIBETAN_FONT if kind == "tibetan" else _CJK_FONT
    return ImageFont.truetype(path, size, index=index, layout_engine=ImageFont.Layout.RAQM)


def _runs(text: str) -> Iterable[tuple[str, str]]:
    runs: list[tuple[str, str]] = []
    for char in text:
        kind = "tibetan" if "\u0f00" <= char <= "\u0fff" else "cjk"
        if runs and (runs[-1][0] == kind or unicodedata.combining(char)):
            runs[-1] = (runs[-1][0], runs[-1][1] + char)
        else:
            runs.append((kind, char))
    return runs


def _cells(text: str) -> int:
    return sum(1 if ord(char) < 0x80 else 2 for char in text)


def _x_for(align: str, item_width: int, paper_width: int) -> int:
    return {"center": (paper_width - item_width) // 2, "right": paper_width - item_width}.get(align, 0)


def _draw_line(page: Image.Image, line: TextLine, left: int, top: int, paper_width: int) -> None:
    width = sum(_cells(s.text) * CELL_DOTS * s.width for s in line.segments)
    x = left + max(0, _x_for(line.align, width, paper_width))
    baseline = top + line.height_dots - 6  # descenders sit in the line spacing below the 24-dot cell
    for segment in line.segments:
        cell_width = _cells(segment.text) * CELL_DOTS
        if not cell_width:
            continue
        # Draw at normal size on a strip, then stretch it by the print mode's multipliers, as the printer does.
        strip = Image.new("L", (cell_width + 8, CHAR_HEIGHT_DOTS + 8), 255)
        draw = ImageDraw.Draw(strip)
        pen = 0.0
        for kind, run in _runs(segment.text):
            font = _font(kind, CHAR_HEIGHT_DOTS)
            draw.text((pen, CHAR_HEIGHT_DOTS), run, font=font, fill=0, anchor="ls", stroke_width=int(segment.bold))
            pen += _cells(run) * CELL_DOTS
        stretched = strip.resize(
            (strip.width * segment.width, strip.height * segment.height), Image.Resampling.NEAREST
        )
        page.paste(stretched, (x, baseline - CHAR_HEIGHT_DOTS * segment.height), mask=_ink(stretched))
        x += cell_width * segment.width


def _ink(image: Image.Image) -> Image.Image:
    return image.point(lambda value: 255 - value)


def _qr_code(payload: str, ec: str, box: int, border: int) -> qrcode.QRCode:
    levels = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
    code = qrcode.QRCode(error_correction=levels.get(ec, qrcode.constants.ERROR_CORRECT_L), box_size=box, border=border)
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    return code


def _qr_modules(payload: str, ec: str) -> int:
    levels = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
    code = qrcode.QRCode(error_correction=levels.get(ec, qrcode.constants.ERROR_CORRECT_L))
    code.add_data(payload.encode("utf-8"))
    return code.best_fit() * 4 + 17


def _qr_symbol(payload: str, ec: str, module_dots: int) -> Image.Image:
    return _qr_code(payload, ec, module_dots, 0).make_image().get_image().convert("L")
