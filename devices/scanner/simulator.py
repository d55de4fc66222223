"""A serial barcode/QR scanner on a pty: codes typed by a technician, replayed from a file, or sent by tests.

Each code goes out as its bytes plus the suffix, paced at the line's baud rate. Faults (on for ``count``
codes, or until switched off):

- ``garbage``: a line of bytes that are not text goes out before each code
- ``split``: each line is written in two parts with a pause (``value`` seconds, default 0.05) between
- ``no_suffix``: codes go out without their suffix, so the driver must notice the silence
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.common.control import Command, ControlError, ControlTable
from devices.common.faults import FaultBoard, FaultSpec
from devices.common.pacing import paced_write
from devices.common.pty import PtyEndpoint
from devices.common.redaction import redact_text
from devices.common.simthread import ThreadedSimulator
from devices.scanner.codec import SUFFIXES, parse_suffix

DEFAULT_SPLIT_PAUSE = 0.05
FAULTS = (FaultSpec("garbage"), FaultSpec("split", "s", default=DEFAULT_SPLIT_PAUSE), FaultSpec("no_suffix"))

HELP = """commands:
  <any other text>              scan it as a code
  scan TEXT                     scan TEXT exactly (even if it looks like a command)
  replay FILE [delay=S]         scan each line of FILE (a TAB and seconds after a code: wait that long first)
  suffix cr|crlf|lf|tab         change the line suffix
  fault NAME on|off [S] [count=N]   faults: garbage split no_suffix (split takes its pause in seconds)
  wait [timeout=S]              until every queued code has gone out
  status, help, quit"""


def read_replay_file(path: Path, delay: float = 0.5) -> list[tuple[float, str]]:
    """(delay before, code) for each code line; ``#`` comments and blank lines skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ControlError(f"cannot read replay file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ControlError(f"replay file {path} is not UTF-8 text") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        code, tab, wait = line.partition("\t")
        pause = delay
        if tab:
            try:
                pause = float(wait)
            except ValueError:
                raise ControlError(
                    f"{path}:{number}: after the TAB comes a delay in seconds, got {wait!r}"
                ) from None
            if pause < 0:
                raise ControlError(f"{path}:{number}: a delay cannot be negative")
        items.append((pause, code))
    return items


