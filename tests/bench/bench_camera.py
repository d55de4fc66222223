"""Benchmark: QR/barcode decode time per 640x480 and 1280x720 frame, OpenCV against pyzbar (zbar).

Frames come from the virtual camera with mild sensor noise (sigma 8), which is what makes zbar slow.
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
from devices.camera.simulator import VirtualCamera

TEXT = "合作市政务服务中心|不动产登记|预约号 A001|2026-11-26 09:30"
SIZES = ((640, 480), (1280, 720))


def timed(fn: Callable[[], object], repeats: int) -> str:
    fn()  # warm-up: first calls allocate
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return f"{min(samples):.1f}/{statistics.median(samples):.1f}"


def frames(width: int, height: int) -> dict[str, np.ndarray]:
    ean = barcode.get("ean13", "690123456789", writer=ImageWriter()).render()
    scenes = {
        "QR (Chinese)": None,
        "EAN-13": np.array(ean.convert("RGB"))[:, :, ::-1].copy(),
        "empty": "blank",
    }
    out = {}
    for name, scene in scenes.items():
        camera = VirtualCamera(width, height, seed=1)
        if scene is None:
            camera.show_text(TEXT)
        elif isinstance(scene, np.ndarray):
            camera.show_frame(scene, name)
        camera.set_noise(8)
        out[name] = camera.read()[1]
    return out


def main(repeats: int = 20) -> None:
    detector = cv2.QRCodeDetector()
    one_d = [getattr(pyzbar.ZBarSymbol, name) for name in ONE_D_SYMBOLS if hasattr(pyzbar.ZBarSymbol, name)]
    qr_only = [pyzbar.ZBarSymbol.QRCODE]
    decoder = FrameDecoder()
    columns = ("OpenCV QR", "OpenCV multi", "zbar QR", "zbar 1-D", "zbar 1-D blur", "pipeline")
    print(f"decode time per frame in ms, min/median of {repeats}; 'pipeline' is FrameDecoder's defaults")
    print(f"  {'frame':22}" + "".join(f"{c:>15}" for c in columns))
    for width, height in SIZES:
        for name, frame in frames(width, height).items():
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            row = [
                timed(lambda g=gray: detector.detectAndDecode(g), repeats),
                timed(lambda g=gray: detector.detectAndDecodeMulti(g), repeats),
                timed(lambda g=gray: pyzbar.decode(g, symbols=qr_only), repeats),
                timed(lambda g=gray: pyzbar.decode(g, symbols=one_d), repeats),
                timed(lambda g=gray: pyzbar.decode(cv2.GaussianBlur(g, (3, 3), 0), symbols=one_d), repeats),
                timed(lambda f=frame: decoder.decode(f), repeats),
            ]
            found = ", ".join(f"{d.symbology} by {d.decoder}" for d in decoder.decode(frame)) or "nothing"
            label = f"{width}x{height} {name}"
            print(f"  {label:22}" + "".join(f"{cell:>15}" for cell in row) + f"   found {found}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
