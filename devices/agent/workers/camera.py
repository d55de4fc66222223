"""The camera: frames through OpenCV, QR codes and barcodes decoded; each code that appears is one code_scanned.

Devices-file URLs: ``camera://N`` (camera index), ``/dev/videoN``, ``file:///path`` (an image or a video),
and the ``tcp://127.0.0.1:PORT`` MJPEG stream a simulated camera serves (what ``sim://`` resolves to).
"""

from __future__ import annotations

import logging
import time

from devices.agent.workers.base import DeviceWorker, Health
from devices.camera.driver import CameraLost, CameraReader, CameraUnavailable

log = logging.getLogger("devices.agent.workers")


def camera_source(url: str) -> str:
    """The source spec the camera driver opens for a devices-file URL."""
    if url.startswith("camera://"):
        return url.removeprefix("camera://")
    if url.startswith("file://"):
        return url.removeprefix("file://")
    return url


class CameraWorker(DeviceWorker):
    kind = "camera"
    reads = True
    poll_interval = 5.0
    lost_errors = (CameraLost, CameraUnavailable, OSError)

    max_decode_fps = 8.0  # a code held up for a moment is seen; a kiosk PC is not kept busy decoding

    reader: CameraReader | None = None
    codes_read = 0
    _ended = False
    _last_decode = 0.0

    def open(self, url: str) -> None:
        self.reader = CameraReader.open(camera_source(url))
        self._ended = False

    def close_device(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def check(self) -> Health:
        assert self.reader is not None
        if self._ended:
            return Health("warning", {"error": "the video or image file has been read to its end"})
        return Health("ok", {"frames": self.reader.frames})

    def step(self) -> None:
        assert self.reader is not None
        if self._ended:
            time.sleep(0.2)
            return
        frame = self.reader.read_frame()
        if frame is None:
            self._ended = True
            self.set_health(self.check())
            return
        now = time.monotonic()
        if now - self._last_decode < 1.0 / self.max_decode_fps:
            return  # every frame is read (a stream must not lag), but a 30 fps camera is decoded ~8 times a second
        self._last_decode = now
        for code in self.reader.process(frame):
            self.codes_read += 1
            # the content may be personal (an e-licence, a health code): only its length is logged
            log.info("%s/camera: code seen (%s, %d characters)", self.host.station, code.symbology or "?",
                     len(code.text))
            self.host.submit_input(self.kind, "code_scanned", {"code": code.text, "symbology": code.symbology})
