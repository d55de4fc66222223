"""Benchmark: a full ID-card read cycle (find -> select -> read) against the simulator paced at 115200 baud.

Run: .venv/bin/python -m tests.bench.bench_idcard [cycles]
"""

from __future__ import annotations

import statistics
import sys
import time

from devices.common.pacing import wire_seconds
from devices.idcard.codec import Command, encode_command
from devices.idcard.driver import IdCardReader
from devices.idcard.profiles import load_profiles
from devices.idcard.simulator import IdCardSimulator


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main(cycles: int = 30) -> None:
    cards = load_profiles()
    steps: dict[str, list[float]] = {"find": [], "select": [], "read": [], "cycle": []}
    with IdCardSimulator(cards, baud=115200, paced=True) as sim, IdCardReader.open(sim.path) as reader:
        names = sorted(cards)
        for index in range(cycles):
            sim.lift()
            sim.place(names[index % len(names)])
            t0 = time.perf_counter()
            assert reader.find_card()
            t1 = time.perf_counter()
            reader.select_card()
            t2 = time.perf_counter()
            reader.read_selected()
            t3 = time.perf_counter()
            for name, value in (
                ("find", t1 - t0),
                ("select", t2 - t1),
                ("read", t3 - t2),
                ("cycle", t3 - t0),
            ):
                steps[name].append(value * 1000)
    host = sum(
        len(encode_command(c)) for c in (Command.FIND_CARD, Command.SELECT_CARD, Command.READ_TEXT_PHOTO)
    )
    wire = wire_seconds(15 + 19 + 1295 + host, 115200) * 1000
    print(f"ID-card read cycle at 115200 baud, {cycles} cycles (simulator paced to the line speed)")
    print(f"  wire time of all bytes both ways: {wire:.1f} ms")
    print(f"  {'step':8} {'min':>8} {'median':>8} {'p95':>8} {'max':>8}  (ms)")
    for name, values in steps.items():
        print(
            f"  {name:8} {min(values):8.1f} {statistics.median(values):8.1f} "
            f"{percentile(values, 0.95):8.1f} {max(values):8.1f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