class ScannerSimulator(ThreadedSimulator):
    """The scanner; ``path`` is the ``/dev/pts/N`` a driver opens."""

    def __init__(
        self,
        suffix: str | bytes = "cr",
        baud: int = 115200,
        paced: bool = True,
        encoding: str = "utf-8",
        on_event: Callable[[str], None] | None = None,
        seed: int | None = None,
    ) -> None:
        suffix_bytes = parse_suffix(suffix)
        if suffix_bytes is None:
            raise ValueError("a scanner sends one definite suffix: cr, crlf, lf or tab")
        self.suffix = suffix_bytes
        self.baud = baud
        self.paced = paced
        self.encoding = encoding
        self.on_event = on_event
        self._rng = random.Random(seed)
        self._pty = PtyEndpoint()
        self.path = self._pty.path
        self._lock = threading.Lock()
        self.faults = FaultBoard(FAULTS)
        self.controls = ControlTable({
            "scan": Command(self._ctl_scan, "scan TEXT"),
            "replay": Command(self._ctl_replay, "replay FILE [delay=S]"),
            "suffix": Command(self._ctl_suffix, "suffix cr|crlf|lf|tab"),
            "wait": Command(self._ctl_wait, "wait [timeout=S]"),
            "help": Command(lambda _r, _a: {"text": HELP}, "help"),
        }, status=self.status, faults=self.faults, set_fault=self.set_fault)
        self._queue: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._serve, name="scanner-sim", daemon=True)
        self._pending = 0
        self.sent = 0

    def _emit(self, line: str) -> None:
        if self.on_event is not None:
            self.on_event(line)

    def _wake(self) -> None:
        self._queue.put(None)  # the thread may be waiting for the next code

    def _release(self) -> None:
        self._pty.close()

    # --- technician actions -------------------------------------------------------------------------------------

    def scan(self, code: str, delay: float = 0.0) -> None:
        """Queue one code (after ``delay`` seconds)."""
        if not code:
            raise ControlError("a scan needs a non-empty code")
        try:
            code.encode(self.encoding)
        except UnicodeEncodeError:
            raise ControlError(f"the code has characters that {self.encoding} cannot carry") from None
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put((delay, code))

    def replay(self, path: Path, delay: float = 0.5) -> int:
        """Queue every code in a replay file; returns how many."""
        items = read_replay_file(path, delay)
        for pause, code in items:
            self.scan(code, pause)
        return len(items)

    def wait_sent(self, timeout: float | None = 5.0) -> bool:
        """Block until every queued code has gone out."""
        return self._idle.wait(timeout)

    def set_suffix(self, suffix: str) -> None:
        value = parse_suffix(suffix)
        if value is None:
            raise ControlError("pick one suffix: cr, crlf, lf or tab")
        with self._lock:
            self.suffix = value

    def set_fault(self, name: str, on: bool = True, *, count: int | None = None, value: float | None = None) -> str:
        """Switch a fault on (for ``count`` codes, or until switched off) or off."""
        done = self.faults.set(name, on, count=count, value=value)
        self._emit(done)
        return done

    def status(self) -> dict[str, Any]:
        names = {v: k for k, v in SUFFIXES.items() if v}
        with self._lock:
            return {
                "suffix": names.get(self.suffix, self.suffix.hex()),
                "faults": self.faults.status(),
                "sent": self.sent,
                "queued": self._queue.qsize(),
            }

    def handle_control(self, request: dict[str, Any]) -> dict[str, Any]:
        """A control-channel request, e.g. ``{"cmd": "scan", "code": "A001"}``."""
        return self.controls.handle(request)

    def _ctl_scan(self, request: dict[str, Any], args: list[Any]) -> dict[str, Any]:
        code = request.get("code", " ".join(str(a) for a in args))
        if not isinstance(code, str):
            raise ControlError('scan needs "code" as a string')
        self.scan(code, float(request.get("delay", 0.0)))
        return {"text": "ok"}

    def _ctl_replay(self, request: dict[str, Any], args: list[Any]) -> dict[str, Any]:
        path = request.get("path", args[0] if args else None)
        if not path:
            raise ControlError("replay needs a file: replay FILE [delay=S]")
        count = self.replay(Path(str(path)), float(request.get("delay", 0.5)))
        return {"text": f"queued {count} code(s)", "count": count}

    def _ctl_suffix(self, request: dict[str, Any], args: list[Any]) -> dict[str, Any]:
        self.set_suffix(str(request.get("suffix", args[0] if args else None)))
        return {"text": "ok"}

    def _ctl_wait(self, request: dict[str, Any], _args: list[Any]) -> dict[str, Any]:
        timeout = request.get("timeout")
        return {"text": "ok", "sent": self.wait_sent(None if timeout is None else float(timeout))}

    # --- the wire -------------------------------------------------------------------------------------------------

    def _write(self, data: bytes) -> bool:
        return paced_write(self._pty.write, data, self.baud if self.paced else None, self._stop)

    def _serve(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            delay, code = item
            if delay and self._stop.wait(delay):
                return
            try:
                self._send(code)
            except OSError:
                return  # the pty is gone: closing
            with self._lock:
                self._pending -= 1
                if not self._pending:
                    self._idle.set()

    def _send(self, code: str) -> None:
        garbage = self.faults.take("garbage")
        split, pause = self.faults.take_value("split")
        bare = self.faults.take("no_suffix")
        with self._lock:
            suffix = self.suffix
        if garbage:
            # 0xFF never occurs in UTF-8 or GB18030, so this line can never pass for a code.
            self._write(b"\xff" + self._rng.randbytes(self._rng.randint(2, 12)) + suffix)
        line = code.encode(self.encoding) + (b"" if bare else suffix)
        if split:
            cut = self._rng.randint(1, max(1, len(line) - 1))
            self._write(line[:cut])
            if self._stop.wait(DEFAULT_SPLIT_PAUSE if pause is None else pause):
                return
            self._write(line[cut:])
        else:
            self._write(line)
        self.sent += 1
        self._emit(f"scanned: {redact_text(code)}" + (" (no suffix)" if bare else ""))
