"""The 好差评 evaluator pad's line protocol (see PROTOCOL.md beside this file): pure text <-> values, no I/O.

A line is ``$SEQ,VERB,ARG...*CRC\\r\\n``: UTF-8 fields separated by commas, ``% , * $`` and control characters
escaped as ``%XX``, and CRC-16/MODBUS of the bytes between ``$`` and ``*`` as four upper-case hex digits.

Decode errors: :func:`decode_line` and the ``from_message`` constructors raise only :class:`EvaluatorCodecError`,
whatever bytes they are given; :meth:`LineDecoder.feed` never raises on input (bad bytes come back as
:class:`Rejected`). Numbers on the wire are ASCII digits only: ``str.isdigit`` also accepts ``²`` or ``٣``,
which ``int()`` then refuses, so every numeric field is checked with :data:`_DIGITS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from devices.common.crc import crc16_modbus
from devices.contract.ratings import REASONS, Level

MAX_LINE = 512
MAX_SEQ = 65535
SESSION_RE = re.compile(r"[0-9a-f]{8}")
_SPECIAL = set("%,*$")
_LINE_RE = re.compile(rb"\$([^$*\r\n]*)\*([0-9A-F]{4})\r?\n")
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII only, and short enough that int() is cheap


def _is_number(text: str) -> bool:
    return _DIGITS.fullmatch(text) is not None


class Verb(StrEnum):
    # host -> pad
    PING = "PING"
    START = "START"
    CANCEL = "CANCEL"
    ACK = "ACK"
    # pad -> host
    OK = "OK"
    ERR = "ERR"
    RESULT = "RESULT"
    TIMEOUT = "TIMEOUT"
    PROMPT = "PROMPT"
    READY = "READY"


class PadState(StrEnum):
    IDLE = "IDLE"  # no evaluation open: keys do nothing
    RATING = "RATING"  # showing staff, post and window, waiting for a level
    REASON = "REASON"  # a 差评 was pressed; asking which reason


class ErrCode(StrEnum):
    BUSY = "BUSY"
    NO_SESSION = "NO_SESSION"
    BAD_ARGS = "BAD_ARGS"
    UNKNOWN_VERB = "UNKNOWN_VERB"


class EvaluatorCodecError(ValueError):
    """A message whose fields break the protocol; the message says which field and what is allowed."""


@dataclass(frozen=True)
class Message:
    seq: int
    verb: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejected:
    """Bytes the decoder threw away, and why."""

    reason: str
    data: bytes


def escape(field: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _SPECIAL or ord(c) < 0x20 or ord(c) == 0x7F else c for c in field)


def unescape(field: str) -> str:
    if "%" not in field:
        return field
    if re.search(r"%(?![0-9A-Fa-f]{2})", field):
        raise EvaluatorCodecError(f"bad escape in field {field!r}: % must be followed by two hex digits")
    return _ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), field)


def encode_message(message: Message) -> bytes:
    """The bytes on the wire for one message."""
    if not (0 <= message.seq <= MAX_SEQ):
        raise EvaluatorCodecError(f"sequence number {message.seq} is out of range 0..{MAX_SEQ}")
    if not message.verb.isalpha() or not message.verb.isupper():
        raise EvaluatorCodecError(f"verb {message.verb!r} must be upper-case letters")
    body = ",".join([str(message.seq), message.verb, *(escape(a) for a in message.args)]).encode("utf-8")
    line = b"$" + body + b"*" + f"{crc16_modbus(body):04X}".encode() + b"\r\n"
    if len(line) > MAX_LINE:
        raise EvaluatorCodecError(f"message is {len(line)} bytes; a line is at most {MAX_LINE}")
    return line


def decode_line(raw: bytes) -> Message:
    """One complete line (``$...*HHHH\\r\\n``) as a Message; raises EvaluatorCodecError saying what is wrong."""
    match = _LINE_RE.fullmatch(raw)
    if match is None:
        raise EvaluatorCodecError("not a line of the form $SEQ,VERB,...*CRC4 followed by CR LF")
    body, sent = match.group(1), int(match.group(2), 16)
    computed = crc16_modbus(body)
    if sent != computed:
        raise EvaluatorCodecError(f"CRC mismatch: line says {sent:04X}, bytes give {computed:04X}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EvaluatorCodecError(f"line is not valid UTF-8 ({exc.reason})") from exc
    fields = text.split(",")
    if len(fields) < 2 or not _is_number(fields[0]) or int(fields[0]) > MAX_SEQ:
        raise EvaluatorCodecError(f"line must start with a sequence number 0..{MAX_SEQ} and a verb")
    verb = fields[1]
    if not (verb.isascii() and verb.isalpha() and verb.isupper()):
        raise EvaluatorCodecError(f"verb {verb!r} must be upper-case letters")
    return Message(int(fields[0]), verb, tuple(unescape(f) for f in fields[2:]))


class LineDecoder:
    """Streaming decoder: feed it bytes, get whole messages and what it discarded (noise, bad CRC, cut lines).

    A ``$`` always starts a line (it is escaped inside fields), so a line cut short by a new ``$`` is dropped
    and decoding carries on from the new one.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[Message | Rejected]:
        self._buf.extend(data)
        out: list[Message | Rejected] = []
        buf = self._buf
        while buf:
            start = buf.find(b"$")
            if start < 0:
                out.append(Rejected(f"{len(buf)} bytes of noise with no $", bytes(buf)))
                buf.clear()
                break
            if start > 0:
                noise = bytes(buf[:start])
                if noise.strip(b"\r\n"):  # a lone CR LF between lines is not worth a complaint
                    out.append(Rejected(f"{start} bytes of noise before a $", noise))
                del buf[:start]
            end = buf.find(b"\n")
            restart = buf.find(b"$", 1)
            if restart != -1 and (end == -1 or restart < end):
                out.append(Rejected("line cut short by the start of another", bytes(buf[:restart])))
                del buf[:restart]
                continue
            if end == -1:
                if len(buf) > MAX_LINE:
                    out.append(Rejected(f"line longer than {MAX_LINE} bytes with no end", bytes(buf)))
                    buf.clear()
                break
            raw = bytes(buf[: end + 1])
            del buf[: end + 1]
            try:
                out.append(decode_line(raw))
            except EvaluatorCodecError as exc:
                out.append(Rejected(str(exc), raw))
        return out


