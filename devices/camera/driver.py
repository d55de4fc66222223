"""Camera QR/barcode reader: opens a camera, a network stream, or a video/image file with OpenCV and yields
each code once per appearance.

Sources (``CameraReader.open(source)``):

- ``0``, ``"1"``: a camera by index; ``/dev/video0``: a V4L2 camera node
- ``tcp://host:port``: a raw MJPEG stream (what the virtual camera serves); ``http://``/``rtsp://``: IP cameras
- ``ticket.png`` (png/jpg/bmp/webp/tif): one still image, repeated; any other file: a video
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from devices.camera.codec import Debouncer, FrameDecoder
from devices.common.scans import ScannedCode

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
# FFmpeg probes a live stream for seconds by default; a raw MJPEG stream needs no probing.
_LOW_LATENCY_OPTIONS = "probesize;32|analyzeduration;0|fflags;nobuffer"
_ENV_LOCK = threading.Lock()


class CameraError(Exception):
    """Base of camera errors."""


class CameraUnavailable(CameraError):
    """The source could not be opened; the message says which and what to check."""


class CameraLost(CameraError):
    """A live camera stopped delivering frames (unplugged, stream closed)."""


class FrameSource(Protocol):
    """What the reader needs from a capture: ``cv2.VideoCapture``'s ``read``/``release`` plus two facts."""

    live: bool  # a camera or stream (a failed read means trouble) rather than a file (a failed read means the end)
    description: str

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...

    def timestamp(self) -> float:
        """Seconds on the source's clock: wall time when live, media time for a file."""
        ...


class CaptureSource:
    """A ``cv2.VideoCapture`` with the facts the reader needs."""

    def __init__(self, capture: cv2.VideoCapture, live: bool, description: str) -> None:
        self._capture = capture
        self.live = live
        self.description = description

    def read(self) -> tuple[bool, np.ndarray | None]:
        return self._capture.read()

    def release(self) -> None:
        self._capture.release()

    def timestamp(self) -> float:
        if self.live:
            return time.monotonic()
        return self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0

    def get(self, prop: int) -> float:
        return self._capture.get(prop)


class StillImageSource:
    """One image file as a camera that keeps showing it (``repeat`` frames, or for ever when None)."""

    live = False

    def __init__(self, path: Path, repeat: int | None = 1, fps: float = 10.0) -> None:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise CameraUnavailable(f"{path} is not an image OpenCV can read (png, jpg, bmp, webp, tif)")
        self._image = image
        self._left = repeat
        self._fps = fps
        self._frames = 0
        self.description = str(path)

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self._left is not None:
            if self._left <= 0:
                return False, None
            self._left -= 1
        self._frames += 1
        return True, self._image.copy()

    def release(self) -> None:
        self._left = 0

    def timestamp(self) -> float:
        return self._frames / self._fps


def _open_capture(target: str | int, api: int, params: tuple[int, ...] = ()) -> cv2.VideoCapture:
    capture = cv2.VideoCapture()
    capture.open(target, api, list(params))
    return capture


def open_source(source: str | int | Path, width: int | None = None, height: int | None = None) -> FrameSource:
    """Turn a source spec (see the module docstring) into an opened frame source."""
    text = str(source)
    if isinstance(source, int) or text.isdigit():
        capture = _open_capture(int(text), cv2.CAP_ANY)
        what, live = f"camera {text}", True
    elif text.startswith("/dev/video"):
        capture = _open_capture(text, cv2.CAP_V4L2)
        what, live = f"camera {text}", True
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        if scheme not in ("tcp", "http", "https", "rtsp", "udp"):
            raise CameraUnavailable(
                f"{text!r}: unsupported scheme {scheme!r}; use tcp://, http://, rtsp:// or a file"
            )
        with _ENV_LOCK:
            # Read by OpenCV's FFmpeg backend at open time only; keep a setting the user made.
            previous = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
            if previous is None:
                os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = _LOW_LATENCY_OPTIONS
            try:
                # FFmpeg would wait 30 s for a dead stream; a kiosk should know in a few.
                timeouts = (cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000)
                capture = _open_capture(text, cv2.CAP_FFMPEG, timeouts)
            finally:
                if previous is None:
                    os.environ.pop("OPENCV_FFMPEG_CAPTURE_OPTIONS", None)
        what, live = f"stream {text}", True
    else:
        path = Path(text)
        if not path.exists():
            raise CameraUnavailable(
                f"{text!r} is neither a camera index, a /dev/video node, a URL nor an existing file"
            )
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return StillImageSource(path)
        capture = _open_capture(text, cv2.CAP_FFMPEG)
        what, live = f"video file {text}", False
    if not capture.isOpened():
        capture.release()
        hint = (
            "is it plugged in, and may this user read /dev/video*? (the 'video' group)"
            if live and "stream" not in what
            else "is it running and reachable?"
            if live
            else "is it a video format FFmpeg reads?"
        )
        raise CameraUnavailable(f"could not open {what}: {hint}")
    if live and "stream" not in what:
        # Keep one frame queued: when decoding is slower than the camera, read the newest frame, not a stale one.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    if live and width and height:
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    return CaptureSource(capture, live, what)


class CameraReader:
    """Reads frames from a source and yields each code once per appearance (see :class:`Debouncer`)."""

    def __init__(
        self,
        source: FrameSource,
        decoder: FrameDecoder | None = None,
        debouncer: Debouncer | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``clock``: seconds for the debounce; default is the source's own (media time for files)."""
        self._source = source
        self._decoder = decoder or FrameDecoder()
        self._debouncer = debouncer or Debouncer()
        self._clock = clock or source.timestamp
        self.frames = 0

    @classmethod
    def open(
        cls,
        source: str | int | Path,
        width: int | None = None,
        height: int | None = None,
        absent_frames: int | None = 10,
        absent_seconds: float | None = 1.0,
    ) -> CameraReader:
        return cls(open_source(source, width, height), debouncer=Debouncer(absent_frames, absent_seconds))

    @property
    def source(self) -> FrameSource:
        return self._source

    def close(self) -> None:
        self._source.release()

    def __enter__(self) -> CameraReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_frame(self) -> np.ndarray | None:
        """The next frame; None at the end of a file. Raises CameraLost when a live source stops."""
        ok, frame = self._source.read()
        if not ok or frame is None:
            if self._source.live:
                raise CameraLost(f"{self._source.description} stopped delivering frames")
            return None
        self.frames += 1
        return frame

    def process(self, frame: Any, now: float | None = None) -> list[ScannedCode]:
        """Decode one frame and return the codes that newly appeared in it."""
        detections = self._decoder.decode(frame)
        by_text = {d.text: d for d in detections}
        new = self._debouncer.update(by_text, self._clock() if now is None else now)
        return [ScannedCode(text, "camera", symbology=by_text[text].symbology) for text in new]

    def scans(self, stop: threading.Event | None = None) -> Iterator[ScannedCode]:
        """Yield codes until ``stop`` is set or a file ends; raises CameraLost if a live source drops."""
        stop = stop or threading.Event()
        while not stop.is_set():
            frame = self.read_frame()
            if frame is None:
                return
            yield from self.process(frame)
