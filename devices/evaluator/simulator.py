"""A 好差评 evaluator pad on a pty: the window starts an evaluation, a technician presses what a citizen would.

The pad only sends ratings pressed on it, each tagged with the session its START opened; a 差评 (level 1 or 2)
pressed without a reason makes the pad ask for one, exactly as the real pad does. Faults: ``offline`` (the pad
neither hears nor answers), ``garbage`` (noise bytes before each line it sends), ``slow`` (waits ``value``
seconds before each line it sends).
"""

from __future__ import annotations

import contextlib
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.common.control import Command, ControlError, ControlTable
from devices.common.faults import FaultBoard, FaultSpec
from devices.common.pty import PtyEndpoint
from devices.common.simthread import ThreadedSimulator
from devices.contract.privacy import mask_name
from devices.evaluator import codec
from devices.evaluator.codec import REASONS, ErrCode, Level, Message, PadState, Rating, StartRequest, Verb

DEFAULT_SLOW_SECONDS = 1.0
FAULTS = (FaultSpec("offline"), FaultSpec("garbage"), FaultSpec("slow", "s", default=DEFAULT_SLOW_SECONDS, high=60))


@dataclass
class _Session:
    session_id: str
    request: StartRequest
    deadline: float
    pending_level: Level | None = None


@dataclass
class _Unacked:
    line: bytes
    sent_at: float
    tries: int = 1


