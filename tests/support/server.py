"""The one launcher of a live ``onewindow serve`` for tests and benchmarks: 127.0.0.1, a free port, a log file.

It can be stopped, killed (SIGKILL, like a power cut) and started again on the same port and database; every
start appends to the same log, marked, so a failing test shows the whole story.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
ONEWINDOW = Path(sys.executable).with_name("onewindow")
if not ONEWINDOW.exists():  # pragma: no cover - a venv without the console script
    ONEWINDOW = REPO / ".venv" / "bin" / "onewindow"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``onewindow serve --host 127.0.0.1 --port PORT ARGS...`` as a subprocess (``args`` name the database)."""

    def __init__(self, args: Sequence[str], log_path: Path, *, port: int | None = None,
                 env: dict[str, str] | None = None, cwd: Path | None = None, name: str = "server") -> None:
        self.name, self.args, self.log_path = name, list(args), log_path
        self.port = port or free_port()
        self.env = env
        self.cwd = cwd or log_path.parent
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/api/v1"

    def argv(self) -> list[str]:
        return [str(ONEWINDOW), "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args]

    def start(self, timeout: float = 30.0) -> LiveServer:
        """Start and wait until ``/api/v1/health`` answers 200; RuntimeError with the log otherwise."""
        cmd = self.argv()
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=self.env, cwd=self.cwd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} while starting:\n"
                                   + self.log_text())
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.api}/health", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer /api/v1/health within {timeout:g} s:\n" + self.log_text())

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill9(self) -> None:
        """Like a crash or a power cut: SIGKILL, no goodbye to the clients."""
        assert self.proc is not None and self.proc.poll() is None, f"{self.name} is not running"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
