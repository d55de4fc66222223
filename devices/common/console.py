"""The technician's console shared by the simulators: command words -> control requests, and the stdin loop.

The same words work on a simulator's stdin (``fault slow 1.5``) and through ``onewindow sim ctl URL fault slow 1.5``,
so both are turned into the JSON request the control channel carries, and one handler serves both.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devices.common.control import ControlError

Handler = Callable[[dict[str, Any]], dict[str, Any]]

_BOOL_WORDS = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}


def coerce(word: str) -> Any:
    """A command word as the value it most plausibly means: on/off -> bool, digits -> int or float, else text."""
    lowered = word.lower()
    if lowered in _BOOL_WORDS:
        return _BOOL_WORDS[lowered]
    for kind in (int, float):
        try:
            return kind(word)
        except ValueError:
            pass
    return word


def words_to_request(words: list[str]) -> dict[str, Any]:
    """``["fault", "slow", "1.5"]`` -> ``{"cmd": "fault", "name": "slow", "on": True, "value": 1.5, "args": [...]}``.

    Positional words go to ``args``; ``key=value`` words become fields. ``fault NAME [on|off] [NUMBER]`` also fills
    ``name``/``on``/``value`` so every simulator reads faults the same way. A single word starting with ``{`` is
    taken as the JSON request itself.
    """
    if not words:
        raise ControlError("empty command; try: help")
    if len(words) == 1 and words[0].lstrip().startswith("{"):
        try:
            parsed = json.loads(words[0])
        except json.JSONDecodeError as exc:
            raise ControlError(f"not JSON: {exc.msg} at column {exc.colno}") from exc
        if not isinstance(parsed, dict) or "cmd" not in parsed:
            raise ControlError('a JSON request must be an object with a "cmd" field')
        return parsed
    request: dict[str, Any] = {"cmd": words[0].lower()}
    args: list[Any] = []
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if sep and key.isidentifier():
            request[key] = coerce(value)
        else:
            args.append(coerce(word))
    request["args"] = args
    if request["cmd"] == "fault" and args:
        request.setdefault("name", str(args[0]))
        if len(args) > 1:
            state = args[1]
            if isinstance(state, bool):
                request.setdefault("on", state)
                if len(args) > 2:  # fault slow on 20
                    request.setdefault("value", args[2])
            else:
                request.setdefault("on", True)
                request.setdefault("value", state)
        else:
            request.setdefault("on", True)
    return request


def line_to_request(line: str) -> dict[str, Any] | None:
    """One typed line as a request, or None for a blank line or a comment."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if stripped.startswith("{"):
        return words_to_request([stripped])
    try:
        words = shlex.split(stripped)
    except ValueError as exc:
        raise ControlError(f"cannot split the line into words: {exc}") from exc
    return words_to_request(words)


def format_reply(reply: dict[str, Any]) -> str:
    """A reply as a technician reads it: its ``text`` if it has one, else compact JSON; errors start ``error:``."""
    if not reply.get("ok", True):
        return f"error: {reply.get('error', 'refused')}"
    if isinstance(reply.get("text"), str):
        return reply["text"]
    rest = {k: v for k, v in reply.items() if k != "ok"}
    return json.dumps(rest, ensure_ascii=False) if rest else "ok"


def emit_line(text: str) -> None:
    """Print one line (or block) to stdout at once and flush, so a reading process sees it immediately."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def stop_on_signals() -> None:
    """SIGTERM and SIGINT end a simulator cleanly (its ``finally`` closes the pty and control port).

    Both are set explicitly: a process started in the background by a non-interactive shell inherits SIGINT
    ignored, and a service manager stops with SIGTERM. Only the main thread can set handlers."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)


def _real_stdin_fd() -> int | None:
    try:
        return sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a StringIO, a thread's pipe wrapper, or closed
        return None


def serve_after_eof() -> None:
    """The process's stdin ended. Typed Ctrl-D on a terminal means "stop": return. Otherwise (started with
    ``</dev/null``, in the background, by a service manager, or a piped script that finished) keep serving until
    SIGTERM or SIGINT, which arrive here as KeyboardInterrupt. Not for simulators run in a hall's threads: their
    stdin is a private pipe whose EOF is the hall's cue to stop them."""
    fd = _real_stdin_fd()
    if fd is None or threading.current_thread() is not threading.main_thread():
        return
    try:
        if sys.stdin.isatty():
            return
    except (OSError, ValueError):
        pass
    stop_on_signals()
    sys.stderr.write("stdin closed: serving until SIGTERM or SIGINT\n")
    sys.stderr.flush()
    while True:
        signal.pause()


def run_console(handler: Handler, emit: Callable[[str], None] = emit_line) -> int:
    """Read technician commands from stdin until ``quit``, Ctrl-C, SIGTERM or (on a terminal) Ctrl-D; never dies
    on a bad line. When stdin is not a terminal, its end does not stop the simulator (see serve_after_eof)."""
    try:
        while True:
            line = sys.stdin.readline()
            if not line:
                serve_after_eof()
                return 0
            try:
                request = line_to_request(line)
                if request is None:
                    continue
                if request["cmd"] in ("quit", "exit"):
                    return 0
                reply = {"ok": True, **(handler(request) or {})}
            except ControlError as exc:
                reply = {"ok": False, "error": str(exc)}
            except Exception as exc:  # a typo must not take the simulator down
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            emit(format_reply(reply))
    except KeyboardInterrupt:
        return 0


@dataclass
class RunningSimulator:
    """What a kind's ``start(args, emit)`` hands back: where a driver connects, where to send control commands."""

    url: str
    control_url: str
    handle: Handler
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            # closing is best effort; one failing part must not keep the others open
            with contextlib.suppress(Exception):
                closer()
        self.closers.clear()


def run_simulator(start: Callable[..., RunningSimulator], args: Any) -> int:
    """The body of a ``cli.run``: start, print the URL and control URL lines, serve the console, close."""
    running = start(args, emit_line)
    try:
        emit_line(running.url)
        emit_line(f"control: {running.control_url}")
        emit_line("type 'help' for commands; Ctrl-D or Ctrl-C stops the simulator")
        return run_console(running.handle)
    finally:
        running.close()
