"""A SAM ID-card reader on a pty: the reader's side of the protocol, with cards placed and lifted by name.

Behaves like the real module: a card is found once, selected, read; after a read it is not found again
until it is lifted and put back. Replies are paced at the line's baud rate (115200: ~112 ms for a full read),
and a host that opens the port at another baud rate gets no answer, as a real reader would see only framing
errors. Faults can be switched on while it runs, for a number of occurrences or until switched off:

- ``checksum``: replies go out with a wrong checksum byte
- ``read_failed``: the read command answers 0x41 (read failed)
- ``sam_not_authorised``: every command but reset answers 0x66
- ``slow``: each reply waits ``value`` seconds (default 2.0) first
- ``garbage``: random bytes go out before each reply
- ``silent``: commands get no reply at all
"""

from __future__ import annotations

import random
import termios
import threading
from collections.abc import Callable
from typing import Any

from devices.common.control import Command as ControlCommand
from devices.common.control import ControlError, ControlTable
from devices.common.faults import FaultBoard, FaultSpec
from devices.common.pacing import paced_write
from devices.common.pty import PtyEndpoint
from devices.common.simthread import ThreadedSimulator
from devices.idcard.card import Card, encode_text_block
from devices.idcard.codec import (
    PREAMBLE,
    CardData,
    ChecksumMismatch,
    Command,
    Frame,
    FrameDecoder,
    LengthInvalid,
    Request,
    encode_card_data,
    encode_reply,
)
from devices.idcard.errors import Status

DEFAULT_SLOW_SECONDS = 2.0
FAULTS = (FaultSpec("checksum"), FaultSpec("read_failed"), FaultSpec("sam_not_authorised"),
          FaultSpec("slow", "s", default=DEFAULT_SLOW_SECONDS), FaultSpec("garbage"), FaultSpec("silent"))

_BAUD_BY_SPEED = {
    getattr(termios, f"B{rate}"): rate
    for rate in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)
    if hasattr(termios, f"B{rate}")
}

HELP = """commands:
  cards                         list the card profiles
  place NAME                    put a card on the reader
  lift                          take it off
  fault NAME on|off [count=N]   faults: checksum read_failed sam_not_authorised slow garbage silent
  fault slow SECONDS            slow replies by SECONDS
  status                        card, state and faults
  help, quit"""