def reason_code(value: object) -> int:
    """A reason given as its code (2, "2") or its text ("服务态度差"); ControlError lists the choices otherwise."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and value in REASONS:
        return value
    if isinstance(value, str):
        if value.strip().isdigit() and int(value) in REASONS:
            return int(value)
        for code, text in REASONS.items():
            if value.strip() == text:
                return code
    choices = ", ".join(f"{code} {text}" for code, text in REASONS.items())
    raise ControlError(f"reason {value!r} is not on the pad's list; choose one of: {choices}")


class EvaluatorPadSimulator(ThreadedSimulator):
    """The pad's side of the line protocol, holding the master of a pty whose :attr:`path` a driver opens."""

    def __init__(
        self,
        on_event: Callable[[str], None] | None = None,
        retransmit_interval: float = 1.0,
        max_tries: int = 5,
        seed: int | None = None,
    ) -> None:
        self.on_event = on_event or (lambda _text: None)
        self.retransmit_interval = retransmit_interval
        self.max_tries = max_tries
        self.faults = FaultBoard(FAULTS)
        self.controls = ControlTable({
            "press": Command(self._ctl_press, "press LEVEL [REASON]"),
            "reason": Command(self._ctl_reason, "reason CODE"),
            "reboot": Command(self._ctl_reboot, "reboot"),
            "reasons": Command(lambda _r, _a: {"reasons": REASONS, "text": self._reason_menu()}, "reasons"),
            "help": Command(lambda _r, _a: {"text": HELP}, "help"),
        }, status=self._status_reply, faults=self.faults)
        self.lines_rejected = 0
        self.results_sent = 0
        self._session: _Session | None = None
        self._event_seq = 0
        self._unacked: dict[int, _Unacked] = {}
        self._last_request: tuple[Message, bytes] | None = None
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._endpoint = PtyEndpoint()
        self._decoder = codec.LineDecoder()
        self._thread = threading.Thread(target=self._serve, name="evaluator-sim", daemon=True)

    @property
    def path(self) -> str:
        return self._endpoint.path

    @property
    def state(self) -> PadState:
        with self._lock:
            if self._session is None:
                return PadState.IDLE
            return PadState.REASON if self._session.pending_level is not None else PadState.RATING

    @property
    def session_id(self) -> str | None:
        with self._lock:
            return self._session.session_id if self._session else None

    def _release(self) -> None:
        self._endpoint.close()

    # -- what a citizen (played by a technician) does -----------------------------------------------------------

    def press(self, level: object, reason: object = None) -> PadState:
        """Press a level key, with a reason chosen at once or not; returns the pad's state afterwards."""
        if isinstance(level, bool) or not isinstance(level, int) or level not in Level._value2member_map_:
            raise ControlError(f"level {level!r} is not a key on the pad; keys: 5 非常满意 ... 1 非常不满意")
        lvl = Level(level)
        with self._lock:
            session = self._open_session()
            if not lvl.is_bad:
                if reason is not None:
                    raise ControlError(f"{lvl.label} asks for no reason; only 不满意 and 非常不满意 do")
                outgoing = self._close_with_result(session, lvl, None)
                state = PadState.IDLE
            elif reason is None:
                session.pending_level = lvl
                self.on_event(f"pad: {lvl.label} pressed; the pad asks for a reason: {self._reason_menu()}")
                outgoing = Message(self._next_event_seq(), Verb.PROMPT.value, (session.session_id, "REASON"))
                state = PadState.REASON
            else:
                outgoing = self._close_with_result(session, lvl, reason_code(reason))
                state = PadState.IDLE
        self._send_event(outgoing, needs_ack=outgoing.verb == Verb.RESULT.value)
        return state

    def choose_reason(self, reason: object) -> PadState:
        """Pick the reason the pad asked for after a 差评."""
        with self._lock:
            session = self._open_session()
            if session.pending_level is None:
                raise ControlError("the pad is not asking for a reason; press a level first (press 1..5)")
            outgoing = self._close_with_result(session, session.pending_level, reason_code(reason))
        self._send_event(outgoing, needs_ack=True)
        return PadState.IDLE

    def _open_session(self) -> _Session:
        if self.faults.active("offline"):
            raise ControlError("the pad is offline (fault offline on): its screen is dark, keys do nothing")
        if self._session is None:
            raise ControlError("no evaluation is open, so the keys do nothing; the window starts one first")
        return self._session

    def _close_with_result(self, session: _Session, level: Level, reason: int | None) -> Message:
        rating = Rating(session.session_id, level, reason)
        self._session = None
        self.results_sent += 1
        why = f", reason {reason} {REASONS[reason]}" if reason is not None else ""
        self.on_event(f"pad: rating for {session.session_id} sent: {int(level)} {level.label}{why}; 谢谢您的评价")
        return rating.to_message(self._next_event_seq())

    @staticmethod
    def _reason_menu() -> str:
        return ", ".join(f"{code} {text}" for code, text in REASONS.items()) + "  (reason N)"

    # -- the technician's console --------------------------------------------------------------------------------

    def set_fault(self, name: str, on: bool = True, *, count: int | None = None, value: float | None = None) -> str:
        """Switch a fault on (``slow`` takes seconds, 0..60) or off."""
        return self.faults.set(name, on, count=count, value=value)

    def reboot(self) -> None:
        """Power-cycle the pad: any open evaluation is lost and the pad announces READY."""
        with self._lock:
            self._session = None
            self._unacked.clear()
            self._last_request = None
            ready = Message(self._next_event_seq(), Verb.READY.value)
        self._send_event(ready)
        self.on_event("pad: restarted; idle")

    def inject(self, data: bytes) -> None:
        """Write raw bytes onto the line as if the pad sent them (tests of a driver's defences use this)."""
        self._write(data)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "path": self.path,
                "state": self.state.value,
                "session": self.session_id,
                "faults": self.faults.status(),
                "results_sent": self.results_sent,
                "awaiting_ack": len(self._unacked),
                "lines_rejected": self.lines_rejected,
            }

    def handle_control(self, request: dict[str, Any]) -> dict[str, Any]:
        """Commands: press LEVEL [REASON], reason CODE, status, fault NAME on|off|SECONDS, reboot, reasons, help."""
        return self.controls.handle(request)

    def _status_reply(self) -> dict[str, Any]:
        status = self.status()
        return {**status, "text": " ".join(f"{k}={v}" for k, v in status.items())}

    def _ctl_press(self, request: dict[str, Any], args: list[Any]) -> dict[str, Any]:
        level = request.get("level", args[0] if args else None)
        reason = request.get("reason", args[1] if len(args) > 1 else None)
        if isinstance(level, str) and level.isdigit():
            level = int(level)
        state = self.press(level, reason)
        asking = state == PadState.REASON
        return {
            "state": state.value,
            "text": ("the pad asks for a reason: " + self._reason_menu()) if asking else "rating sent",
        }

    def _ctl_reboot(self, _request: dict[str, Any], _args: list[Any]) -> dict[str, Any]:
        self.reboot()
        return {"text": "pad restarted"}

    def _ctl_reason(self, request: dict[str, Any], args: list[Any]) -> dict[str, Any]:
        self.choose_reason(request.get("reason", args[0] if args else None))
        return {"state": PadState.IDLE.value, "text": "rating sent"}

    # -- the wire side -----------------------------------------------------------------------------------------

    def _next_event_seq(self) -> int:
        self._event_seq = self._event_seq % codec.MAX_SEQ + 1
        return self._event_seq

    def _write(self, data: bytes) -> None:
        with self._write_lock, contextlib.suppress(OSError):  # closing: nobody is listening any more
            self._endpoint.write(data)

    def _send(self, message: Message) -> bytes | None:
        """Put one line on the wire, as the faults allow; returns the bytes of the line itself."""
        line = codec.encode_message(message)
        offline, garbage, slow = self.faults.active("offline"), self.faults.active("garbage"), self.faults.value("slow")
        if offline:
            return line
        if slow and self._stop.wait(slow):
            return line
        if garbage:
            self._write(bytes(self._rng.randrange(256) for _ in range(self._rng.randint(4, 40))))
        self._write(line)
        return line

    def _send_event(self, message: Message, needs_ack: bool = False) -> None:
        line = self._send(message)
        if needs_ack and line is not None:
            with self._lock:
                self._unacked[message.seq] = _Unacked(line, time.monotonic())

    def _serve(self) -> None:
        while not self._stop.is_set():
            data = self._endpoint.read(4096, timeout=0.05)
            if data and not self.faults.active("offline"):
                for item in self._decoder.feed(data):
                    if isinstance(item, codec.Rejected):
                        self.lines_rejected += 1  # the pad drops what it cannot read; the host will retry
                    else:
                        self._handle(item)
            self._tick()

    def _tick(self) -> None:
        """Session time-outs and resending unconfirmed ratings."""
        now = time.monotonic()
        resend: list[bytes] = []
        expired: Message | None = None
        with self._lock:
            session = self._session
            if session is not None and now >= session.deadline:
                self._session = None
                self.on_event(f"pad: nobody rated {session.session_id} in {session.request.timeout_s} s; idle")
                expired = Message(self._next_event_seq(), Verb.TIMEOUT.value, (session.session_id,))
        if expired is not None:
            self._send_event(expired, needs_ack=True)
        with self._lock:
            if self.faults.active("offline"):
                return
            for seq, pending in list(self._unacked.items()):
                if now - pending.sent_at < self.retransmit_interval:
                    continue
                if pending.tries >= self.max_tries:
                    del self._unacked[seq]
                    self.on_event(f"pad: the host never confirmed event {seq}; giving up")
                    continue
                pending.tries += 1
                pending.sent_at = now
                resend.append(pending.line)
        for line in resend:
            self._write(line)

    def _handle(self, message: Message) -> None:
        if message.verb == Verb.ACK.value:
            with self._lock:
                self._unacked.pop(message.seq, None)
            return
        with self._lock:
            last = self._last_request
        if last is not None and last[0] == message:
            self._write(last[1])  # the host did not hear our reply and asked again: same answer, no second effect
            return
        reply = self._execute(message)
        line = self._send(reply)
        if line is not None:
            with self._lock:
                self._last_request = (message, line)

    def _execute(self, message: Message) -> Message:
        seq, verb = message.seq, message.verb
        with self._lock:
            if verb == Verb.PING.value:
                return codec.ok(seq, verb, self.state.value, self.session_id or "")
            if verb == Verb.START.value:
                try:
                    request = StartRequest.from_message(message)
                except codec.EvaluatorCodecError as exc:
                    return codec.err(seq, verb, ErrCode.BAD_ARGS, str(exc))
                if self._session is not None:
                    return codec.err(seq, verb, ErrCode.BUSY, f"evaluation {self._session.session_id} is open")
                session_id = secrets.token_hex(4)
                self._session = _Session(session_id, request, time.monotonic() + request.timeout_s)
                self.on_event(
                    f"pad: evaluation {session_id} for {request.subject} · {mask_name(request.staff_name)} · "
                    f"{request.post} · {request.window}; 请您对本次服务进行评价 (press 5..1)"
                )
                return codec.ok(seq, verb, session_id)
            if verb == Verb.CANCEL.value:
                wanted = message.args[0] if message.args else ""
                if self._session is None or self._session.session_id != wanted:
                    return codec.err(seq, verb, ErrCode.NO_SESSION, f"no open evaluation {wanted!r}")
                self._session = None
                self.on_event(f"pad: evaluation {wanted} cancelled by the window; idle")
                return codec.ok(seq, verb, wanted)
            return codec.err(seq, verb, ErrCode.UNKNOWN_VERB, "the pad knows PING, START, CANCEL, ACK")


HELP = """commands:
  press LEVEL [REASON]         a citizen presses 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意
  reason CODE                  answer the pad's question after 1 or 2 (see: reasons)
  reasons                      the pad's reason list
  status                       state, open session, faults
  fault offline|garbage on|off, fault slow SECONDS|off
  reboot                       power-cycle the pad (open evaluation lost)
  help, quit"""
