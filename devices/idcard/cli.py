"""``onewindow sim idcard``: a simulated SAM ID-card reader on a pty, driven from stdin or the control channel."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from devices.common.console import RunningSimulator, run_simulator
from devices.common.control import ControlServer
from devices.idcard.driver import SUPPORTED_BAUDS
from devices.idcard.profiles import DEFAULT_CARDS_DIR, load_profiles
from devices.idcard.simulator import IdCardSimulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pty",
        action="store_true",
        default=True,
        help="serve on a pseudo-terminal (the default and only transport)",
    )
    parser.add_argument(
        "--baud",
        type=int,
        default=115200,
        choices=SUPPORTED_BAUDS,
        help="the reader's line speed (default 115200)",
    )
    parser.add_argument(
        "--no-pacing",
        dest="paced",
        action="store_false",
        help="send replies at once instead of at the line's speed",
    )
    parser.add_argument(
        "--cards",
        type=Path,
        default=DEFAULT_CARDS_DIR,
        metavar="DIR",
        help="folder of card profiles (*.json)",
    )
    parser.add_argument("--place", metavar="NAME", help="start with this card on the reader")


def start(args: argparse.Namespace, emit: Callable[[str], None]) -> RunningSimulator:
    sim = IdCardSimulator(load_profiles(args.cards), baud=args.baud, paced=args.paced)
    if args.place:
        sim.place(args.place)  # before any output: the first line printed must be the port
    sim.on_event = emit
    sim.start()
    control = ControlServer(sim.handle_control).start()
    return RunningSimulator(sim.path, control.url, sim.handle_control, [sim.close, control.close])


def run(args: argparse.Namespace) -> int:
    """Start the simulator, print the pty path and the control URL, then take commands until EOF or Ctrl-C."""
    return run_simulator(start, args)