# -- typed messages --------------------------------------------------------------------------------------------


def _text(name: str, value: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EvaluatorCodecError(f"{name} must be non-empty text")
    if len(value) > max_len:
        raise EvaluatorCodecError(f"{name} is {len(value)} characters; at most {max_len}")
    if any(ord(c) < 0x20 for c in value):
        raise EvaluatorCodecError(f"{name} must not contain control characters")
    return value


MIN_TIMEOUT, MAX_TIMEOUT = 1, 600


@dataclass(frozen=True)
class StartRequest:
    """What the pad shows while it waits for a rating: the ticket or case, and who served the citizen."""

    subject: str
    staff_name: str
    post: str
    window: str
    timeout_s: int = 120

    def __post_init__(self) -> None:
        _text("ticket or case number", self.subject, 40)
        _text("staff name", self.staff_name, 20)
        _text("post", self.post, 20)
        _text("window", self.window, 16)
        if not isinstance(self.timeout_s, int) or not (MIN_TIMEOUT <= self.timeout_s <= MAX_TIMEOUT):
            raise EvaluatorCodecError(f"timeout {self.timeout_s!r} s is out of range {MIN_TIMEOUT}..{MAX_TIMEOUT}")

    def to_message(self, seq: int) -> Message:
        return Message(seq, Verb.START.value, (self.subject, self.staff_name, self.post, self.window, str(self.timeout_s)))

    @classmethod
    def from_message(cls, message: Message) -> StartRequest:
        if len(message.args) != 5:
            raise EvaluatorCodecError(f"START takes 5 fields (subject, staff, post, window, timeout), got {len(message.args)}")
        subject, staff, post, window, timeout = message.args
        if not _is_number(timeout):
            raise EvaluatorCodecError(f"START timeout must be whole seconds, got {timeout!r}")
        return cls(subject, staff, post, window, int(timeout))


def check_session(session_id: str) -> str:
    if not isinstance(session_id, str) or not SESSION_RE.fullmatch(session_id):
        raise EvaluatorCodecError(f"session id {session_id!r} must be 8 lower-case hex digits")
    return session_id


def check_rating(level: int, reason: int | None) -> tuple[Level, int | None]:
    """A level and reason the pad may send: 差评 (1, 2) need a reason from REASONS, the others take none."""
    if level not in Level._value2member_map_:
        raise EvaluatorCodecError(f"level {level!r} is not one of 1..5 (5 非常满意 ... 1 非常不满意)")
    lvl = Level(level)
    if lvl.is_bad:
        if reason is None:
            raise EvaluatorCodecError(f"{lvl.label} needs a reason; reasons: {REASONS}")
        if reason not in REASONS:
            raise EvaluatorCodecError(f"reason {reason!r} is not on the list; reasons: {REASONS}")
    elif reason is not None:
        raise EvaluatorCodecError(f"{lvl.label} takes no reason; only 不满意 and 非常不满意 do")
    return lvl, reason


@dataclass(frozen=True)
class Rating:
    """A citizen's rating as pressed on the pad, tied to the session the START opened."""

    session_id: str
    level: Level
    reason: int | None = None

    def __post_init__(self) -> None:
        check_session(self.session_id)
        level, _ = check_rating(self.level, self.reason)
        object.__setattr__(self, "level", level)

    @property
    def reason_text(self) -> str | None:
        return None if self.reason is None else REASONS[self.reason]

    def to_message(self, seq: int) -> Message:
        reason = "" if self.reason is None else str(self.reason)
        return Message(seq, Verb.RESULT.value, (self.session_id, str(int(self.level)), reason))

    @classmethod
    def from_message(cls, message: Message) -> Rating:
        if message.verb != Verb.RESULT.value or len(message.args) != 3:
            raise EvaluatorCodecError("RESULT takes 3 fields: session, level, reason code (empty for none)")
        session, level, reason = message.args
        if not _is_number(level) or (reason and not _is_number(reason)):
            raise EvaluatorCodecError(f"RESULT level and reason must be numbers, got {level!r}, {reason!r}")
        # An int on purpose: __post_init__ checks it (EvaluatorCodecError, not ValueError) and stores the Level.
        return cls(session, int(level), int(reason) if reason else None)  # type: ignore[arg-type]


def ok(seq: int, verb: str, *data: str) -> Message:
    return Message(seq, Verb.OK.value, (verb, *data))


def err(seq: int, verb: str, code: ErrCode, text: str) -> Message:
    return Message(seq, Verb.ERR.value, (verb, code.value, text[:200]))
