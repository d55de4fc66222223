"""``onewindow sim scanner``: a simulated serial scanner on a pty; type a code on stdin and it is scanned."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from devices.common.console import RunningSimulator, emit_line, format_reply, line_to_request, serve_after_eof
from devices.common.control import ControlError, ControlServer
from devices.scanner.simulator import ScannerSimulator

# Words that start a command; any other line is a code to scan.
_COMMANDS = {"scan", "replay", "suffix", "fault", "wait", "status", "help", "quit", "exit"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pty", action="store_true", default=True, help="serve on a pseudo-terminal (the default)"
    )
    parser.add_argument(
        "--baud", type=int, default=115200, help="line speed the output is paced at (default 115200)"
    )
    parser.add_argument("--no-pacing", dest="paced", action="store_false", help="write codes at once")
    parser.add_argument(
        "--suffix",
        default="cr",
        choices=("cr", "crlf", "lf", "tab"),
        help="line suffix after each code (default cr)",
    )
    parser.add_argument(
        "--encoding", default="utf-8", help="output encoding (utf-8, or gb18030 like a GBK scanner)"
    )
    parser.add_argument(
        "--replay", type=Path, metavar="FILE", help="scan the codes in FILE at start (one per line)"
    )
    parser.add_argument(
        "--delay", type=float, default=0.5, help="seconds between replayed codes (default 0.5)"
    )


def line_to_scanner_request(line: str) -> dict | None:
    """A typed line as a request: a command, or else ``{"cmd": "scan", "code": line}`` verbatim."""
    stripped = line.rstrip("\r\n")
    if not stripped.strip():
        return None
    first, _, rest = stripped.strip().partition(" ")
    if first.lower() == "scan":
        return {"cmd": "scan", "code": rest}  # verbatim: no word splitting, no number coercion
    if first.lower() in _COMMANDS or stripped.lstrip().startswith("{"):
        return line_to_request(stripped)
    return {"cmd": "scan", "code": stripped.strip()}


def start(args: argparse.Namespace, emit: Callable[[str], None]) -> RunningSimulator:
    """Start the simulator and its control channel without a console (``onewindow sim hall`` runs many)."""
    sim = ScannerSimulator(
        suffix=args.suffix, baud=args.baud, paced=args.paced, encoding=args.encoding, on_event=emit
    )
    sim.start()
    control = ControlServer(sim.handle_control).start()
    return RunningSimulator(sim.path, control.url, sim.handle_control, [sim.close, control.close])


def run(args: argparse.Namespace) -> int:
    """Start the simulator, print the pty path and the control URL, then scan what is typed until EOF/Ctrl-C."""
    running = start(args, emit_line)
    try:
        emit_line(running.url)
        emit_line(f"control: {running.control_url}")
        emit_line("type a code and Enter to scan it; 'help' for commands; Ctrl-D or Ctrl-C stops")
        if args.replay:  # after the two URL lines, which must come first
            replay = {"cmd": "replay", "path": str(args.replay), "delay": args.delay}
            emit_line(format_reply({"ok": True, **running.handle(replay)}))
        quit_typed = False
        for line in sys.stdin:
            try:
                request = line_to_scanner_request(line)
                if request is None:
                    continue
                if request["cmd"] in ("quit", "exit"):
                    quit_typed = True
                    break
                reply = {"ok": True, **running.handle(request)}
            except ControlError as exc:
                reply = {"ok": False, "error": str(exc)}
            except Exception as exc:  # a typo must not take the simulator down
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            if reply.get("text") != "ok":
                emit_line(format_reply(reply))
        # stdin ended (a piped list of codes): let the queued ones go out, then serve on until a signal unless
        # the technician typed quit or Ctrl-D on a terminal.
        running.handle({"cmd": "wait"})
        if not quit_typed:
            serve_after_eof()
    except KeyboardInterrupt:
        pass
    finally:
        running.close()
    return 0
