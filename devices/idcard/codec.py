"""Second-generation ID-card reader protocol (SAM frames) and the card's text block. Pure bytes <-> values.

Frame: ``AA AA AA 96 69 | LEN_H LEN_L | body | CHK``; LEN (big-endian) counts body + CHK; CHK is the XOR of
LEN_H, LEN_L and every body byte. Host -> reader body: ``CMD PARA [data]``; reader -> host body:
``SW1 SW2 SW3 [data]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from devices.idcard.errors import (
    ChecksumMismatch,
    FrameError,
    FrameTruncated,
    GarbageSkipped,
    LengthInvalid,
    Status,
)

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_SIZE = len(PREAMBLE) + 2
TEXT_SIZE = 256
PHOTO_SIZE = 1024
FINGERPRINT_SIZE = 1024
# The shortest body is a command's CMD PARA; the longest reply is text + photo + fingerprints (30 10).
MIN_LENGTH = 2 + 1
MAX_LENGTH = 3 + 6 + TEXT_SIZE + PHOTO_SIZE + FINGERPRINT_SIZE + 1


class Command(Enum):
    """Host commands as (CMD, PARA)."""

    RESET = (0x10, 0xFF)
    SAM_STATUS = (0x11, 0xFF)
    SAM_ID = (0x12, 0xFF)
    FIND_CARD = (0x20, 0x01)
    SELECT_CARD = (0x20, 0x02)
    READ_TEXT_PHOTO = (0x30, 0x01)
    READ_TEXT_PHOTO_FINGERPRINT = (0x30, 0x10)
    READ_APPENDED_ADDRESS = (0x30, 0x03)

    @classmethod
    def lookup(cls, cmd: int, para: int) -> Command | None:
        for member in cls:
            if member.value == (cmd, para):
                return member
        return None


def checksum(length_and_body: bytes | bytearray) -> int:
    """XOR of LEN_H, LEN_L and the body bytes."""
    result = 0
    for byte in length_and_body:
        result ^= byte
    return result


def encode_frame(body: bytes) -> bytes:
    """Wrap a body in preamble, length and checksum."""
    length = len(body) + 1
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(
            f"frame body of {len(body)} bytes: a body must be {MIN_LENGTH - 1}..{MAX_LENGTH - 1} bytes"
        )
    header = length.to_bytes(2, "big")
    return PREAMBLE + header + body + bytes([checksum(header + body)])


def encode_command(command: Command, data: bytes = b"") -> bytes:
    """A host -> reader frame, e.g. ``encode_command(Command.FIND_CARD)`` = ``AA AA AA 96 69 00 03 20 01 22``."""
    cmd, para = command.value
    return encode_frame(bytes([cmd, para]) + data)


def encode_reply(status: int, data: bytes = b"", sw1: int = 0x00, sw2: int = 0x00) -> bytes:
    """A reader -> host frame carrying SW1 SW2 SW3 and data."""
    return encode_frame(bytes([sw1, sw2, status]) + data)


@dataclass(frozen=True)
class Request:
    """A decoded host -> reader body."""

    cmd: int
    para: int
    data: bytes = b""

    @property
    def command(self) -> Command | None:
        return Command.lookup(self.cmd, self.para)


@dataclass(frozen=True)
class Reply:
    """A decoded reader -> host body."""

    sw1: int
    sw2: int
    sw3: int
    data: bytes = b""

    @property
    def status(self) -> Status | None:
        try:
            return Status(self.sw3)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return self.sw1 == 0 and self.sw2 == 0 and self.sw3 in (Status.OK, Status.CARD_FOUND)


@dataclass(frozen=True)
class Frame:
    """One checksum-valid frame's body."""

    body: bytes

    def encode(self) -> bytes:
        return encode_frame(self.body)

    def as_request(self) -> Request:
        if len(self.body) < 2:
            raise FrameError(f"a command body needs CMD and PARA, got {len(self.body)} byte(s)")
        return Request(self.body[0], self.body[1], self.body[2:])

    def as_reply(self) -> Reply:
        if len(self.body) < 3:
            raise FrameError(f"a reply body needs SW1 SW2 SW3, got {len(self.body)} byte(s)")
        return Reply(self.body[0], self.body[1], self.body[2], self.body[3:])

    def __repr__(self) -> str:
        # Read replies carry a whole card's personal data: show the shape, never the bytes.
        return f"Frame(<{len(self.body)} bytes, starts {self.body[:3].hex(' ')}>)"


