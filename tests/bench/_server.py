"""A OneWindow server started as a subprocess for the benchmark, and a sampler of its memory and CPU.

Only 127.0.0.1. The server gets its own temporary SQLite database and writes stdout/stderr to a log file.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.support.server import ONEWINDOW, REPO, LiveServer, free_port

HOST = "127.0.0.1"
__all__ = ["REPO", "Sampler", "ServerFailed", "ServerProcess", "free_port", "onewindow_exe"]


def onewindow_exe() -> str:
    """The ``onewindow`` script of the interpreter running us (the project's .venv), else the repo's .venv."""
    return str(ONEWINDOW)


class ServerFailed(RuntimeError):
    """The server did not start or died; the message carries the tail of its log."""


@dataclass
class ServerProcess:
    async_mode: str
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    db_path: Path | None = None
    startup_s: float | None = None
    credentials: tuple[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        assert self.db_path is not None
        return [onewindow_exe(), "serve", "--host", HOST, "--port", str(self.port), *self._args()]

    def _args(self) -> list[str]:
        return ["--always-open", "--database", str(self.db_path), "--async-mode", self.async_mode]

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "ONEWINDOW_ASYNC_MODE"}
        env["ONEWINDOW_PERSON_SECRET"] = "bench-only-secret"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def add_supervisor(self) -> tuple[str, str]:
        """A supervisor account in the (new) database, for the window clients: window actions need a staff login
        when the hall requires one. Returns (username, password)."""
        assert self.db_path is not None
        username, password = "bench-supervisor", secrets.token_urlsafe(18)
        r = subprocess.run([onewindow_exe(), "users", "add", username, "--name", "压测主管", "--role", "supervisor",
                            "--password-stdin", "--database", str(self.db_path)], input=password + "\n", text=True,
                           capture_output=True, cwd=str(self.workdir), env=self._env(), timeout=120)
        if r.returncode != 0:
            raise ServerFailed(f"cannot add the bench supervisor: {r.stdout}{r.stderr}")
        return username, password

    def start(self, timeout: float = 60.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.workdir / f"bench-{self.async_mode}.db"
        self.log_path = self.workdir / f"server-{self.async_mode}.log"
        self.credentials = self.add_supervisor()
        self._live = LiveServer(self._args(), self.log_path, port=self.port, env=self._env(), cwd=self.workdir)
        t0 = time.monotonic()
        try:
            self._live.start(timeout)
        except RuntimeError as exc:
            raise ServerFailed(f"{str(exc).splitlines()[0]}\n{self.log_tail()}") from None
        finally:
            self.proc = self._live.proc
        self.startup_s = time.monotonic() - t0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.proc is not None:
            self._live.stop()


@dataclass
class Sample:
    t: float  # time.monotonic()
    rss: int  # bytes, server
    server_cpu: float  # seconds user+system since the server started
    gen_cpu: float  # seconds user+system of the load generator processes (this one and its workers)
    busy_cpu: float  # seconds of CPU in user+nice+system on the whole machine (all processes, all cores)
    irq_cpu: float  # seconds in irq+softirq (loopback networking runs much of its work there)
    steal_cpu: float  # seconds the hypervisor gave our virtual CPUs to someone else
    threads: int  # OS threads of the server


class Sampler:
    """Samples the server's RSS and CPU and the generator's CPU every ``interval`` seconds, in a thread."""

    def __init__(self, server_pid: int, interval: float = 0.25) -> None:
        self.server = psutil.Process(server_pid)
        self.me = psutil.Process()
        self.workers: list[psutil.Process] = []
        self.interval = interval
        self.samples: list[Sample] = []
        self._worker_cpu_final: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def add_workers(self, pids: list[int]) -> None:
        self.workers = [psutil.Process(p) for p in pids]

    def _gen_cpu(self) -> float:
        for p in [self.me, *self.workers]:
            try:
                c = p.cpu_times()
                self._worker_cpu_final[p.pid] = c.user + c.system
            except psutil.Error:
                pass  # a finished worker keeps its last reading
        return sum(self._worker_cpu_final.values())

    def sample(self) -> Sample | None:
        try:
            mem = self.server.memory_info().rss
            c = self.server.cpu_times()
            nthreads = self.server.num_threads()
        except psutil.Error:
            return None
        m = psutil.cpu_times()
        busy = m.user + m.system + getattr(m, "nice", 0.0)
        irq = getattr(m, "irq", 0.0) + getattr(m, "softirq", 0.0)
        s = Sample(time.monotonic(), mem, c.user + c.system, self._gen_cpu(), busy, irq, getattr(m, "steal", 0.0),
                   nthreads)
        self.samples.append(s)
        return s

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()

    def window(self, t0: float, t1: float) -> dict[str, float | None]:
        """Peak RSS, and CPU in cores between two monotonic times: the server's, the generator's, and that of
        everything else on the machine (other people's work shares the 2 cores and skews the figures)."""
        inside = [s for s in self.samples if t0 <= s.t <= t1]
        if len(inside) < 2 or inside[-1].t - inside[0].t <= 0:
            return {"rss_peak_mb": None, "server_cores": None, "gen_cores": None, "other_cores": None,
                    "irq_cores": None, "steal_cores": None, "server_threads_peak": None}
        a, b = inside[0], inside[-1]
        dt = b.t - a.t
        server = (b.server_cpu - a.server_cpu) / dt
        gen = (b.gen_cpu - a.gen_cpu) / dt
        busy = (b.busy_cpu - a.busy_cpu) / dt
        return {"rss_peak_mb": max(s.rss for s in inside) / 2**20, "server_cores": server, "gen_cores": gen,
                "other_cores": max(0.0, busy - server - gen), "irq_cores": (b.irq_cpu - a.irq_cpu) / dt,
                "steal_cores": (b.steal_cpu - a.steal_cpu) / dt,
                "server_threads_peak": max(s.threads for s in inside)}
