"""ID-card reader driver: opens the port a URL names and runs find -> select -> read over the SAM protocol."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import serial

from devices.idcard.card import Card, decode_text_block
from devices.idcard.codec import (
    Command,
    FrameDecoder,
    Reply,
    decode_card_data,
    encode_command,
)
from devices.idcard.errors import (
    ChecksumError,
    ChecksumMismatch,
    FrameError,
    FrameRejected,
    FrameTruncated,
    IdCardError,
    LengthInvalid,
    NoCard,
    ProtocolError,
    ReaderTimeout,
    ReaderUnavailable,
    Status,
    error_for_status,
)

log = logging.getLogger(__name__)

DEFAULT_BAUD = 115200
SUPPORTED_BAUDS = (115200, 57600, 38400, 19200, 9600)


class IdCardReader:
    """One SAM reader on one serial line. Not thread-safe: give each reader one owner (the agent's loop)."""

    def __init__(
        self,
        port: serial.Serial,
        timeout: float = 1.0,
        retries: int = 1,
        idle_gap: float = 0.05,
    ) -> None:
        """``timeout``: seconds to wait for each reply; ``retries``: resends after a corrupt or missing reply;
        ``idle_gap``: silence after which a partial frame is given up (the reader sends each reply in one burst).
        """
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, got {retries}")
        self._port = port
        self._timeout = timeout
        self._retries = retries
        self._idle_gap = idle_gap
        self._decoder = FrameDecoder()
        self.stats = {"frames": 0, "garbage_bytes": 0, "corrupt_frames": 0, "retries": 0}

    @classmethod
    def open(
        cls,
        url: str,
        baudrate: int = DEFAULT_BAUD,
        timeout: float = 1.0,
        retries: int = 1,
    ) -> IdCardReader:
        """Open ``url`` (``/dev/ttyUSB0``, ``/dev/pts/N``, ``socket://host:port``, ``loop://``...) at 8N1."""
        if baudrate not in SUPPORTED_BAUDS:
            raise ValueError(
                f"baud rate {baudrate} is not one the readers support: {', '.join(map(str, SUPPORTED_BAUDS))}"
            )
        try:
            port = serial.serial_for_url(
                url, baudrate=baudrate, bytesize=8, parity=serial.PARITY_NONE, stopbits=1, timeout=0.05
            )
        except (serial.SerialException, ValueError, OSError) as exc:
            raise ReaderUnavailable(f"cannot open the ID-card reader at {url!r}: {exc}") from exc
        return cls(port, timeout=timeout, retries=retries)

    def close(self) -> None:
        self._port.close()

    def __enter__(self) -> IdCardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- commands -----------------------------------------------------------------------------------------

    def reset(self) -> None:
        self._expect_ok(self.transact(Command.RESET), Command.RESET)

    def sam_status(self) -> None:
        """Returns if the SAM module is healthy; raises SamNotAuthorised/ReaderFault otherwise."""
        self._expect_ok(self.transact(Command.SAM_STATUS), Command.SAM_STATUS)

    def sam_id(self) -> str:
        """The SAM module's serial as hex (what a vendor asks for on a service call)."""
        reply = self._expect_ok(self.transact(Command.SAM_ID), Command.SAM_ID)
        return reply.data.hex()

    def find_card(self) -> bool:
        """True if a card not yet read is in the field."""
        reply = self.transact(Command.FIND_CARD)
        if reply.sw3 == Status.CARD_FOUND:
            return True
        if reply.sw3 == Status.NO_CARD:
            return False
        raise error_for_status(reply.sw3, "find card")

    def select_card(self) -> bytes:
        """Select the found card; returns the 8 bytes the reader sends back (card serial on most readers)."""
        return self._expect_ok(self.transact(Command.SELECT_CARD), Command.SELECT_CARD).data

    def read_selected(self, with_fingerprint: bool = False) -> Card:
        """Read text and photo (and fingerprints) of the selected card and decode them."""
        command = Command.READ_TEXT_PHOTO_FINGERPRINT if with_fingerprint else Command.READ_TEXT_PHOTO
        reply = self._expect_ok(self.transact(command), command)
        try:
            data = decode_card_data(reply.data, with_fingerprint)
        except FrameError as exc:
            raise ProtocolError(f"read reply is malformed: {exc}") from None
        return decode_text_block(data.text, data.photo, data.fingerprint)

    def read_card(self, with_fingerprint: bool = False) -> Card:
        """The whole cycle: find -> select -> read. Raises NoCard when there is no new card."""
        if not self.find_card():
            raise NoCard(Status.NO_CARD, "find card")
        self.select_card()
        return self.read_selected(with_fingerprint)

    def read_appended_address(self) -> str | None:
        """The latest appended address (after a move), or None when the card has none."""
        reply = self.transact(Command.READ_APPENDED_ADDRESS)
        if reply.sw3 == Status.FIELD_EMPTY:
            return None
        self._expect_ok(reply, Command.READ_APPENDED_ADDRESS)
        try:
            return reply.data.decode("utf-16-le").strip(" \x00") or None
        except UnicodeDecodeError:
            raise ProtocolError("appended address is not UCS-2 text") from None

    def poll(
        self,
        interval: float = 0.3,
        stop: threading.Event | None = None,
        on_error: Callable[[IdCardError], None] | None = None,
    ) -> Iterator[Card]:
        """Yield each newly placed card once, until ``stop`` is set.

        The reader itself refuses to find a card again until it has been lifted, so a card left on the reader
        is yielded once, and the same card lifted and put back is yielded again (a new tap). Reader errors go to
        ``on_error`` (default: a warning in the log, which never carries personal data) and polling goes on;
        port errors (unplugged) propagate so the caller can reopen.
        """
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                card = self.read_card()
            except NoCard:
                pass
            except IdCardError as exc:
                if on_error is not None:
                    on_error(exc)
                else:
                    log.warning("ID-card read failed: %s", exc)
            else:
                yield card
            stop.wait(interval)

    # --- transport ------------------------------------------------------------------------------------------

    def transact(self, command: Command, data: bytes = b"") -> Reply:
        """Send one command and return the reader's reply, resending on a corrupt, missing or rejected frame."""
        error: IdCardError | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                self.stats["retries"] += 1
                log.info("retrying %s after: %s", command.name, error)
            # A late reply to an earlier command must not be taken for this one's.
            self._port.reset_input_buffer()
            self._decoder.reset()
            self._port.write(encode_command(command, data))
            self._port.flush()
            try:
                reply = self._await_reply(command)
            except (ChecksumError, ReaderTimeout) as exc:
                error = exc
                continue
            if reply.sw3 in (Status.CHECKSUM_ERROR, Status.LENGTH_ERROR):
                error = FrameRejected(reply.sw3, command.name)
                continue
            return reply
        assert error is not None
        raise error

    def _await_reply(self, command: Command) -> Reply:
        deadline = time.monotonic() + self._timeout
        damaged: FrameError | None = None
        received = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._port.timeout = min(self._idle_gap, remaining)
            chunk = self._port.read(max(1, self._port.in_waiting))
            if chunk:
                received += len(chunk)
                items = self._decoder.feed(chunk)
            elif self._decoder.pending or damaged:
                items = self._decoder.idle()
                if not items and damaged:
                    # The reader sends one reply per command; once it is over and was bad, stop waiting.
                    break
            else:
                continue
            for item in items:
                if isinstance(item, FrameError):
                    if isinstance(item, ChecksumMismatch | LengthInvalid | FrameTruncated):
                        self.stats["corrupt_frames"] += 1
                        damaged = item
                    else:
                        self.stats["garbage_bytes"] += getattr(item, "count", 0)
                    continue
                self.stats["frames"] += 1
                try:
                    return item.as_reply()
                except FrameError as exc:
                    damaged = exc
        if damaged is not None:
            raise ChecksumError(f"reply to {command.name} arrived damaged ({damaged})")
        port = getattr(self._port, "name", None) or getattr(self._port, "port", "?")
        heard = f"; {received} byte(s) arrived but no frame" if received else ""
        raise ReaderTimeout(
            f"no reply to {command.name} within {self._timeout:.2f} s from {port} at "
            f"{getattr(self._port, 'baudrate', '?')} baud{heard}: check the cable, the reader's power and that "
            "its baud rate matches"
        )

    @staticmethod
    def _expect_ok(reply: Reply, command: Command) -> Reply:
        if reply.sw3 != Status.OK:
            raise error_for_status(reply.sw3, command.name)
        return reply
