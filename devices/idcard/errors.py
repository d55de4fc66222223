"""What can go wrong reading an ID card, one exception per cause, and the reader's SW3 status codes."""

from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    """SW3, the reader's verdict on a command (the third byte of every reply body)."""

    OK = 0x90
    CARD_FOUND = 0x9F
    CHECKSUM_ERROR = 0x10
    LENGTH_ERROR = 0x11
    BAD_COMMAND = 0x21
    NOT_AUTHORISED = 0x23
    UNKNOWN_ERROR = 0x24
    CARD_AUTH_FAILED = 0x31
    SAM_AUTH_FAILED = 0x32
    VERIFY_FAILED = 0x33
    WRONG_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_FAILED = 0x47
    SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    NO_CARD = 0x80
    SELECT_FAILED = 0x81
    FIELD_EMPTY = 0x91

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @classmethod
    def describe(cls, code: int) -> str:
        """A sentence for any SW3 byte, including codes this table does not know."""
        try:
            status = cls(code)
        except ValueError:
            return f"unknown status 0x{code:02X} from the reader"
        return f"0x{code:02X} {status.name}: {status.message}"


_MESSAGES = {
    Status.OK: "operation succeeded",
    Status.CARD_FOUND: "a card is in the field",
    Status.CHECKSUM_ERROR: "the reader received a frame whose checksum was wrong",
    Status.LENGTH_ERROR: "the reader received a frame whose length field was wrong",
    Status.BAD_COMMAND: "the reader does not know this command",
    Status.NOT_AUTHORISED: "the reader refused an operation it is not authorised for",
    Status.UNKNOWN_ERROR: "the reader reported an unspecified error",
    Status.CARD_AUTH_FAILED: "the card failed to authenticate the SAM",
    Status.SAM_AUTH_FAILED: "the SAM failed to authenticate the card (not a genuine card, or moved while reading)",
    Status.VERIFY_FAILED: "the card's data failed verification",
    Status.WRONG_CARD_TYPE: "the card in the field is not a resident ID card",
    Status.READ_FAILED: "reading the card failed (card moved, or too far from the antenna)",
    Status.RANDOM_FAILED: "the card did not return a random number",
    Status.SELF_TEST_FAILED: "the reader's SAM failed its self-test: the reader needs service",
    Status.SAM_NOT_AUTHORISED: "the reader's SAM module is not authorised: the reader needs service by its vendor",
    Status.NO_CARD: "no card in the field (or the card on it was already read: lift it and put it back)",
    Status.SELECT_FAILED: "selecting the card failed",
    Status.FIELD_EMPTY: "the card holds no data for this field",
}


class IdCardError(Exception):
    """Base of every ID-card reader error."""

    status: Status | int | None = None


class FrameError(IdCardError, ValueError):
    """A stretch of the byte stream that is not a good frame (the decoder reports these as values)."""


class GarbageSkipped(FrameError):
    """Bytes outside any frame were dropped while looking for the next frame start."""

    def __init__(self, count: int) -> None:
        super().__init__(f"skipped {count} byte(s) that were not part of a frame")
        self.count = count


class LengthInvalid(FrameError):
    """A frame header carried a length no frame of this protocol has."""

    def __init__(self, length: int, low: int, high: int) -> None:
        super().__init__(f"frame length field {length} is outside {low}..{high}: not a real frame, resyncing")
        self.length = length


class ChecksumMismatch(FrameError):
    """A complete frame whose XOR checksum does not match (the body is never quoted: it may hold personal data)."""

    def __init__(self, length: int, computed: int, received: int) -> None:
        super().__init__(
            f"frame of length {length} failed its checksum (computed 0x{computed:02X}, frame says 0x{received:02X})"
        )
        self.computed = computed
        self.received = received


class FrameTruncated(FrameError):
    """A frame that stopped arriving before its length said it would end."""

    def __init__(self, received: int, expected: int | None) -> None:
        of = f" of {expected}" if expected is not None else ""
        super().__init__(f"incomplete frame: {received}{of} bytes arrived before the line went quiet")
        self.received = received
        self.expected = expected


class CardDataError(IdCardError, ValueError):
    """The card's text block does not hold valid data (a corrupted read, or a card we cannot decode)."""


class ReaderError(IdCardError):
    """The reader answered a command with a failure status."""

    def __init__(self, status: int, command: str = "") -> None:
        what = f"{command}: " if command else ""
        super().__init__(what + Status.describe(status))
        self.status = Status(status) if status in Status._value2member_map_ else status


class NoCard(ReaderError):
    """No card to read (none placed, or the one placed was already read and not lifted since)."""


class ReadFailed(ReaderError):
    """The card is there but its data could not be read; asking the citizen to re-place it usually helps."""


class SelectFailed(ReadFailed):
    """The card was found but could not be selected."""


class CardRejected(ReadFailed):
    """Authentication or verification between the SAM and the card failed, or it is not an ID card."""


class SamNotAuthorised(ReaderError):
    """The reader's SAM refuses to work: a service call to the vendor, not something a retry fixes."""


class ReaderFault(ReaderError):
    """The reader reports an internal fault (SAM self-test failed, unspecified error)."""


class FrameRejected(ReaderError):
    """The reader says our frame was damaged on the way (checksum or length): the line is noisy."""


class BadCommand(ReaderError):
    """The reader does not support a command we sent."""


class FieldEmpty(ReaderError):
    """The card holds no data for the field asked for (e.g. no appended address)."""


class ChecksumError(IdCardError):
    """The reader's reply kept arriving with a bad checksum, retries included: the line is noisy."""


class ProtocolError(IdCardError):
    """The reader's reply was well-formed but not what the command calls for."""


class ReaderTimeout(IdCardError, TimeoutError):
    """No complete reply within the timeout."""


_STATUS_ERRORS: dict[int, type[ReaderError]] = {
    Status.NO_CARD: NoCard,
    Status.READ_FAILED: ReadFailed,
    Status.SELECT_FAILED: SelectFailed,
    Status.CARD_AUTH_FAILED: CardRejected,
    Status.SAM_AUTH_FAILED: CardRejected,
    Status.VERIFY_FAILED: CardRejected,
    Status.WRONG_CARD_TYPE: CardRejected,
    Status.RANDOM_FAILED: ReadFailed,
    Status.SAM_NOT_AUTHORISED: SamNotAuthorised,
    Status.NOT_AUTHORISED: SamNotAuthorised,
    Status.SELF_TEST_FAILED: ReaderFault,
    Status.UNKNOWN_ERROR: ReaderFault,
    Status.CHECKSUM_ERROR: FrameRejected,
    Status.LENGTH_ERROR: FrameRejected,
    Status.BAD_COMMAND: BadCommand,
    Status.FIELD_EMPTY: FieldEmpty,
}


def error_for_status(status: int, command: str = "") -> ReaderError:
    """The exception that a failure status stands for (ReaderError for codes outside the table)."""
    return _STATUS_ERRORS.get(status, ReaderError)(status, command)


class ReaderUnavailable(IdCardError):
    """The port the URL names could not be opened (unplugged, wrong path, no permission)."""
