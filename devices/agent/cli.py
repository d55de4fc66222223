"""``onewindow agent``: run one station's device agent until Ctrl-C or SIGTERM.

    onewindow agent --config config/devices.toml --station kiosk-1 [--server http://127.0.0.1:5000]
                    [--state-dir var/] [--window-id w01] [--runtime-file var/sim-hall.json]
                    [--token-file /etc/onewindow/kiosk-1.token]

Logs go to stderr, with ID and phone numbers masked; card contents never appear in them.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.agent.agent import Agent, AgentError
from devices.agent.privacy import RedactingFilter
from devices.common.lifeline import follow_parent
from devices.stations import DevicesConfigError, load_devices

TOKEN_ENV = "ONEWINDOW_DEVICE_TOKEN"


def read_token(path: Path | None) -> str | None:
    """The device token from ``path`` (first line) or the environment; a secret, so never printed."""
    if path is not None:
        try:
            token = path.read_text(encoding="utf-8").strip().splitlines()
        except OSError as exc:
            raise AgentError(f"cannot read the token file {path}: {exc.strerror or exc}") from None
        if not token or not token[0].strip():
            raise AgentError(f"the token file {path} is empty; put the token `onewindow devices token` gave in it")
        return token[0].strip()
    return os.environ.get(TOKEN_ENV, "").strip() or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onewindow agent",
        description="Open a station's devices, report their health to the queue server, forward inputs "
        "(card read, code scanned, rating given) and carry out commands (print, LED, evaluation).",
    )
    parser.add_argument("--config", type=Path, help="the devices file (default: the bundled config/devices.toml)")
    parser.add_argument("--station", required=True, help="the station this PC is, e.g. kiosk-1 or window-3")
    parser.add_argument("--server", default="http://127.0.0.1:5000", help="the queue server (default %(default)s)")
    parser.add_argument("--state-dir", type=Path,
                        help="where the outbox and state live (default: the directory of the sim runtime file, "
                        "the repository's var/)")
    parser.add_argument("--window-id", help="the hall window of a window station (default: window-N -> wNN)")
    parser.add_argument("--runtime-file", type=Path,
                        help="the running `onewindow sim hall`'s runtime file, for sim:// devices (default: from "
                        "the devices file)")
    parser.add_argument("--token-file", type=Path,
                        help="a file holding this station's device token (onewindow devices token STATION); "
                        f"else the {TOKEN_ENV} environment variable; else the agent names itself (halls without "
                        "required login)")
    parser.add_argument("--heartbeat", type=float, default=30.0, metavar="SECONDS",
                        help="resend every device's health this often (default %(default)s)")
    parser.add_argument("--reconnect-max", type=float, default=30.0, metavar="SECONDS",
                        help="longest wait between attempts to reach the server (default %(default)s)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def _setup_logging(level: str) -> Callable[[], None]:
    """Agent logs to stderr, numbers masked; returns how to undo it (main() may run inside another program)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("devices")
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    # socket.io's and the HTTP client's own loggers say nothing an operator needs; keep them to warnings
    quiet = {name: logging.getLogger(name).level for name in ("socketio", "engineio", "urllib3", "websocket")}
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        for name, old in quiet.items():
            logging.getLogger(name).setLevel(old)

    return undo


def main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return int(exc.code) if isinstance(exc.code, int) else 2
    if args.heartbeat <= 0 or args.reconnect_max < 0.5:
        print("onewindow agent: --heartbeat must be more than 0 seconds, --reconnect-max at least 0.5",
              file=sys.stderr)
        return 2
    undo_logging = _setup_logging(args.log_level)
    try:
        return _run(args)
    finally:
        undo_logging()


def _run(args: argparse.Namespace) -> int:
    try:
        token = read_token(args.token_file)
        config = load_devices(args.config)
        state_dir = args.state_dir or config.runtime_file.parent
        agent = Agent(config, args.station, args.server, state_dir, window_id=args.window_id,
                      runtime_file=args.runtime_file, heartbeat=args.heartbeat,
                      reconnect_max=args.reconnect_max, token=token)
    except (DevicesConfigError, AgentError) as exc:
        print(f"onewindow agent: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"onewindow agent: cannot use the state directory: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    saved: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            saved[signum] = signal.signal(signum, lambda *_: stop.set())
        follow_parent()  # started by `onewindow hall`: stop when it does, even if it is killed
    try:
        agent.run(stop)
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
