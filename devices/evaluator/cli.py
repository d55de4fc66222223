"""``onewindow sim evaluator``: a 好差评 pad on a pty; type ``press 4`` for a citizen pressing 满意."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from devices.common.console import RunningSimulator, run_simulator
from devices.common.control import ControlServer
from devices.evaluator.simulator import EvaluatorPadSimulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retransmit", type=float, default=1.0, metavar="SECONDS",
        help="resend an unconfirmed rating after SECONDS (default 1.0)",
    )


def start(args: argparse.Namespace, emit: Callable[[str], None]) -> RunningSimulator:
    """Start the pad without blocking; ``onewindow sim hall`` uses this to run many in one process."""
    retransmit = getattr(args, "retransmit", 1.0)
    if not 0.05 <= retransmit <= 60:
        raise ValueError(f"--retransmit must be 0.05..60 seconds, got {retransmit}")
    pad = EvaluatorPadSimulator(on_event=emit, retransmit_interval=retransmit).start()
    try:
        control = ControlServer(pad.handle_control).start()
    except BaseException:
        pad.close()
        raise
    return RunningSimulator(pad.path, control.url, pad.handle_control, [pad.close, control.close])


def run(args: argparse.Namespace) -> int:
    return run_simulator(start, args)
