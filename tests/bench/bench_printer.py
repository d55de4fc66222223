"""Benchmark: a typical ticket from the "print" call to its last byte at the printer, over TCP and a pty.

Run: .venv/bin/python -m tests.bench.bench_printer [tickets]

"Last byte on the wire" is the moment the simulator receives the ticket's cut command (the last command of a
ticket). The call includes rendering, the status check before printing (DLE EOT 1-4) and sending. A pty moves
bytes at memory speed, so the time a real serial line adds at its baud rate is printed beside it. Confirmed
printing (GS r 1 answered after the cut) is also timed at 0 mm/s and at a real printer's 200 mm/s.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from devices.common.pacing import wire_seconds
from devices.printer.codec import render
from devices.printer.driver import PrinterDriver
from devices.printer.samples import typical_ticket
from devices.printer.simulator import PrinterSimulator
from devices.printer.transcript import transcribe

WARMUP = 3


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def row(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"  {name:34} {min(ms):8.2f} {statistics.median(ms):8.2f} {percentile(ms, 0.95):8.2f} "
            f"{max(ms):8.2f}")


def timed(action: Callable[[], object], count: int) -> list[float]:
    for _ in range(WARMUP):
        action()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def to_last_byte(transport: str, count: int, check_status: bool) -> tuple[list[float], list[float]]:
    """(call -> last ticket byte received, call -> return) for ``count`` tickets."""
    document = typical_ticket()
    wire, call = [], []
    with PrinterSimulator(transport=transport, control=False) as sim, PrinterDriver.open(sim.url) as driver:
        for index in range(WARMUP + count):
            before = len(sim.cut_received_at)
            started = time.perf_counter()
            driver.print_document(document, check_status=check_status)
            returned = time.perf_counter()
            deadline = time.monotonic() + 5
            while len(sim.cut_received_at) == before and time.monotonic() < deadline:
                time.sleep(0.0002)
            if index >= WARMUP:
                wire.append(sim.cut_received_at[-1] - started)
                call.append(returned - started)
        sim.wait_idle()
    return wire, call


def confirmed(transport: str, count: int, speed: float) -> list[float]:
    document = typical_ticket()
    with PrinterSimulator(transport=transport, speed_mm_s=speed, control=False) as sim, \
            PrinterDriver.open(sim.url) as driver:
        return timed(lambda: driver.print_document(document, confirm=True), count)


def main(count: int = 50) -> None:
    document = typical_ticket()
    data = render(document)
    length_mm = transcribe(data)[0].height_dots / 8
    raster_bytes = len(render(document, "zh-80-raster-qr"))
    print(f"Typical ticket: {len(data)} bytes (native QR; {raster_bytes} bytes with a rasterised QR), "
          f"{length_mm:.0f} mm of paper; {count} tickets per figure")
    print(f"  {'':34} {'min':>8} {'median':>8} {'p95':>8} {'max':>8}  (ms)")
    print(row("render document -> ESC/POS", timed(lambda: render(document), count)))
    for transport in ("tcp", "pty"):
        with PrinterSimulator(transport=transport, control=False) as sim, PrinterDriver.open(sim.url) as driver:
            print(row(f"{transport}: status (DLE EOT 1-4)", timed(driver.status, count)))
        wire, call = to_last_byte(transport, count, check_status=True)
        print(row(f"{transport}: print -> last byte on the wire", wire))
        print(row(f"{transport}: print call returns (+ probe)", call))
        wire, _ = to_last_byte(transport, count, check_status=False)
        print(row(f"{transport}: same, no status check first", wire))
        print(row(f"{transport}: confirmed print at 0 mm/s", confirmed(transport, count, 0)))
        print(row(f"{transport}: confirmed print at 200 mm/s", confirmed(transport, max(5, count // 10), 200)))
    for baud in (115200, 9600):
        print(f"  a real serial line at {baud} baud adds {wire_seconds(len(data), baud) * 1000:.0f} ms "
              f"({wire_seconds(raster_bytes, baud) * 1000:.0f} ms with a rasterised QR)")
    print(f"  paper motion alone at 200 mm/s: {length_mm / 200 * 1000:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
