"""Evaluator pad figures over a real pty: START answered, a press reaching the window, and how long a whole
`onewindow sim hall` of the shipped devices file takes to start.

Run: .venv/bin/python -m tests.bench.bench_evaluator
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devices.evaluator.driver import EvaluatorPad
from devices.evaluator.simulator import EvaluatorPadSimulator

ROUNDS = 200
REPO = Path(__file__).resolve().parents[2]


def _figures(label: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"{label:<44} median {statistics.median(samples) * 1000:6.2f} ms   p95 {p95 * 1000:6.2f} ms   n={len(samples)}")


def main() -> None:
    with EvaluatorPadSimulator() as sim, EvaluatorPad(sim.path) as pad:
        begin, rated = [], []
        for i in range(ROUNDS):
            started = time.perf_counter()
            session = pad.begin(f"A{i:03d}", "王丽娜", "综合受理岗", "3号窗口", timeout_s=60)
            begin.append(time.perf_counter() - started)
            started = time.perf_counter()
            sim.press(5)
            pad.wait(session)
            rated.append(time.perf_counter() - started)
        _figures("START -> OK (session open)", begin)
        _figures("press on the pad -> result at the window", rated)

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        hall = subprocess.Popen(
            [sys.executable, "-c", "import sys; from devices.sim_cli import main; sys.exit(main(sys.argv[1:]))",
             "hall", "--runtime-file", f"{tmp}/sim-hall.json"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
        )
        assert hall.stdout is not None
        devices = 0
        for line in hall.stdout:
            if line.startswith("# "):
                break
            devices += not line.startswith("[")
        up = time.perf_counter() - started
        hall.send_signal(2)
        started = time.perf_counter()
        hall.wait(timeout=30)
        down = time.perf_counter() - started
        hall.stdout.close()
        print(f"sim hall (shipped devices file): {devices} devices up in {up:.2f} s, stopped in {down:.2f} s")


if __name__ == "__main__":
    main()
