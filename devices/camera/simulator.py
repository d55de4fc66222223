"""A virtual camera: frames of a generated QR code, an image or a video file, or nothing, with sensor noise.

In process it is a frame source the reader takes directly (``CameraReader(VirtualCamera(...))``). For a
separate driver, :class:`MjpegServer` streams its frames as raw MJPEG over TCP on 127.0.0.1, which OpenCV opens
as ``tcp://127.0.0.1:PORT``. Control commands: ``show TEXT``, ``image PATH``, ``video PATH``, ``blank``,
``noise SIGMA``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import qrcode

from devices.common.control import Command, ControlError, ControlTable
from devices.common.redaction import redact_text

BACKGROUND = 200  # a grey desk or counter, not paper-white, so a code has to stand out on its own

HELP = """commands:
  show TEXT        show a QR code of TEXT (Chinese fine)
  image PATH       show an image file (a printed ticket, a barcode)
  video PATH       play a video file, looping
  blank            show nothing
  noise SIGMA      add sensor noise (0 = none, 25 = a dim hall)
  status, help, quit"""


def qr_matrix(text: str, border: int = 4) -> np.ndarray:
    """The QR code of ``text`` (UTF-8) as a 0/255 uint8 array, one pixel per module, with its quiet zone."""
    code = qrcode.QRCode(border=border, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    modules = np.array(code.get_matrix(), dtype=bool)
    return np.where(modules, 0, 255).astype(np.uint8)


def render_qr(text: str, width: int, height: int, fill: float = 0.6) -> np.ndarray:
    """A BGR frame with the QR code of ``text`` centred, its side ``fill`` of the frame's height."""
    matrix = qr_matrix(text)
    side = max(matrix.shape[0], int(min(width, height) * fill) // matrix.shape[0] * matrix.shape[0])
    if side > min(width, height):
        raise ControlError(f"a QR code of {len(text)} characters does not fit a {width}x{height} frame")
    code = cv2.resize(matrix, (side, side), interpolation=cv2.INTER_NEAREST)
    frame = np.full((height, width), BACKGROUND, np.uint8)
    top, left = (height - side) // 2, (width - side) // 2
    frame[top : top + side, left : left + side] = code
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def fit_into(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``image`` to fit the frame, keeping its aspect ratio, centred on the background."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    size = (max(1, int(w * scale)), max(1, int(h * scale)))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    frame = np.full((height, width, 3), BACKGROUND, np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    frame[top : top + size[1], left : left + size[0]] = scaled
    return frame


class VirtualCamera:
    """A frame source (``read``/``release`` like ``cv2.VideoCapture``) whose scene a technician or test sets."""

    live = True

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        paced: bool = False,
        seed: int | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        """``paced``: ``read`` blocks until the next frame is due, like a real camera; off for fast tests."""
        if width < 64 or height < 64:
            raise ValueError(f"a {width}x{height} frame is too small for a camera; use at least 64x64")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.width, self.height, self.fps, self.paced = width, height, fps, paced
        self.on_event = on_event
        self.description = f"virtual camera {width}x{height}@{fps:g}"
        self._rng = np.random.default_rng(seed)
        self._controls = self._control_table()
        self._lock = threading.Lock()
        self._scene = np.full((height, width, 3), BACKGROUND, np.uint8)
        self._scene_name = "blank"
        self._video: cv2.VideoCapture | None = None
        self._noise = 0.0
        self._next_due = time.monotonic()
        self._released = False
        self.frames = 0

    def _emit(self, line: str) -> None:
        if self.on_event is not None:
            self.on_event(line)

    # --- scene ------------------------------------------------------------------------------------------------

    def show_text(self, text: str) -> None:
        if not text:
            raise ControlError("show needs the text to put in the QR code")
        frame = render_qr(text, self.width, self.height)
        self._set_scene(frame, f"QR {redact_text(text)}")

    def show_image(self, path: str | Path) -> None:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ControlError(f"{path} is not an image file OpenCV can read")
        self._set_scene(fit_into(image, self.width, self.height), f"image {Path(path).name}")

    def show_frame(self, frame: np.ndarray, name: str = "frame") -> None:
        """Show a picture made in code (a rendered barcode, a test pattern), fitted into the frame."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3):
            raise ControlError("show_frame needs an 8-bit grey or BGR numpy image")
        self._set_scene(fit_into(frame, self.width, self.height), name)

    def show_video(self, path: str | Path) -> None:
        video = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not video.isOpened():
            raise ControlError(f"{path} is not a video file OpenCV can read")
        with self._lock:
            self._close_video()
            self._video = video
            self._scene_name = f"video {Path(path).name}"
        self._emit(f"showing video {Path(path).name}")

    def blank(self) -> None:
        self._set_scene(np.full((self.height, self.width, 3), BACKGROUND, np.uint8), "blank")

    def set_noise(self, sigma: float) -> None:
        if not isinstance(sigma, int | float) or not 0 <= sigma <= 100:
            raise ControlError(f"noise is a standard deviation from 0 to 100, got {sigma!r}")
        with self._lock:
            self._noise = float(sigma)
        self._emit(f"noise {sigma:g}")

    def _set_scene(self, frame: np.ndarray, name: str) -> None:
        with self._lock:
            self._close_video()
            self._scene = frame
            self._scene_name = name
        self._emit(f"showing {name}")

    def _close_video(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None

    # --- frame source -------------------------------------------------------------------------------------------

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self._released:
            return False, None
        if self.paced:
            delay = self._next_due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next_due = max(self._next_due + 1 / self.fps, time.monotonic())
        with self._lock:
            if self._video is not None:
                ok, frame = self._video.read()
                if not ok:  # loop the clip
                    self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    ok, frame = self._video.read()
                frame = fit_into(frame, self.width, self.height) if ok else self._scene.copy()
            else:
                frame = self._scene.copy()
            sigma = self._noise
        if sigma:
            noise = self._rng.normal(0.0, sigma, frame.shape)
            frame = np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        self.frames += 1
        return True, frame

    def release(self) -> None:
        self._released = True
        with self._lock:
            self._close_video()

    def timestamp(self) -> float:
        return time.monotonic()

    # --- control ------------------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "scene": self._scene_name,
                "noise": self._noise,
                "size": [self.width, self.height],
                "fps": self.fps,
                "frames": self.frames,
            }

    def handle_control(self, request: dict[str, Any]) -> dict[str, Any]:
        """``{"cmd": "show", "text": "..."}``, ``{"cmd": "image", "path": ...}``, ``blank``, ``noise``, ``video``."""
        return self._controls.handle(request)

    def _control_table(self) -> ControlTable:
        # A camera has no faults of its own: a hard-to-read picture is the scene (noise, blank), not a fault.
        return ControlTable({
            "show": Command(self._ctl_show, "show TEXT"),
            "image": Command(lambda r, a: self._ctl_file("image", r, a), "image PATH"),
            "video": Command(lambda r, a: self._ctl_file("video", r, a), "video PATH"),
            "blank": Command(lambda _r, _a: self.blank(), "blank"),
            "noise": Command(self._ctl_noise, "noise SIGMA"),
            "help": Command(lambda _r, _a: {"text": HELP}, "help"),
        }, status=self.status)

    def _ctl_show(self, request: dict[str, Any], args: list[Any]) -> None:
        text = request.get("text", " ".join(str(a) for a in args))
        if not isinstance(text, str):
            raise ControlError('show needs "text" as a string')
        self.show_text(text)

    def _ctl_file(self, cmd: str, request: dict[str, Any], args: list[Any]) -> None:
        path = request.get("path", args[0] if args else None)
        if not path:
            raise ControlError(f"{cmd} needs a file: {cmd} PATH")
        (self.show_image if cmd == "image" else self.show_video)(str(path))

    def _ctl_noise(self, request: dict[str, Any], args: list[Any]) -> None:
        sigma = request.get("sigma", request.get("value", args[0] if args else None))
        if sigma is None:
            raise ControlError("noise needs a level: noise SIGMA (0 = none)")
        self.set_noise(sigma)


class MjpegServer:
    """Streams a camera's frames as raw MJPEG (JPEG after JPEG) to each client on 127.0.0.1, at its fps."""

    def __init__(self, camera: VirtualCamera, port: int = 0, quality: int = 85) -> None:
        self._camera = camera
        self._quality = quality
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._frame_lock = threading.Lock()
        self._latest: tuple[int, bytes] = (-1, b"")
        self._accept_thread = threading.Thread(target=self._accept, name="mjpeg-accept", daemon=True)
        self._produce_thread = threading.Thread(target=self._produce, name="mjpeg-frames", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"tcp://{host}:{port}"

    def start(self) -> MjpegServer:
        self._produce_thread.start()
        self._accept_thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        for thread in (self._accept_thread, self._produce_thread, *self._threads):
            if thread.is_alive():
                thread.join(timeout=2)
        self._listener.close()

    def _produce(self) -> None:
        # One camera, many viewers: frames are made once at the camera's pace and shared.
        period = 1 / self._camera.fps
        due = time.monotonic()
        number = 0
        while not self._stop.is_set():
            ok, frame = self._camera.read()
            if ok and frame is not None:
                encoded, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
                if encoded:
                    with self._frame_lock:
                        self._latest = (number, jpeg.tobytes())
                    number += 1
            due += period
            self._stop.wait(max(0.0, due - time.monotonic()))

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._stream, args=(client,), name="mjpeg-client", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _stream(self, client: socket.socket) -> None:
        sent = -1
        with client:
            while not self._stop.is_set():
                with self._frame_lock:
                    number, jpeg = self._latest
                if number == sent or not jpeg:
                    self._stop.wait(0.005)
                    continue
                try:
                    client.sendall(jpeg)
                except OSError:
                    return  # the viewer went away
                sent = number