class FrameDecoder:
    """Streaming decoder: feed bytes as they arrive, get frames and errors back; never raises on input.

    Resync rules: bytes before a preamble are skipped (reported once as GarbageSkipped); a header with an
    impossible length, or a frame whose checksum fails, is rejected and the search restarts one byte after
    its preamble, so a good frame hidden inside a bad one's span is still found. A frame left incomplete is
    only abandoned when the caller says the line went quiet (:meth:`idle`), because binary bodies (the
    photo) may themselves contain the preamble.
    """

    def __init__(self, max_length: int = MAX_LENGTH) -> None:
        self._buf = bytearray()
        self._max_length = max_length
        self._garbage = 0
        self._absorb = 0  # bytes after a rejected frame's first byte: already reported, not garbage

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget everything buffered (before sending a new command, stale bytes are worthless)."""
        self._buf.clear()
        self._garbage = 0
        self._absorb = 0

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        self._buf += data
        return self._scan()

    def idle(self) -> list[Frame | FrameError]:
        """The line went quiet: abandon any incomplete frame, rescan what followed it, flush skipped bytes."""
        out: list[Frame | FrameError] = []
        while self._buf.startswith(PREAMBLE):
            expected = None
            if len(self._buf) >= HEADER_SIZE:
                expected = HEADER_SIZE + int.from_bytes(self._buf[5:7], "big")
            self._flush_garbage(out)
            out.append(FrameTruncated(len(self._buf), expected))
            self._reject_first_byte(len(self._buf))
            out.extend(self._scan())
        self._skip(len(self._buf))
        self._flush_garbage(out)
        return out

    def _scan(self) -> list[Frame | FrameError]:
        out: list[Frame | FrameError] = []
        buf = self._buf
        while True:
            start = buf.find(PREAMBLE)
            if start < 0:
                # Keep a tail that may be the beginning of a preamble split across reads.
                keep = next((k for k in range(len(PREAMBLE) - 1, 0, -1) if buf.endswith(PREAMBLE[:k])), 0)
                self._skip(len(buf) - keep)
                return out
            self._skip(start)
            if len(buf) < HEADER_SIZE:
                return out
            length = int.from_bytes(buf[5:7], "big")
            if not MIN_LENGTH <= length <= self._max_length:
                self._flush_garbage(out)
                out.append(LengthInvalid(length, MIN_LENGTH, self._max_length))
                self._reject_first_byte(HEADER_SIZE)
                continue
            end = HEADER_SIZE + length
            if len(buf) < end:
                return out
            computed = checksum(buf[5 : end - 1])
            if computed != buf[end - 1]:
                self._flush_garbage(out)
                out.append(ChecksumMismatch(length, computed, buf[end - 1]))
                self._reject_first_byte(end)
                continue
            self._flush_garbage(out)
            out.append(Frame(bytes(buf[HEADER_SIZE : end - 1])))
            del buf[:end]
            self._absorb = 0

    def _skip(self, count: int) -> None:
        if count <= 0:
            return
        absorbed = min(count, self._absorb)
        self._absorb -= absorbed
        self._garbage += count - absorbed
        del self._buf[:count]

    def _reject_first_byte(self, span: int) -> None:
        del self._buf[:1]
        self._absorb = max(self._absorb, span - 1)

    def _flush_garbage(self, out: list[Frame | FrameError]) -> None:
        if self._garbage:
            out.append(GarbageSkipped(self._garbage))
            self._garbage = 0


# --- read command payloads -------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class CardData:
    """The data part of a successful read reply: text block, photo (WLT, opaque) and fingerprints."""

    text: bytes
    photo: bytes
    fingerprint: bytes = b""

    def __repr__(self) -> str:
        return f"CardData(text=<{len(self.text)}>, photo=<{len(self.photo)}>, fingerprint=<{len(self.fingerprint)}>)"


def encode_card_data(data: CardData, with_fingerprint: bool = False) -> bytes:
    """Lengths (big-endian) then the blocks, as a read reply carries them after SW1 SW2 SW3."""
    lengths = len(data.text).to_bytes(2, "big") + len(data.photo).to_bytes(2, "big")
    if with_fingerprint:
        lengths += len(data.fingerprint).to_bytes(2, "big")
        return lengths + data.text + data.photo + data.fingerprint
    return lengths + data.text + data.photo


def decode_card_data(payload: bytes, with_fingerprint: bool = False) -> CardData:
    """Split a read reply's data into text, photo and fingerprint; raises FrameError if the lengths disagree."""
    head = 6 if with_fingerprint else 4
    if len(payload) < head:
        raise FrameError(
            f"read reply data is {len(payload)} bytes, too short for its {head}-byte length header"
        )
    text_len = int.from_bytes(payload[0:2], "big")
    photo_len = int.from_bytes(payload[2:4], "big")
    fp_len = int.from_bytes(payload[4:6], "big") if with_fingerprint else 0
    if head + text_len + photo_len + fp_len != len(payload):
        raise FrameError(
            f"read reply says text {text_len} + photo {photo_len} + fingerprint {fp_len} bytes "
            f"but carries {len(payload) - head}"
        )
    if text_len != TEXT_SIZE:
        raise FrameError(f"text block is {text_len} bytes; this protocol's text block is {TEXT_SIZE}")
    text = payload[head : head + text_len]
    photo = payload[head + text_len : head + text_len + photo_len]
    fingerprint = payload[head + text_len + photo_len :]
    return CardData(text, photo, fingerprint)
