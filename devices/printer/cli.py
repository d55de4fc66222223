"""``onewindow sim printer``: run a simulated ticket printer for technicians and tests.

Prints the URL a driver opens, then ``control: tcp://127.0.0.1:PORT``, then reads commands from stdin until EOF
or Ctrl-C (type ``help``). Each finished ticket is announced on one line (no ticket content).
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from devices.common.console import serve_after_eof
from devices.common.control import ControlError
from devices.common.redaction import redact_text
from devices.printer.profile import PROFILES
from devices.printer.simulator import DEFAULT_PAPER_MM, FAULTS, PrinterSimulator
from devices.printer.ticket import Ticket

HELP = f"""commands:
  status                      printer state, paper left, faults
  fault NAME on|off [MM_S]    faults: {", ".join(f.name for f in FAULTS)} (slow takes a speed: fault slow on 20)
  reload [LENGTH_MM]          load a new paper roll (clears paper out)
  tickets                     how many tickets, and a summary of the last
  last                        transcript of the last ticket (ID and phone numbers masked)
  help                        this text
  quit                        stop the simulator (EOF or Ctrl-C also do)"""

_print_lock = threading.Lock()


def _say(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _positive(text: str) -> float:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535 (0 = any free port), got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``onewindow sim printer``."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--tcp", nargs="?", const=0, type=_port, metavar="PORT",
                       help="listen on 127.0.0.1:PORT like a network printer (default; no PORT = a free port)")
    where.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal like a serial printer")
    parser.add_argument("--out", metavar="DIR", help="save every ticket as DIR/ticket-NNNN.png and .txt")
    parser.add_argument("--speed", type=_non_negative, default=200.0, metavar="MM_S",
                        help="paper speed in mm/s (0 = instant; default 200, a typical thermal printer)")
    parser.add_argument("--paper-mm", type=_positive, default=DEFAULT_PAPER_MM, metavar="LENGTH",
                        help=f"length of the paper roll in mm (default {DEFAULT_PAPER_MM:.0f})")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="zh-80",
                        help="printer model: Chinese 80 mm (default), without native QR, western, or 58 mm")


def run(args: argparse.Namespace) -> int:
    """Start the simulator, print its URL and control URL, and serve technician commands until EOF/Ctrl-C."""
    simulator = PrinterSimulator(
        transport="pty" if args.pty else "tcp",
        port=args.tcp or 0,
        profile=args.profile,
        speed_mm_s=args.speed,
        paper_mm=args.paper_mm,
        out_dir=args.out,
        on_ticket=_announce(args.out),
    )
    try:
        simulator.start()
    except OSError as exc:
        print(f"error: cannot start the printer simulator: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        _say(simulator.url)
        _say(f"control: {simulator.control_url}")
        _say(f"printer ready: profile {args.profile}, {args.speed:g} mm/s, paper {args.paper_mm:g} mm; type 'help'")
        for line in sys.stdin:
            if not execute(simulator, line):
                break
        else:
            serve_after_eof()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.close()
    return 0


def _announce(out_dir: str | None) -> Any:
    def announce(ticket: Ticket) -> None:
        mm = ticket.height_dots / 8
        parts = [f"ticket {ticket.index}: {mm:.0f} mm, {len(ticket.lines)} text lines, {len(ticket.qr_payloads)} QR"]
        if not ticket.complete:
            parts.append("NOT CUT (" + "; ".join(ticket.notes[-1:]) + ")")
        elif ticket.notes:
            parts.append(f"{len(ticket.notes)} problem(s), see 'last'")
        if out_dir:
            parts.append(f"saved {out_dir}/ticket-{ticket.index:04d}.png")
        _say(", ".join(parts))

    return announce


def execute(simulator: PrinterSimulator, line: str) -> bool:
    """Run one technician command; False when the technician asked to quit."""
    words = line.split()
    if not words:
        return True
    command, rest = words[0].lower(), words[1:]
    try:
        if command in ("quit", "exit"):
            return False
        if command == "help":
            _say(HELP)
        elif command == "status":
            _say(_status_line(simulator.handle_control({"cmd": "status"})))
        elif command == "fault":
            if len(rest) not in (2, 3) or rest[1] not in ("on", "off"):
                raise ControlError("usage: fault NAME on|off [MM_S]   e.g. fault cover_open on, fault slow on 20")
            request: dict[str, Any] = {"cmd": "fault", "name": rest[0], "on": rest[1] == "on"}
            if len(rest) == 3:
                request["value"] = _number(rest[2], "MM_S")
            _say(_status_line(simulator.handle_control(request)))
        elif command in ("reload", "reload_paper"):
            request = {"cmd": "reload_paper"}
            if rest:
                request["length_mm"] = _number(rest[0], "LENGTH_MM")
            _say(_status_line(simulator.handle_control(request)))
        elif command == "tickets":
            reply = simulator.handle_control({"cmd": "tickets"})
            last = reply["last"]
            summary = "" if last is None else (
                f", last #{last['index']}: {last['length_mm']} mm, {'cut' if last['complete'] else 'NOT cut'}, "
                f"{len(last['qr'])} QR"
            )
            _say(f"{reply['count']} tickets{summary}")
        elif command == "last":
            tickets = simulator.tickets
            # Tickets should only carry masked data; mask again in case a template did not.
            _say(redact_text(tickets[-1].transcript) if tickets else "no ticket printed yet")
        else:
            raise ControlError(f"unknown command {command!r}; type 'help'")
    except (ControlError, ValueError) as exc:
        _say(f"error: {exc}")
    return True


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ControlError(f"{what} must be a number, got {text!r}") from None


def _status_line(reply: dict[str, Any]) -> str:
    faults = list(reply["faults"])
    if reply.get("slow_mm_s"):
        faults = [f"slow ({reply['slow_mm_s']:g} mm/s)" if name == "slow" else name for name in faults]
    halted = f", halted: {reply['halted']}" if reply["halted"] else ""
    return (
        f"state {reply['state']}{halted}; paper {reply['paper_left_mm']:g} of {reply['paper_mm']:g} mm; "
        f"faults: {', '.join(faults) or 'none'}; tickets {reply['tickets']}; "
        + {True: "host connected", False: "no host connected", None: "serial line"}[reply["client_connected"]]
        + ("" if reply["answering"] else "; NOT answering status")
    )
