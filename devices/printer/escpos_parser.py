"""Incremental ESC/POS parser: bytes in any chunking -> :mod:`devices.printer.escpos_events`.

Bytes it cannot make sense of become :class:`Unknown` events with the offset and the reason, and parsing resumes at
the next byte.
"""

from __future__ import annotations

from typing import Any

from devices.printer.escpos_events import Control, Event, LineFeed, QRData, Raster, StatusQuery, Text, Unknown

MAX_RASTER_WIDTH_BYTES = 256  # 2048 dots: wider than any roll printer, so a larger header is corruption
MAX_RASTER_HEIGHT = 4096

_CODEPAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252", 17: "cp866", 18: "cp852"}

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
