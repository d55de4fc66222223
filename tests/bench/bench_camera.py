"""Benchmark: QR/barcode decode time per 640x480 and 1280x720 frame, OpenCV against pyzbar (zbar).

Run: .venv/bin/python -m tests.bench.bench_camera [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import barcode
import cv2
import numpy as np
from barcode.writer import ImageWriter
from pyzbar import pyzbar

from devices.camera.codec import ONE_D_SYMBOLS, FrameDecoder
from devices.camera.simulator import BACKGROUND, VirtualCamera, fit_into

TEXT = "合作市政务服务中心|不动产登记|预约号 A001|2026-11-26 09:30"
SIZES = ((640, 480), (1280, 720))


def timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first calls allocate
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def frames(width: int, height: int) -> dict[str, np.ndarray]:
    camera = VirtualCamera(width, height, seed=1)
    camera.show_text(TEXT)
    camera.set_noise(8)
    _, qr = camera.read()
    image = barcode.get("ean13", "690123456789", writer=ImageWriter()).render()
    ean = fit_into(np.array(image.convert("RGB"))[:, :, ::-1].copy(), width, height)
    blank = np.full((height, width, 3), BACKGROUND, np.uint8)
    return {"QR (Chinese)": qr, "EAN-13": ean, "empty": blank}


def main(repeats: int = 20) -> None:
    detector = cv2.QRCodeDetector()
    one_d = [getattr(pyzbar.ZBarSymbol, name) for name in ONE_D_SYMBOLS if hasattr(pyzbar.ZBarSymbol, name)]
    qr_only = [pyzbar.ZBarSymbol.QRCODE]
    decoder = FrameDecoder()
    print(f"decode time per frame, median of {repeats} (ms); grey conversion included in the pipeline only")
    print(
        f"  {'frame':22} {'OpenCV QR':>10} {'OpenCV multi':>13} {'zbar QR':>8} {'zbar 1-D':>9} {'pipeline':>9}"
    )
    for width, height in SIZES:
        for name, frame in frames(width, height).items():
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            row = [
                timed(lambda g=gray: detector.detectAndDecode(g), repeats),
                timed(lambda g=gray: detector.detectAndDecodeMulti(g), repeats),
                timed(lambda g=gray: pyzbar.decode(g, symbols=qr_only), repeats),
                timed(lambda g=gray: pyzbar.decode(g, symbols=one_d), repeats),
                timed(lambda f=frame: decoder.decode(f), repeats),
            ]
            found = ", ".join(f"{d.symbology}:{d.decoder}" for d in decoder.decode(frame)) or "none"
            label = f"{width}x{height} {name}"
            print(
                f"  {label:22} {row[0]:10.1f} {row[1]:13.1f} {row[2]:8.1f} {row[3]:9.1f} {row[4]:9.1f}   found {found}"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