class IdCardSimulator(ThreadedSimulator):
    """The reader; ``path`` is the ``/dev/pts/N`` a driver opens."""

    def __init__(
        self,
        cards: dict[str, Card],
        baud: int = 115200,
        paced: bool = True,
        on_event: Callable[[str], None] | None = None,
        seed: int | None = None,
    ) -> None:
        """``cards``: profiles by name; ``baud``: the reader's line speed; ``paced``: hold replies to that speed."""
        self.cards = dict(cards)
        self.baud = baud
        self.paced = paced
        self.on_event = on_event
        self._rng = random.Random(seed)
        self._pty = PtyEndpoint()
        self.path = self._pty.path
        self._lock = threading.Lock()
        self._card_name: str | None = None
        self._state = "absent"  # absent -> present -> found -> selected -> read
        self.faults = FaultBoard(FAULTS)
        self.controls = ControlTable({
            "place": ControlCommand(self._ctl_place, "place NAME"),
            "lift": ControlCommand(lambda _r, _a: self.lift(), "lift"),
            "cards": ControlCommand(self._ctl_cards, "cards"),
            "help": ControlCommand(lambda _r, _a: {"text": HELP}, "help"),
        }, status=self.status, faults=self.faults, set_fault=self.set_fault)
        self._decoder = FrameDecoder()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="idcard-sim", daemon=True)
        self._host_baud_warned: int | None = None
        self.reads = 0  # successful read replies sent

    def _emit(self, line: str) -> None:
        if self.on_event is not None:
            self.on_event(line)

    # --- lifecycle ------------------------------------------------------------------------------------------

    def _release(self) -> None:
        self._pty.close()

    # --- technician actions -----------------------------------------------------------------------------------

    def place(self, name: str) -> Card:
        if name not in self.cards:
            known = ", ".join(sorted(self.cards)) or "none loaded"
            raise ControlError(f"no card profile named {name!r}; known: {known}")
        with self._lock:
            self._card_name = name
            self._state = "present"
        card = self.cards[name]
        self._emit(f"card placed: {name} ({card.masked_name})")
        return card

    def lift(self) -> None:
        with self._lock:
            name, self._card_name, self._state = self._card_name, None, "absent"
        self._emit(f"card lifted: {name}" if name else "no card to lift")

    def set_fault(self, name: str, on: bool = True, *, count: int | None = None, value: float | None = None) -> str:
        """Switch a fault on (for ``count`` occurrences, or until switched off) or off."""
        done = self.faults.set(name, on, count=count, value=value)
        self._emit(done)
        return done

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "card": self._card_name,
                "state": self._state,
                "faults": self.faults.status(),
                "baud": self.baud,
                "reads": self.reads,
            }

    def handle_control(self, request: dict[str, Any]) -> dict[str, Any]:
        """One control-channel or console request; raises ControlError with what was wrong and what is allowed."""
        return self.controls.handle(request)

    def _ctl_place(self, request: dict[str, Any], args: list[Any]) -> dict[str, Any]:
        name = request.get("name", args[0] if args else None)
        if name is None:
            raise ControlError("place needs a card name: place NAME (see: cards)")
        card = self.place(str(name))
        return {"text": "ok", "card": str(name), "masked_name": card.masked_name}

    def _ctl_cards(self, _request: dict[str, Any], _args: list[Any]) -> dict[str, Any]:
        listing = {name: card.card_type.value for name, card in sorted(self.cards.items())}
        return {"cards": listing, "text": "  ".join(f"{n} ({t})" for n, t in listing.items())}

    # --- the wire ----------------------------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            data = self._pty.read(4096, timeout=0.05)
            if data:
                if not self._host_speed_matches():
                    continue
                items = self._decoder.feed(data)
            elif self._decoder.pending:
                items = self._decoder.idle()
            else:
                continue
            for item in items:
                try:
                    self._answer(item)
                except OSError:
                    return  # the pty went away: the simulator is closing
                except Exception as exc:  # never let one odd frame stop the reader
                    self._emit(f"internal error answering a frame: {type(exc).__name__}: {exc}")

    def _host_speed_matches(self) -> bool:
        try:
            host = _BAUD_BY_SPEED.get(termios.tcgetattr(self._pty.master_fd)[4])
        except termios.error:
            return True
        if host is None or host == self.baud:
            self._host_baud_warned = None
            return True
        if self._host_baud_warned != host:
            self._host_baud_warned = host
            self._emit(f"host opened the line at {host} baud but the reader runs at {self.baud}: no reply")
        self._decoder.reset()
        return False

    def _answer(self, item: Frame | Exception) -> None:
        if isinstance(item, ChecksumMismatch):
            reply: bytes | None = encode_reply(Status.CHECKSUM_ERROR)
        elif isinstance(item, LengthInvalid):
            reply = encode_reply(Status.LENGTH_ERROR)
        elif isinstance(item, Frame):
            try:
                request = item.as_request()
            except ValueError:
                reply = encode_reply(Status.LENGTH_ERROR)
            else:
                reply = self._reply_to(request)
        else:
            return  # garbage and truncated frames: a real reader just waits for the next frame
        if reply is not None:
            self._send(reply)

    def _reply_to(self, request: Request) -> bytes | None:
        command = request.command
        with self._lock:
            if self.faults.take("silent"):
                return None
            if command is None:
                return encode_reply(Status.BAD_COMMAND)
            if command is not Command.RESET and self.faults.take("sam_not_authorised"):
                return encode_reply(Status.SAM_NOT_AUTHORISED)
            if command in (Command.RESET, Command.SAM_STATUS):
                return encode_reply(Status.OK)
            if command is Command.SAM_ID:
                return encode_reply(Status.OK, bytes.fromhex("0501000020100101000000000000abcd"))
            card = self.cards.get(self._card_name) if self._card_name else None
            if command is Command.FIND_CARD:
                if card is None or self._state == "read":
                    return encode_reply(Status.NO_CARD, bytes(4))
                self._state = "found" if self._state == "present" else self._state
                return encode_reply(Status.CARD_FOUND, bytes(4))
            if command is Command.SELECT_CARD:
                if card is None:
                    return encode_reply(Status.NO_CARD)
                if self._state not in ("found", "selected"):
                    return encode_reply(Status.SELECT_FAILED)
                self._state = "selected"
                return encode_reply(Status.OK, bytes(8))
            if command in (Command.READ_TEXT_PHOTO, Command.READ_TEXT_PHOTO_FINGERPRINT):
                if card is None:
                    return encode_reply(Status.NO_CARD)
                if self._state not in ("selected", "read"):
                    return encode_reply(Status.READ_FAILED)  # read without select
                if self.faults.take("read_failed"):
                    return encode_reply(Status.READ_FAILED)
                first_read = self._state != "read"
                self._state = "read"
                self.reads += 1
                name = self._card_name
                fingerprint = command is Command.READ_TEXT_PHOTO_FINGERPRINT
                data = encode_card_data(
                    CardData(encode_text_block(card), card.photo, card.fingerprint), fingerprint
                )
            elif command is Command.READ_APPENDED_ADDRESS:
                if card is None:
                    return encode_reply(Status.NO_CARD)
                return encode_reply(Status.FIELD_EMPTY)
            else:
                return encode_reply(Status.BAD_COMMAND)
        if first_read:
            self._emit(f"card {name} ({card.masked_name}) read by the host")
        return encode_reply(Status.OK, data)

    def _send(self, reply: bytes) -> None:
        slow, delay = self.faults.take_value("slow")
        garbage = self.faults.take("garbage")
        corrupt = self.faults.take("checksum")
        if slow and self._stop.wait(DEFAULT_SLOW_SECONDS if delay is None else delay):
            return
        out = bytearray()
        if garbage:
            out += self._garbage()
        frame = bytearray(reply)
        if corrupt:
            frame[-1] ^= 0x5A
        out += frame
        paced_write(self._pty.write, bytes(out), self.baud if self.paced else None, self._stop)

    def _garbage(self) -> bytes:
        # Line noise, with the occasional preamble fragment to tempt a naive decoder.
        noise = bytearray(self._rng.randbytes(self._rng.randint(4, 24)))
        at = self._rng.randrange(len(noise))
        fragment = PREAMBLE[: self._rng.randint(1, 4)]
        noise[at : at + len(fragment)] = fragment
        while PREAMBLE in noise:
            noise = noise.replace(PREAMBLE, b"\x00")
        return bytes(noise)
