"""LED screen figures: request/reply round trips over a real pty, and what the frames cost on a 9600-baud bus.

Run: .venv/bin/python -m tests.bench.bench_led
"""

from __future__ import annotations

import statistics
import time

from devices.led import codec
from devices.led.codec import ScreenContent
from devices.led.driver import RS485Bus, RS485WindowScreen
from devices.led.simulator import LedBusSimulator

ROUNDS = 300


def _figures(label: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"{label:<44} median {statistics.median(samples) * 1000:6.2f} ms   p95 {p95 * 1000:6.2f} ms   n={len(samples)}")


def main() -> None:
    content = ScreenContent.for_window(3, ticket="A001", staff="王丽娜", notice="请A001号到3号窗口办理，谢谢")
    frame = codec.encode_frame(codec.show_request(3, 1, content))
    print(f"a 4-line SHOW frame: {len(frame)} bytes = {len(frame) * 10 / 9600 * 1000:.1f} ms on the wire at 9600 8N1")
    with LedBusSimulator([3, 4], seed=7) as sim:
        bus = RS485Bus(sim.path, timeout=0.3, retries=2)
        screen = RS485WindowScreen(bus, 3)
        for label, action in [("show (4 lines) over a pty", lambda: screen.show(content)), ("ping over a pty", screen.ping)]:
            samples = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                action()
                samples.append(time.perf_counter() - started)
            _figures(label, samples)
        sim.set_fault("garbage")
        samples = []
        for _ in range(ROUNDS // 3):
            started = time.perf_counter()
            screen.ping()
            samples.append(time.perf_counter() - started)
        _figures("ping with noise before every reply", samples)
        sim.set_fault("garbage", on=False)
        started = time.perf_counter()
        for _ in range(20):
            sim.render_png(3)
        print(f"render the screen as PNG: {(time.perf_counter() - started) / 20 * 1000:.1f} ms each")
        bus.close()
    decoder = codec.FrameDecoder()
    stream = frame * 2000
    started = time.perf_counter()
    decoded = decoder.feed(stream)
    elapsed = time.perf_counter() - started
    print(f"decoder throughput: {len(stream) / elapsed / 1e6:.1f} MB/s ({len(decoded)} frames)")


if __name__ == "__main__":
    main()
