"""``onewindow sim led``: LED screens on one simulated RS-485 line, each printing what it shows."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from devices.common.console import RunningSimulator, run_simulator
from devices.common.control import ControlServer
from devices.led.render import ScreenView, render_png, render_text_box
from devices.led.simulator import LedBusSimulator


def _address(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"screen address must be a number 1..254, got {text!r}") from None
    if not 1 <= value <= 254:
        raise argparse.ArgumentTypeError(f"screen address {value} is out of range; allowed 1..254")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address", "-a", type=_address, action="append", dest="addresses", metavar="N",
        help="a screen address on this line (repeat for several screens on one bus; default 1)",
    )
    parser.add_argument("--rows", type=int, default=4, help="text rows per screen (default 4)")
    parser.add_argument("--cols", type=int, default=24, help="columns per row, a CJK character takes two (default 24)")
    parser.add_argument("--png-dir", type=Path, help="redraw DIR/led-<address>.png after every change")
    parser.add_argument("--quiet", action="store_true", help="do not print the screen after every change")


def start(args: argparse.Namespace, emit: Callable[[str], None]) -> RunningSimulator:
    """Start the line without blocking; ``onewindow sim hall`` uses this to run many in one process."""
    png_dir: Path | None = getattr(args, "png_dir", None)
    if png_dir is not None:
        png_dir.mkdir(parents=True, exist_ok=True)
    quiet = getattr(args, "quiet", False)

    def on_update(view: ScreenView) -> None:
        if not quiet:
            emit(render_text_box(view, mask=True))
        if png_dir is not None:
            (png_dir / f"led-{view.address}.png").write_bytes(render_png(view))

    sim = LedBusSimulator(args.addresses or [1], rows=args.rows, cols=args.cols, on_update=on_update).start()
    try:
        control = ControlServer(sim.handle_control).start()
    except BaseException:
        sim.close()
        raise
    return RunningSimulator(sim.path, control.url, sim.handle_control, [sim.close, control.close])


def run(args: argparse.Namespace) -> int:
    return run_simulator(start, args)
