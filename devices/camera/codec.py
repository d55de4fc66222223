"""Camera frames -> codes, and the debounce that makes one code held in view one scan. No capture here.

QR codes are decoded by OpenCV's QRCodeDetector, which returns UTF-8 content (Chinese included) correctly;
1-D barcodes by zbar (pyzbar), which OpenCV's QR detector cannot read. zbar also reads QR codes, but some
zbar builds take UTF-8 content for Shift-JIS and mangle Chinese, so its QR results are used only when OpenCV
found none, and repaired when they carry that mangling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

# zbar's 1-D symbologies (names as pyzbar's ZBarSymbol members).
ONE_D_SYMBOLS = (
    "EAN13", "EAN8", "UPCA", "UPCE", "ISBN10", "ISBN13", "I25", "CODE39", "CODE93", "CODE128", "CODABAR",
    "DATABAR", "DATABAR_EXP",
)  # fmt: skip


class FrameError(ValueError):
    """Something that is not an image frame was handed to the decoder."""


class ZbarUnavailable(RuntimeError):
    """pyzbar is there but the zbar shared library is not."""


@dataclass(frozen=True)
class Detection:
    """One code found in one frame."""

    text: str
    symbology: str  # "QRCODE", "EAN13", "CODE128", ...
    decoder: str  # "opencv" or "zbar"
    polygon: tuple[tuple[int, int], ...] = ()


def to_gray(frame: Any) -> np.ndarray:
    """A BGR, BGRA or grey uint8 frame as grey; raises FrameError saying what the frame was instead."""
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"a frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise FrameError(f"a frame must be 8-bit (uint8), got {frame.dtype}")
    if frame.ndim == 2:
        gray = frame
    elif frame.ndim == 3 and frame.shape[2] == 3:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    else:
        raise FrameError(f"a frame must be H x W (grey) or H x W x 3/4 (BGR/BGRA), got shape {frame.shape}")
    if gray.shape[0] < 8 or gray.shape[1] < 8:
        raise FrameError(f"frame of {gray.shape[1]}x{gray.shape[0]} pixels is too small to hold a code")
    return gray


def repair_shift_jis_mangling(text: str) -> str:
    """Undo zbar reading UTF-8 bytes as Shift-JIS: if the text re-encodes to SJIS bytes that are valid UTF-8."""
    if text.isascii():
        return text
    try:
        return text.encode("shift_jis").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _zbar() -> Any:
    try:
        from pyzbar import pyzbar  # the zbar shared library loads at import time
    except ImportError as exc:
        raise ZbarUnavailable(
            f"1-D barcodes are read with zbar, which could not be loaded ({exc}): apt-get install libzbar0"
        ) from None
    return pyzbar


class FrameDecoder:
    """Finds QR codes (OpenCV) and 1-D barcodes (zbar) in a frame. Keep one per thread: detectors hold state."""

    def __init__(
        self,
        qr: bool = True,
        barcodes: bool = True,
        zbar_qr_fallback: bool = True,
        multiple_qr: bool = False,
        scan_all: bool = False,
        denoise: bool = True,
    ) -> None:
        """``multiple_qr``: look for several QR codes per frame (slower; a citizen shows one at a time).
        ``scan_all``: look for 1-D codes even in a frame where a QR code was found (slower).
        ``denoise``: blur 3x3 first: both detectors spend several times longer on sensor noise (measured: an
        empty noisy 720p frame, 250 ms in OpenCV's QR detector raw, 35 ms blurred).
        """
        self._qr = cv2.QRCodeDetector() if qr else None
        self._multiple_qr = multiple_qr
        self._scan_all = scan_all
        self._denoise = denoise
        self._barcodes = barcodes
        self._zbar_qr = zbar_qr_fallback and qr
        self._symbols: list[Any] | None = None
        if barcodes or self._zbar_qr:
            pyzbar = _zbar()
            names = list(ONE_D_SYMBOLS if barcodes else ()) + (["QRCODE"] if self._zbar_qr else [])
            self._pyzbar = pyzbar
            self._symbols = [
                getattr(pyzbar.ZBarSymbol, name) for name in names if hasattr(pyzbar.ZBarSymbol, name)
            ]

    def decode(self, frame: Any) -> list[Detection]:
        """Codes in ``frame``; anything that is not an 8-bit image big enough to hold a code raises FrameError
        (the only error this raises for any input)."""
        gray = to_gray(frame)
        if self._denoise:
            gray = cv2.GaussianBlur(gray, (3, 3), 0)
        found = self.decode_qr(gray) if self._qr is not None else []
        if self._symbols and (self._scan_all or not found):
            for detection in self.decode_zbar(gray):
                if detection.symbology == "QRCODE" and found:
                    continue  # OpenCV read the QR codes already, and reads their UTF-8 right
                found.append(detection)
        return found

    def decode_qr(self, gray: np.ndarray) -> list[Detection]:
        """QR codes through OpenCV only."""
        assert self._qr is not None
        try:
            if not self._multiple_qr:
                text, points, _ = self._qr.detectAndDecode(gray)
                if not text:
                    return []
                polygon = tuple((int(x), int(y)) for x, y in points.reshape(-1, 2)) if points is not None else ()
                return [Detection(text, "QRCODE", "opencv", polygon)]
            ok, texts, points, _ = self._qr.detectAndDecodeMulti(gray)
        except cv2.error:
            # OpenCV's detector asserts on some degenerate frames (hypothesis found one); a frame it cannot
            # read holds no code for us, and the camera goes on to the next frame.
            return []
        if not ok:
            return []
        out = []
        for index, text in enumerate(texts):
            if text:
                polygon = tuple((int(x), int(y)) for x, y in points[index]) if points is not None else ()
                out.append(Detection(text, "QRCODE", "opencv", polygon))
        return out

    def decode_zbar(self, gray: np.ndarray) -> list[Detection]:
        """1-D codes (and QR as a fallback) through zbar only."""
        out = []
        for result in self._pyzbar.decode(gray, symbols=self._symbols):
            text = result.data.decode("utf-8", errors="replace")
            if result.type == "QRCODE":
                text = repair_shift_jis_mangling(text)
            polygon = tuple((int(p.x), int(p.y)) for p in result.polygon)
            out.append(Detection(text, result.type, "zbar", polygon))
        return out


class Debouncer:
    """One scan per appearance: a code counts again only after it has been out of view for ``absent_frames``
    consecutive frames or ``absent_seconds``, whichever comes first (None disables a rule)."""

    def __init__(self, absent_frames: int | None = 10, absent_seconds: float | None = 1.0) -> None:
        if absent_frames is None and absent_seconds is None:
            raise ValueError(
                "give absent_frames, absent_seconds or both: with neither a code would never repeat"
            )
        if absent_frames is not None and absent_frames < 1:
            raise ValueError(f"absent_frames must be >= 1, got {absent_frames}")
        if absent_seconds is not None and absent_seconds <= 0:
            raise ValueError(f"absent_seconds must be > 0, got {absent_seconds}")
        self.absent_frames = absent_frames
        self.absent_seconds = absent_seconds
        self._seen: dict[str, tuple[float, int]] = {}  # text -> (last seen, frames missed since)

    def update(self, texts: Iterable[str], now: float) -> list[str]:
        """The codes in this frame that are new appearances, in the order given."""
        present = list(dict.fromkeys(texts))
        for text in list(self._seen):
            if text in present:
                continue
            last, missed = self._seen[text]
            missed += 1
            gone_frames = self.absent_frames is not None and missed >= self.absent_frames
            gone_time = self.absent_seconds is not None and now - last >= self.absent_seconds
            if gone_frames or gone_time:
                del self._seen[text]
            else:
                self._seen[text] = (last, missed)
        new = [text for text in present if text not in self._seen]
        for text in present:
            self._seen[text] = (now, 0)
        return new

    def reset(self) -> None:
        self._seen.clear()
