"""The 好差评 evaluator pad: ``start_evaluation``/``cancel_evaluation`` commands; each rating a rating_given input.

``start_evaluation`` returns as soon as the pad shows the evaluation (result ``{"session": ...}``); the rating
comes later from the pad and goes to the server as an input (``{session, subject, level, reason}``), through
the outbox like every input, so a rating given while the server is unreachable is not lost.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from devices.agent.privacy import safe_error
from devices.agent.workers.base import CommandFailed, DeviceWorker, Health
from devices.evaluator.driver import (
    EvaluatorConnectionError,
    EvaluatorError,
    EvaluatorOffline,
    EvaluatorPad,
    Outcome,
    PadEvent,
)

log = logging.getLogger("devices.agent.workers")


class EvaluatorWorker(DeviceWorker):
    kind = "evaluator"
    commands = ("start_evaluation", "cancel_evaluation")
    poll_interval = 5.0
    lost_errors = (EvaluatorConnectionError, OSError)

    pad: EvaluatorPad | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._open_sessions: dict[str, str] = {}  # session id -> subject
        self.ratings = 0

    def open(self, url: str) -> None:
        pad = EvaluatorPad(url, baudrate=getattr(self.settings, "baudrate", 9600), reply_timeout=0.5, retries=1)
        pad.add_listener(self._on_pad_event)
        self.pad = pad

    def close_device(self) -> None:
        if self.pad is not None:
            self.pad.close()
            self.pad = None
        with self._lock:
            self._open_sessions.clear()

    def check(self) -> Health:
        assert self.pad is not None
        reader_error = getattr(self.pad, "_reader_error", None)
        if reader_error:  # the driver's reader thread saw the line break
            raise EvaluatorConnectionError(reader_error)
        try:
            status = self.pad.ping()
        except EvaluatorOffline as exc:
            return Health("offline", {"error": safe_error(exc)})
        except EvaluatorConnectionError:
            raise
        except EvaluatorError as exc:
            return Health("error", {"error": safe_error(exc)})
        return Health("ok", {"state": status.state.value})

    def execute(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        assert self.pad is not None
        if command == "start_evaluation":
            fields = {key: args.get(key) for key in ("subject", "staff_name", "post", "window")}
            missing = [key for key, value in fields.items() if value in (None, "")]
            if missing:
                raise CommandFailed(f"start_evaluation needs {', '.join(missing)} "
                                    "(subject: ticket or case number; staff_name, post, window)")
            timeout_s = args.get("timeout_s", getattr(self.settings, "timeout_s", 120))
            if isinstance(timeout_s, bool) or not isinstance(timeout_s, int):
                raise CommandFailed(f"start_evaluation timeout_s must be whole seconds, got {timeout_s!r}")
            try:
                session = self.pad.begin(str(fields["subject"]), str(fields["staff_name"]), str(fields["post"]),
                                         str(fields["window"]), timeout_s)
            except EvaluatorConnectionError:
                raise
            except EvaluatorError as exc:
                raise CommandFailed(safe_error(exc)) from None
            with self._lock:
                self._open_sessions[session] = str(fields["subject"])
            return {"session": session}
        wanted = args.get("session")
        with self._lock:
            if wanted is None and len(self._open_sessions) == 1:
                wanted = next(iter(self._open_sessions))
        if not isinstance(wanted, str) or not wanted:
            raise CommandFailed("cancel_evaluation needs the 'session' that start_evaluation returned")
        try:
            self.pad.cancel(wanted)
        except EvaluatorConnectionError:
            raise
        except EvaluatorError as exc:
            raise CommandFailed(safe_error(exc)) from None
        with self._lock:
            self._open_sessions.pop(wanted, None)
        return {"session": wanted, "cancelled": True}

    def _on_pad_event(self, event: PadEvent) -> None:
        """Runs on the driver's reader thread: only queue the input, never block."""
        evaluation = event.evaluation
        if evaluation is None or event.session_id is None:
            if event.kind == "rejected":
                log.warning("%s/evaluator: the pad sent something unexpected: %s", self.host.station, event.detail)
            return
        with self._lock:
            self._open_sessions.pop(event.session_id, None)
        if evaluation.outcome is not Outcome.RATED or evaluation.level is None:
            log.info("%s/evaluator: evaluation %s ended: %s", self.host.station, event.session_id,
                     evaluation.outcome.value)
            return
        self.ratings += 1
        log.info("%s/evaluator: rating %d for session %s", self.host.station, int(evaluation.level), event.session_id)
        self.host.submit_input(self.kind, "rating_given", {
            "session": evaluation.session_id,
            "subject": evaluation.subject,
            "level": int(evaluation.level),
            "reason": evaluation.reason,
        })
