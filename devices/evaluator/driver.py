"""Driving a 好差评 evaluator pad: start an evaluation, wait for the citizen's rating, hear events.

Only ratings the pad sends for a session this driver opened are accepted; anything else (a rating for an unknown
or closed session, a 差评 without a reason) is rejected and reported as a ``rejected`` event, never recorded.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import serial

from devices.common.redaction import redact_text
from devices.evaluator import codec
from devices.evaluator.codec import REASONS, ErrCode, Level, Message, PadState, Rating, StartRequest, Verb

log = logging.getLogger(__name__)


class EvaluatorError(Exception):
    """Anything that kept the pad from doing what it was asked."""


class EvaluatorConnectionError(EvaluatorError):
    """The port the URL names could not be opened, read or written."""


class EvaluatorOffline(EvaluatorError):
    """The pad did not answer a request after every retry."""


class EvaluatorRefused(EvaluatorError):
    """The pad answered ERR; ``code`` says why."""

    def __init__(self, verb: str, code: str, text: str) -> None:
        super().__init__(f"the evaluator pad refused {verb}: {code}, {text}")
        self.verb = verb
        self.code = code


class EvaluatorBusy(EvaluatorRefused):
    """An evaluation is already open on the pad."""


class Outcome(StrEnum):
    RATED = "rated"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Evaluation:
    """How one evaluation ended; ``level`` and ``reason`` are set only when the citizen rated."""

    session_id: str
    subject: str
    outcome: Outcome
    level: Level | None = None
    reason: int | None = None
    detail: str = ""

    @property
    def reason_text(self) -> str | None:
        return None if self.reason is None else REASONS[self.reason]


@dataclass(frozen=True)
class PadEvent:
    """What listeners hear: started, asking_reason, rated, timed_out, cancelled, rejected, pad_reset."""

    kind: str
    session_id: str | None = None
    evaluation: Evaluation | None = None
    detail: str = ""


@dataclass(frozen=True)
class PadStatus:
    state: PadState
    session_id: str | None


@dataclass
class _Session:
    session_id: str
    request: StartRequest
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    result: Evaluation | None = None


@dataclass
class _Pending:
    message: Message
    start: StartRequest | None = None
    done: threading.Event = field(default_factory=threading.Event)
    reply: Message | None = None


Listener = Callable[[PadEvent], None]


class EvaluatorPad:
    """The window's side of the pad's line protocol over a serial URL (a pty path, /dev/ttyUSB0, socket://...).

    ``reply_timeout`` bounds each try of a request; ``retries`` more tries follow, with the same sequence number so
    the pad answers a repeat without acting twice. ``grace`` is how long past the session's own time-out
    :meth:`wait` keeps listening for the pad's TIMEOUT before deciding the pad has gone silent.
    """

    def __init__(
        self,
        url: str,
        baudrate: int = 9600,
        reply_timeout: float = 0.5,
        retries: int = 2,
        grace: float = 5.0,
    ) -> None:
        self.url = url
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.grace = grace
        self.lines_rejected = 0
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise EvaluatorConnectionError(f"cannot open the evaluator pad line {url!r}: {exc}") from exc
        self._decoder = codec.LineDecoder()
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        # A random first number, so a restarted host is not taken for a repeat of its predecessor's last request.
        self._seq = random.randrange(1, codec.MAX_SEQ)
        self._pending: dict[int, _Pending] = {}
        self._sessions: dict[str, _Session] = {}
        self._results: OrderedDict[str, Evaluation] = OrderedDict()  # recently ended, for late waiters and resends
        self._listeners: list[Listener] = []
        self._stop = threading.Event()
        self._reader_error: str | None = None
        self._reader = threading.Thread(target=self._read_loop, name="evaluator-driver", daemon=True)
        self._reader.start()

    # -- public API ---------------------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def ping(self) -> PadStatus:
        reply = self._request(Verb.PING.value)
        state = reply.args[1] if len(reply.args) > 1 else ""
        if state not in PadState._value2member_map_:
            raise EvaluatorError(f"the pad reported an unknown state {state!r}")
        session = reply.args[2] if len(reply.args) > 2 and reply.args[2] else None
        return PadStatus(PadState(state), session)

    def begin(self, subject: str, staff_name: str, post: str, window: str | int, timeout_s: int = 120) -> str:
        """Open an evaluation on the pad and return its session id without waiting for the rating."""
        try:
            start = StartRequest(subject, staff_name, post, str(window), timeout_s)
        except codec.EvaluatorCodecError as exc:
            raise EvaluatorError(f"cannot start an evaluation: {exc}") from exc
        reply = self._request(Verb.START.value, start=start)
        session_id = reply.args[1] if len(reply.args) > 1 else ""
        with self._lock:
            if session_id not in self._sessions and session_id not in self._results:
                raise EvaluatorError(f"the pad answered START with a malformed session id {session_id!r}")
        return session_id

    def wait(self, session_id: str, timeout: float | None = None) -> Evaluation:
        """Block until the session ends (rated, timed out, cancelled) and return how."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                if session_id in self._results:
                    return self._results[session_id]  # it ended before anyone waited for it
                raise EvaluatorError(f"no evaluation {session_id!r} was opened on this pad")
        remaining = max(0.0, session.deadline - time.monotonic()) if timeout is None else timeout
        if session.done.wait(remaining):
            assert session.result is not None
            return session.result
        result = self._finish(
            session_id, Outcome.TIMED_OUT, detail="no word from the pad after the evaluation's time-out"
        )
        # the pad is silent or already idle; the outcome stands either way
        with contextlib.suppress(EvaluatorError):
            self._request(Verb.CANCEL.value, session_id)
        final = result or session.result
        if final is None:  # pragma: no cover - whoever ended the session first recorded its result
            raise EvaluatorError(f"evaluation {session_id!r} ended without a result")
        return final

    def start(self, subject: str, staff_name: str, post: str, window: str | int, timeout_s: int = 120) -> Evaluation:
        """Show the evaluation on the pad for ``subject`` (ticket or case number) and wait for the outcome."""
        return self.wait(self.begin(subject, staff_name, post, window, timeout_s))

    def cancel(self, session_id: str) -> None:
        """Withdraw an open evaluation (the citizen left before rating, the window closed the case again)."""
        self._request(Verb.CANCEL.value, session_id)
        self._finish(session_id, Outcome.CANCELLED, detail="cancelled by the window")

    def close(self) -> None:
        self._stop.set()
        self._reader.join(timeout=2)
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()

    def __enter__(self) -> EvaluatorPad:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------------------------

    def _request(self, verb: str, *args: str, start: StartRequest | None = None) -> Message:
        with self._lock:
            self._seq = self._seq % codec.MAX_SEQ + 1
            message = start.to_message(self._seq) if start else Message(self._seq, verb, args)
            pending = _Pending(message, start)
            self._pending[message.seq] = pending
        line = codec.encode_message(message)
        try:
            for _attempt in range(self.retries + 1):
                self._write(line)
                if pending.done.wait(self.reply_timeout):
                    break
            else:
                why = f" ({self._reader_error})" if self._reader_error else ""
                raise EvaluatorOffline(
                    f"the evaluator pad on {self.url} did not answer {verb} after {self.retries + 1} tries{why}"
                )
        finally:
            with self._lock:
                self._pending.pop(message.seq, None)
        reply = pending.reply
        assert reply is not None
        if reply.verb == Verb.ERR.value:
            code = reply.args[1] if len(reply.args) > 1 else "?"
            text = reply.args[2] if len(reply.args) > 2 else ""
            raise (EvaluatorBusy if code == ErrCode.BUSY.value else EvaluatorRefused)(verb, code, text)
        return reply

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            try:
                self._port.write(data)
                self._port.flush()
            except (serial.SerialException, OSError) as exc:
                raise EvaluatorConnectionError(f"cannot write to the evaluator pad line {self.url!r}: {exc}") from exc

    # -- what the pad says --------------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        """Read until closed. No line can end this thread: a decoder or handler failure is logged (redacted),
        counted and skipped; if the thread ends for any other reason, ``_reader_error`` says so, so that
        :meth:`ping` (and the agent's health check) report the pad lost and the line is reopened."""
        try:
            self._read_until_stopped()
        finally:
            if not self._stop.is_set() and not self._reader_error:
                self._reader_error = "the pad's reader stopped unexpectedly"

    def _read_until_stopped(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._port.read(self._port.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError) as exc:
                if not self._stop.is_set():
                    self._reader_error = f"reading the line failed: {exc}"
                    log.warning("evaluator pad %s: %s", self.url, self._reader_error)
                return
            if not data:
                continue
            try:
                items = self._decoder.feed(data)
            except Exception as exc:  # the decoder promises not to raise; if it ever does, drop the bytes, not the line
                self._decoder.reset()
                self.lines_rejected += 1
                log.error("evaluator pad %s: decoder failed on %d bytes (%s); dropped them", self.url, len(data),
                          redact_text(f"{type(exc).__name__}: {exc}"))
                continue
            for item in items:
                if isinstance(item, codec.Rejected):
                    self.lines_rejected += 1
                    log.debug("evaluator pad %s: dropped a line: %s", self.url, redact_text(item.reason))
                    continue
                try:
                    self._on_message(item)
                except EvaluatorConnectionError as exc:
                    self._reader_error = str(exc)
                except Exception:  # a listener's bug must not stop the line being read
                    self.lines_rejected += 1
                    log.exception("evaluator pad %s: handling %s failed", self.url, item.verb)

    def _on_message(self, message: Message) -> None:
        verb = message.verb
        if verb in (Verb.OK.value, Verb.ERR.value):
            self._on_reply(message)
        elif verb in (Verb.RESULT.value, Verb.TIMEOUT.value):
            self._on_closing_event(message)
        elif verb == Verb.PROMPT.value:
            session_id = message.args[0] if message.args else None
            if session_id in self._sessions:
                self._emit(PadEvent("asking_reason", session_id, detail="the pad asks the citizen for a reason"))
        elif verb == Verb.READY.value:
            for session_id in list(self._sessions):
                self._finish(session_id, Outcome.CANCELLED, detail="the pad restarted; the evaluation was lost")
            self._emit(PadEvent("pad_reset", detail="the pad restarted"))
        else:
            self._reject(None, f"unexpected {verb} from the pad")

    def _on_reply(self, message: Message) -> None:
        with self._lock:
            pending = self._pending.get(message.seq)
            if pending is None or pending.done.is_set():
                return  # an answer to a repeat we no longer wait for
            if message.verb == Verb.OK.value and pending.start is not None:
                session_id = message.args[1] if len(message.args) > 1 else ""
                try:
                    codec.check_session(session_id)
                except codec.EvaluatorCodecError:
                    pass  # begin() reports the malformed id
                else:
                    self._sessions[session_id] = _Session(
                        session_id, pending.start, time.monotonic() + pending.start.timeout_s + self.grace
                    )
            pending.reply = message
            pending.done.set()
        if message.verb == Verb.OK.value and pending.start is not None and len(message.args) > 1:
            self._emit(PadEvent("started", message.args[1]))

    def _on_closing_event(self, message: Message) -> None:
        session_id = message.args[0] if message.args else ""
        with self._lock:
            known = session_id in self._sessions
            seen = session_id in self._results
        if not known:
            if seen:
                self._ack(message)  # our ACK was lost and the pad repeats itself; it is already recorded
            else:
                self._reject(session_id, f"{message.verb} for a session this window never opened")
            return
        if message.verb == Verb.TIMEOUT.value:
            self._ack(message)
            self._finish(session_id, Outcome.TIMED_OUT, detail="nobody rated on the pad in time")
            return
        try:
            rating = Rating.from_message(message)
        except (codec.EvaluatorCodecError, ValueError) as exc:
            self._reject(session_id, f"malformed rating: {exc}")
            return
        self._ack(message)
        self._finish(session_id, Outcome.RATED, rating.level, rating.reason)

    def _ack(self, message: Message) -> None:
        self._write(codec.encode_message(Message(message.seq, Verb.ACK.value)))

    def _finish(
        self, session_id: str, outcome: Outcome, level: Level | None = None, reason: int | None = None, detail: str = ""
    ) -> Evaluation | None:
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if session is None:
                return None
            session.result = Evaluation(session_id, session.request.subject, outcome, level, reason, detail)
            self._results[session_id] = session.result
            while len(self._results) > 64:
                self._results.popitem(last=False)
            session.done.set()
        self._emit(PadEvent(outcome.value, session_id, session.result, detail))
        return session.result

    def _reject(self, session_id: str | None, why: str) -> None:
        log.warning("evaluator pad %s: rejected: %s", self.url, why)
        self._emit(PadEvent("rejected", session_id, detail=why))

    def _emit(self, event: PadEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # one broken listener must not silence the others
                log.exception("evaluator pad %s: a listener failed on %s", self.url, event.kind)
