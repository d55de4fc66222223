"""``onewindow sim``: start one device simulator, send one a control command, or start a whole hall of them.

    onewindow sim led --address 3            one simulator; prints its port, then ``control: tcp://...``
    onewindow sim ctl tcp://127.0.0.1:5555 fault no_answer on
    onewindow sim hall [--config devices.toml]

Each kind lives in ``devices/<kind>/cli.py`` with ``add_arguments(parser)`` and ``run(args)``; it is imported only
when asked for, so one kind that is missing or broken does not stop the others. A kind may also offer
``start(args, emit) -> RunningSimulator`` (see devices.common.console); ``sim hall`` uses it when present and
otherwise runs the kind's ``run(args)`` in a thread with its own stdin and stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from devices.common.console import RunningSimulator, format_reply, stop_on_signals, words_to_request
from devices.common.control import ControlError, send_control
from devices.common.lifeline import follow_parent

if TYPE_CHECKING:
    from devices.stations import DevicesConfig, SimDevice

# The same kinds as devices.stations.KINDS, repeated so a single simulator starts without loading pydantic.
KINDS = ("printer", "idcard", "scanner", "camera", "led", "evaluator")

KIND_HELP = {
    "printer": "ESC/POS ticket printer",
    "idcard": "second-generation ID card reader (SAM protocol)",
    "scanner": "serial barcode/QR scanner",
    "camera": "virtual camera for QR codes",
    "led": "window-top LED screens on one RS-485 line",
    "evaluator": "好差评 evaluator pad",
}
READY_TIMEOUT = 10.0


class SimulatorUnavailable(Exception):
    """A kind's cli module is missing or cannot be imported; the message says which and why."""


