"""The window-top LED screen frame protocol (see PROTOCOL.md beside this file): pure bytes <-> values, no I/O.

Frame: ``02 | ADDR | SEQ | CMD | LEN_H LEN_L | PAYLOAD | CRC_L CRC_H | 03``; the CRC-16/MODBUS covers ADDR up to
the end of PAYLOAD and is sent low byte first, as Modbus RTU does. Text is GB18030.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from enum import IntEnum

from devices.common.crc import crc16_modbus

STX = 0x02
ETX = 0x03
BROADCAST = 0xFF
MIN_ADDRESS = 1
MAX_ADDRESS = 254
HEADER_LEN = 6  # STX ADDR SEQ CMD LEN_H LEN_L
OVERHEAD = HEADER_LEN + 3  # + CRC_L CRC_H ETX
MAX_PAYLOAD = 1024
MAX_LINES = 16
MAX_LINE_BYTES = 255
TEXT_ENCODING = "gb18030"


class Command(IntEnum):
    SHOW = 0x10
    CLEAR = 0x11
    BRIGHTNESS = 0x12
    STATUS = 0x13
    ACK = 0x06
    NAK = 0x15


REPLY_COMMANDS = (Command.ACK, Command.NAK)


class NakCode(IntEnum):
    UNKNOWN_COMMAND = 0x01
    BAD_PAYLOAD = 0x02
    BAD_TEXT = 0x03
    OUT_OF_RANGE = 0x04
    TOO_LONG = 0x05
    BUSY = 0x06


NAK_MEANING = {
    NakCode.UNKNOWN_COMMAND: "the screen does not know this command",
    NakCode.BAD_PAYLOAD: "the payload is malformed (lengths, counts or duplicate rows)",
    NakCode.BAD_TEXT: "a text field is not valid GB18030",
    NakCode.OUT_OF_RANGE: "a value is out of range (row beyond the screen, brightness over 100, unknown colour)",
    NakCode.TOO_LONG: "a non-scrolling line is wider than the screen",
    NakCode.BUSY: "the screen is busy; try again",
}


class Role(IntEnum):
    """What a line means, so a screen (or the simulator's log) can treat the staff name as personal data."""

    TEXT = 0
    WINDOW = 1
    TICKET = 2
    STAFF = 3
    STATUS = 4


class Color(IntEnum):
    RED = 0
    GREEN = 1
    AMBER = 2


ATTR_SCROLL = 0x01
ATTR_BLINK = 0x02
ATTR_COLOR_SHIFT = 4
ATTR_COLOR_MASK = 0x30


class CodecError(ValueError):
    """Values that cannot be put into (or taken out of) a frame; the message says which and why."""


class PayloadError(CodecError):
    """A payload a screen must refuse; ``code`` is the NAK code it answers with."""

    def __init__(self, code: NakCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def display_width(text: str) -> int:
    """Columns the text takes on the screen: CJK and full-width characters take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


@dataclass(frozen=True)
class Line:
    """One row of the screen."""

    row: int
    text: str
    role: Role = Role.TEXT
    scroll: bool = False
    blink: bool = False
    color: Color = Color.RED


@dataclass(frozen=True)
class ScreenContent:
    """Everything a screen shows at once; rows not listed are blank."""

    lines: tuple[Line, ...] = field(default_factory=tuple)

    @classmethod
    def for_window(
        cls,
        window: str | int,
        ticket: str | None = None,
        staff: str | None = None,
        status: str | None = None,
        notice: str | None = None,
    ) -> ScreenContent:
        """The usual window-top layout: window, ticket being served, staff name, then status or a scrolling notice."""
        lines = [Line(0, f"{window}号窗口" if isinstance(window, int) else window, Role.WINDOW, color=Color.GREEN)]
        if ticket:
            lines.append(Line(1, ticket, Role.TICKET, blink=True, color=Color.AMBER))
        if staff:
            lines.append(Line(2, staff, Role.STAFF))
        if status:
            lines.append(Line(3, status, Role.STATUS, color=Color.RED))
        elif notice:
            lines.append(Line(3, notice, Role.TEXT, scroll=True, color=Color.GREEN))
        return cls(tuple(lines))

    def line_at(self, row: int) -> Line | None:
        return next((line for line in self.lines if line.row == row), None)


@dataclass(frozen=True)
class ScreenStatus:
    """What a screen reports on STATUS: its geometry, brightness, health flags and how many lines it shows."""

    rows: int
    cols: int
    brightness: int
    flags: int = 0
    lines_shown: int = 0

    FLAG_MODULE_FAULT = 0x01  # some LED module does not light
    FLAG_OVERHEAT = 0x02

    @property
    def healthy(self) -> bool:
        return self.flags == 0


@dataclass(frozen=True)
class Frame:
    address: int
    seq: int
    command: int
    payload: bytes = b""


@dataclass(frozen=True)
class Rejected:
    """Bytes the decoder threw away, and why (noise, a CRC mismatch, a truncated frame...)."""

    reason: str
    data: bytes


def encode_frame(frame: Frame) -> bytes:
    """The bytes on the wire for one frame."""
    if not (MIN_ADDRESS <= frame.address <= BROADCAST):
        raise CodecError(f"address {frame.address} is out of range; allowed 1..254, or 255 for broadcast")
    if not (0 <= frame.seq <= 0xFF):
        raise CodecError(f"sequence number {frame.seq} does not fit in one byte (0..255)")
    if not (0 <= frame.command <= 0xFF):
        raise CodecError(f"command {frame.command} does not fit in one byte")
    if len(frame.payload) > MAX_PAYLOAD:
        raise CodecError(f"payload of {len(frame.payload)} bytes is over the {MAX_PAYLOAD}-byte limit")
    body = bytes([frame.address, frame.seq, frame.command]) + len(frame.payload).to_bytes(2, "big") + frame.payload
    crc = crc16_modbus(body)
    return bytes([STX]) + body + crc.to_bytes(2, "little") + bytes([ETX])


def encode_line(line: Line) -> bytes:
    try:
        text = line.text.encode(TEXT_ENCODING)
    except UnicodeEncodeError as exc:
        raise CodecError(f"row {line.row}: {line.text!r} cannot be encoded as GB18030: {exc.reason}") from exc
    if len(text) > MAX_LINE_BYTES:
        raise CodecError(f"row {line.row}: text is {len(text)} bytes in GB18030; at most {MAX_LINE_BYTES}")
    if not (0 <= line.row <= 0xFF):
        raise CodecError(f"row {line.row} is out of range 0..255")
    attr = (ATTR_SCROLL if line.scroll else 0) | (ATTR_BLINK if line.blink else 0)
    attr |= (int(Color(line.color)) << ATTR_COLOR_SHIFT) & ATTR_COLOR_MASK
    return bytes([line.row, int(Role(line.role)), attr, len(text)]) + text


def encode_show_payload(content: ScreenContent) -> bytes:
    if len(content.lines) > MAX_LINES:
        raise CodecError(f"{len(content.lines)} lines; a SHOW carries at most {MAX_LINES}")
    rows = [line.row for line in content.lines]
    if len(set(rows)) != len(rows):
        raise CodecError(f"two lines for the same row in {sorted(rows)}; one line per row")
    payload = bytes([len(content.lines)]) + b"".join(encode_line(line) for line in content.lines)
    if len(payload) > MAX_PAYLOAD:
        raise CodecError(f"SHOW payload is {len(payload)} bytes; at most {MAX_PAYLOAD}")
    return payload


def decode_show_payload(payload: bytes) -> ScreenContent:
    """The lines in a SHOW payload; raises PayloadError with the NAK code a screen would answer."""
    if not payload:
        raise PayloadError(NakCode.BAD_PAYLOAD, "SHOW payload is empty; it starts with the line count")
    count = payload[0]
    if count > MAX_LINES:
        raise PayloadError(NakCode.BAD_PAYLOAD, f"line count {count} is over {MAX_LINES}")
    lines: list[Line] = []
    pos = 1
    for index in range(count):
        if pos + 4 > len(payload):
            raise PayloadError(NakCode.BAD_PAYLOAD, f"line {index + 1} of {count}: header cut short")
        row, role, attr, length = payload[pos : pos + 4]
        pos += 4
        if pos + length > len(payload):
            raise PayloadError(NakCode.BAD_PAYLOAD, f"line {index + 1}: text of {length} bytes is cut short")
        raw = payload[pos : pos + length]
        pos += length
        try:
            text = raw.decode(TEXT_ENCODING)
        except UnicodeDecodeError as exc:
            raise PayloadError(NakCode.BAD_TEXT, f"row {row}: text is not valid GB18030 ({exc.reason})") from exc
        if role not in Role._value2member_map_:
            raise PayloadError(NakCode.OUT_OF_RANGE, f"row {row}: role {role} unknown; allowed 0..4")
        color = (attr & ATTR_COLOR_MASK) >> ATTR_COLOR_SHIFT
        if color not in Color._value2member_map_:
            raise PayloadError(NakCode.OUT_OF_RANGE, f"row {row}: colour {color} unknown; allowed 0 red, 1 green, 2 amber")
        if any(line.row == row for line in lines):
            raise PayloadError(NakCode.BAD_PAYLOAD, f"row {row} appears twice")
        lines.append(Line(row, text, Role(role), bool(attr & ATTR_SCROLL), bool(attr & ATTR_BLINK), Color(color)))
    if pos != len(payload):
        raise PayloadError(NakCode.BAD_PAYLOAD, f"{len(payload) - pos} stray bytes after the last line")
    return ScreenContent(tuple(lines))


def encode_status(status: ScreenStatus) -> bytes:
    return bytes([status.rows, status.cols, status.brightness, status.flags, status.lines_shown])


def decode_status(data: bytes) -> ScreenStatus:
    if len(data) != 5:
        raise CodecError(f"STATUS data must be 5 bytes (rows, cols, brightness, flags, lines), got {len(data)}")
    return ScreenStatus(*data)


def show_request(address: int, seq: int, content: ScreenContent) -> Frame:
    return Frame(address, seq, Command.SHOW, encode_show_payload(content))


def clear_request(address: int, seq: int) -> Frame:
    return Frame(address, seq, Command.CLEAR)


def brightness_request(address: int, seq: int, percent: int) -> Frame:
    if not (0 <= percent <= 100):
        raise CodecError(f"brightness {percent}% is out of range; allowed 0..100")
    return Frame(address, seq, Command.BRIGHTNESS, bytes([percent]))


def status_request(address: int, seq: int) -> Frame:
    return Frame(address, seq, Command.STATUS)


def ack(address: int, seq: int, command: int, data: bytes = b"") -> Frame:
    return Frame(address, seq, Command.ACK, bytes([command]) + data)


def nak(address: int, seq: int, command: int, code: NakCode) -> Frame:
    return Frame(address, seq, Command.NAK, bytes([command, int(code)]))


def describe_nak(payload: bytes) -> tuple[int | None, int | None, str]:
    """(command, code, meaning) of a NAK payload, tolerant of a short one."""
    command = payload[0] if payload else None
    code = payload[1] if len(payload) > 1 else None
    if code is not None and code in NakCode._value2member_map_:
        meaning = NAK_MEANING[NakCode(code)]
    else:
        meaning = f"unknown error code {code}"
    return command, code, meaning


class FrameDecoder:
    """Streaming decoder: feed it whatever the line delivers; it returns whole frames and what it discarded.

    It hunts for the start byte, checks the header is plausible, waits for the announced length, then checks the
    end byte and the CRC. On any failure it drops only the start byte and hunts again, so a good frame hidden in
    or after garbage is still found. A frame whose announced length runs past the bytes received waits for more,
    unless a whole valid frame follows it (then it was a false start); :meth:`idle` (the line went quiet) gives
    up on it too and rescans what is left.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame | Rejected]:
        self._buf.extend(data)
        return self._scan(final=False)

    def idle(self) -> list[Frame | Rejected]:
        """The line has been quiet: nothing more belongs to a frame still waiting for bytes."""
        return self._scan(final=True)

    def _whole_frame_after(self, offset: int) -> bool:
        """Whether a complete, CRC-valid frame starts at or after ``offset``: then the unfinished candidate
        before it was a false start (real frames do not overlap), and waiting for its length would swallow it."""
        buf = self._buf
        start = buf.find(STX, offset)
        while start >= 0 and len(buf) - start >= OVERHEAD:
            length = int.from_bytes(buf[start + 4 : start + 6], "big")
            end = start + OVERHEAD + length
            if (
                buf[start + 1] != 0
                and length <= MAX_PAYLOAD
                and end <= len(buf)
                and buf[end - 1] == ETX
                and int.from_bytes(buf[end - 3 : end - 1], "little") == crc16_modbus(buf[start + 1 : end - 3])
            ):
                return True
            start = buf.find(STX, start + 1)
        return False

    def _scan(self, final: bool) -> list[Frame | Rejected]:
        out: list[Frame | Rejected] = []
        buf = self._buf
        while buf:
            start = buf.find(STX)
            if start < 0:
                out.append(Rejected(f"{len(buf)} bytes of noise with no start byte 0x02", bytes(buf)))
                buf.clear()
                break
            if start > 0:
                out.append(Rejected(f"{start} bytes of noise before a start byte", bytes(buf[:start])))
                del buf[:start]
            if len(buf) < HEADER_LEN:
                if final:
                    out.append(Rejected(f"frame cut short after {len(buf)} header bytes", bytes(buf)))
                    buf.clear()
                break
            address, length = buf[1], int.from_bytes(buf[4:6], "big")
            if address == 0 or length > MAX_PAYLOAD:
                why = "address 0" if address == 0 else f"length {length} over {MAX_PAYLOAD}"
                out.append(Rejected(f"implausible header ({why}); skipping this start byte", bytes(buf[:1])))
                del buf[:1]
                continue
            total = OVERHEAD + length
            if len(buf) < total:
                if not final and not self._whole_frame_after(1):
                    break
                out.append(Rejected(f"frame cut short: header announces {total} bytes, {len(buf)} arrived", bytes(buf[:1])))
                del buf[:1]
                continue
            if buf[total - 1] != ETX:
                out.append(Rejected(f"no end byte 0x03 at offset {total - 1}", bytes(buf[:1])))
                del buf[:1]
                continue
            sent = int.from_bytes(buf[total - 3 : total - 1], "little")
            computed = crc16_modbus(buf[1 : total - 3])
            if sent != computed:
                out.append(Rejected(f"CRC mismatch: frame says {sent:04X}, bytes give {computed:04X}", bytes(buf[:total])))
                del buf[:1]
                continue
            out.append(Frame(buf[1], buf[2], buf[3], bytes(buf[HEADER_LEN : total - 3])))
            del buf[:total]
        return out