def load_kind(kind: str) -> ModuleType:
    """Import ``devices.<kind>.cli`` and check it keeps the contract."""
    if kind not in KINDS:
        raise SimulatorUnavailable(f"unknown device kind {kind!r}; kinds: {', '.join(KINDS)}")
    name = f"devices.{kind}.cli"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, f"devices.{kind}"):
            raise SimulatorUnavailable(
                f"the {kind} simulator is not available in this installation (devices/{kind}/cli.py is missing)"
            ) from None
        raise SimulatorUnavailable(f"the {kind} simulator cannot load: it needs {exc.name!r}, which is missing") from None
    except Exception as exc:
        raise SimulatorUnavailable(f"the {kind} simulator cannot load: {type(exc).__name__}: {exc}") from None
    for function in ("add_arguments", "run"):
        if not callable(getattr(module, function, None)):
            raise SimulatorUnavailable(f"devices/{kind}/cli.py has no {function}(); it cannot be started")
    return module


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The ``onewindow sim`` parser; only the ``selected`` kind's module is imported to add its options."""
    parser = argparse.ArgumentParser(prog="onewindow sim", description="Run hall device simulators.")
    sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind in KINDS:
        kind_parser = sub.add_parser(kind, help=KIND_HELP[kind], description=f"Simulate the {KIND_HELP[kind]}.")
        if kind == selected:
            load_kind(kind).add_arguments(kind_parser)
    ctl = sub.add_parser("ctl", help="send one command to a running simulator's control channel")
    ctl.add_argument("control_url", help="the control URL the simulator printed, tcp://127.0.0.1:PORT")
    ctl.add_argument("words", nargs=argparse.REMAINDER, help="the command, e.g. fault no_answer on")
    ctl.add_argument("--json", action="store_true", help="print the raw JSON reply")
    hall = sub.add_parser("hall", help="start a simulator for every sim:// device in a devices file")
    hall.add_argument("--config", type=Path, help="the devices file (default: config/devices.toml)")
    hall.add_argument("--runtime-file", type=Path, help="where to write ports and ptys (default: from the file)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((word for word in argv if not word.startswith("-")), None)
    try:
        parser = build_parser(selected if selected in KINDS else None)
    except SimulatorUnavailable as exc:
        print(f"onewindow sim {selected}: {exc}", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error; argparse has already printed why
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if args.kind == "ctl":
        return ctl(args.control_url, args.words, as_json=args.json)
    if args.kind == "hall":
        return hall(args.config, args.runtime_file)
    module = load_kind(args.kind)
    stop_on_signals()  # SIGTERM/SIGINT: a clean exit (ptys and control ports closed), code 0
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 0


def ctl(control_url: str, words: list[str], as_json: bool = False) -> int:
    """Send one command; 0 if the simulator accepted it, 1 if it refused, 2 if it could not be reached."""
    try:
        request = words_to_request(words)
        reply = send_control(control_url, request)
    except ControlError as exc:
        print(f"onewindow sim ctl: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"onewindow sim ctl: cannot reach the simulator at {control_url}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(reply, ensure_ascii=False) if as_json else format_reply(reply), flush=True)
    return 0 if reply.get("ok") else 1


# -- the hall ------------------------------------------------------------------------------------------------------

_print_lock = threading.Lock()


def _say(text: str, stream: Any = None) -> None:
    out = stream or sys.stdout
    out = out.real if isinstance(out, _ThreadStdio) else out  # the hall's own lines bypass the thread routing
    with _print_lock:
        out.write(text + "\n")
        out.flush()


class _ThreadStdio(io.TextIOBase):
    """sys.stdin/sys.stdout stand-in that gives each hall thread its own stream, everyone else the real one."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.streams: dict[int, Any] = {}

    def _target(self) -> Any:
        return self.streams.get(threading.get_ident(), self.real)

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    # typeshed types readline on _IOBase (bytes) and TextIOBase does not re-declare it: a stub gap, not ours.
    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return self._target().readline(size if size is not None else -1)

    def read(self, size: int | None = -1) -> str:
        return self._target().read(size if size is not None else -1)

    def __iter__(self) -> Any:
        return iter(self.readline, "")

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    @property  # typeshed declares encoding a plain attribute of TextIOBase; a property reads the same
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


class _LineCollector(io.TextIOBase):
    """What a thread-run simulator prints: the first two lines are its URLs, the rest go out with a prefix."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            if len(self.lines) < 2:
                self.lines.append(line.strip())
                if len(self.lines) == 2:
                    self.ready.set()
            else:
                self.emit(line)
        return len(text)

    def writable(self) -> bool:
        return True


def _start_in_thread(module: ModuleType, args: argparse.Namespace, emit: Callable[[str], None], label: str) -> RunningSimulator:
    """Run a kind's blocking ``run(args)`` in a thread; its stdin stays open until the hall stops it."""
    if not isinstance(sys.stdout, _ThreadStdio):
        sys.stdout = _ThreadStdio(sys.stdout)
    if not isinstance(sys.stdin, _ThreadStdio):
        sys.stdin = _ThreadStdio(sys.stdin)
    stdout, stdin = sys.stdout, sys.stdin
    collector = _LineCollector(emit)
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "r", encoding="utf-8")
    failure: list[str] = []

    def body() -> None:
        ident = threading.get_ident()
        stdout.streams[ident] = collector
        stdin.streams[ident] = reader
        try:
            module.run(args)
        except BaseException as exc:  # report, never take the hall down
            failure.append(f"{type(exc).__name__}: {exc}")
        finally:
            stdout.streams.pop(ident, None)
            stdin.streams.pop(ident, None)
            collector.ready.set()

    thread = threading.Thread(target=body, name=f"sim-{label}", daemon=True)
    thread.start()
    collector.ready.wait(READY_TIMEOUT)

    def stop() -> None:
        with contextlib.suppress(OSError):
            os.close(write_fd)  # EOF on its stdin: a simulator's cue to stop
        thread.join(timeout=5)
        with contextlib.suppress(OSError):
            reader.close()

    if len(collector.lines) < 2 or not collector.lines[1].startswith("control: "):
        stop()
        why = failure[0] if failure else f"it did not print its URL and control URL within {READY_TIMEOUT:.0f} s"
        raise SimulatorUnavailable(why)
    handle = _remote_handler(collector.lines[1].removeprefix("control: "))
    return RunningSimulator(collector.lines[0], collector.lines[1].removeprefix("control: "), handle, [stop])


def _remote_handler(control_url: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def handle(request: dict[str, Any]) -> dict[str, Any]:
        return send_control(control_url, request)

    return handle


def _kind_args(module: ModuleType, sim: SimDevice) -> argparse.Namespace:
    """The kind's own defaults, with what the devices file says about this simulator."""
    from devices.stations import LedDevice

    parser = argparse.ArgumentParser(prog=f"onewindow sim {sim.kind}")
    module.add_arguments(parser)
    args = parser.parse_args([])
    if isinstance(sim.device, LedDevice):
        members = [sim.device, *(device for _, device in sim.sharers)]
        args.addresses = [device.address for device in members if isinstance(device, LedDevice)]
        args.rows = sim.device.rows
        args.cols = sim.device.cols
        args.quiet = True  # ten screens redrawing boxes would drown the hall's own lines
    return args


def start_simulator(sim: SimDevice, emit: Callable[[str], None]) -> RunningSimulator:
    module = load_kind(sim.kind)
    args = _kind_args(module, sim)
    starter = getattr(module, "start", None)
    if callable(starter):
        return starter(args, emit)
    return _start_in_thread(module, args, emit, f"{sim.station}-{sim.kind}")


def start_hall(config: DevicesConfig, runtime_file: Path | None = None) -> tuple[list[RunningSimulator], Path]:
    """Start every simulator the devices file asks for, print one line per device, write the runtime file."""
    from devices.stations import write_runtime

    running: list[RunningSimulator] = []
    entries: dict[str, dict[str, str]] = {}
    for name, station in config.stations.items():
        for kind, device in station.devices().items():
            if not device.is_sim:
                _say(f"{name} {kind} {device.url} - (real device: no simulator)")
    for sim in config.simulated():
        label = f"{sim.station} {sim.kind}"

        def emit(text: str, label: str = label) -> None:
            for line in text.splitlines():
                _say(f"[{label}] {line}")

        try:
            simulator = start_simulator(sim, emit)
        except (SimulatorUnavailable, OSError, ValueError) as exc:
            _say(f"{label} not started: {exc}", sys.stderr)
            continue
        running.append(simulator)
        for station_name in (sim.station, *(n for n, _ in sim.sharers)):
            entries[f"{station_name}/{sim.kind}"] = {"url": simulator.url, "control": simulator.control_url}
            _say(f"{station_name} {sim.kind} {simulator.url} {simulator.control_url}")
    path = runtime_file or config.runtime_file
    write_runtime(path, config.path, entries)
    return running, path


def hall(config_path: Path | None, runtime_file: Path | None = None) -> int:
    from devices.stations import DevicesConfigError, load_devices

    try:
        config = load_devices(config_path)
    except DevicesConfigError as exc:
        print(f"onewindow sim hall: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # Set both explicitly: a process started in the background by a non-interactive shell inherits
        # SIGINT ignored, and Ctrl-C (or a supervisor's SIGINT) must still stop the hall.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        follow_parent()  # started by `onewindow hall`: stop when it does, even if it is killed
    running: list[RunningSimulator] = []
    path: Path | None = None
    saved_stdio = sys.stdin, sys.stdout
    try:
        running, path = start_hall(config, runtime_file)
        if not running:
            _say("onewindow sim hall: no simulator started", sys.stderr)
            return 1
        _say(f"# {len(running)} simulators running; runtime file {path}; Ctrl-C stops them")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        # in parallel: each control server takes up to half a second to shut down, and a hall has dozens
        closing = [threading.Thread(target=simulator.close, daemon=True) for simulator in running]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join(timeout=10)
        if path is not None:
            _remove_runtime(path)
        sys.stdin, sys.stdout = saved_stdio
    return 0


def _remove_runtime(path: Path) -> None:
    """Remove the runtime file if it is still ours, so drivers say "not running" instead of opening dead ptys."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()


if __name__ == "__main__":
    sys.exit(main())
