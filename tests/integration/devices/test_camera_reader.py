"""The camera reader on real files (PNG, MP4, AVI written here), the virtual camera, and its MJPEG stream."""

from __future__ import annotations

import argparse
import io
import sys
import threading
import time
from pathlib import Path

import barcode
import cv2
import numpy as np
import pytest
from barcode.writer import ImageWriter

from devices.camera import cli
from devices.camera.codec import Debouncer
from devices.camera.driver import CameraLost, CameraReader, CameraUnavailable
from devices.camera.simulator import BACKGROUND, MjpegServer, VirtualCamera, fit_into, render_qr
from devices.common.control import ControlServer, send_control
from tests.support.waiting import wait_for

CHINESE = "合作市政务服务中心 预约号A001"
W, H = 320, 240  # small frames keep the video tests quick; 640x480 and 720p are covered elsewhere


def blank() -> np.ndarray:
    return np.full((H, W, 3), BACKGROUND, np.uint8)


def ean13_frame() -> np.ndarray:
    image = barcode.get("ean13", "690123456789", writer=ImageWriter()).render()
    return fit_into(np.array(image.convert("RGB"))[:, :, ::-1].copy(), W, H)


def write_video(path: Path, fourcc: str, scenes: list[tuple[np.ndarray, int]], fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc}"
    for frame, count in scenes:
        for _ in range(count):
            writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def scenes() -> list[tuple[np.ndarray, int]]:
    a001 = render_qr(CHINESE, W, H)
    return [(a001, 4), (blank(), 3), (a001, 4), (ean13_frame(), 3), (render_qr("B002", W, H), 3)]


@pytest.mark.parametrize(("suffix", "fourcc"), [(".mp4", "mp4v"), (".avi", "MJPG")])
def test_video_file_one_scan_per_appearance(tmp_path: Path, scenes: list, suffix: str, fourcc: str) -> None:
    path = write_video(tmp_path / f"hall{suffix}", fourcc, scenes)
    with CameraReader.open(path, absent_frames=2, absent_seconds=None) as reader:
        got = [(c.text, c.symbology) for c in reader.scans()]
        assert reader.frames == 17
    assert got == [(CHINESE, "QRCODE"), (CHINESE, "QRCODE"), ("6901234567892", "EAN13"), ("B002", "QRCODE")]


def test_video_debounce_uses_media_time(tmp_path: Path, scenes: list) -> None:
    path = write_video(tmp_path / "hall.avi", "MJPG", scenes)
    # The 0.4 s gap in the clip, not how fast it is decoded, decides whether A001 counts twice.
    with CameraReader.open(path, absent_frames=None, absent_seconds=0.25) as reader:
        assert [c.text for c in reader.scans()].count(CHINESE) == 2
    with CameraReader.open(path, absent_frames=None, absent_seconds=0.5) as reader:
        assert [c.text for c in reader.scans()].count(CHINESE) == 1


def test_png_file(tmp_path: Path) -> None:
    path = tmp_path / "ticket.png"
    assert cv2.imwrite(str(path), render_qr(CHINESE, W, H))
    with CameraReader.open(path) as reader:
        assert [(c.text, c.source) for c in reader.scans()] == [(CHINESE, "camera")]


def test_virtual_camera_in_process_show_blank_show() -> None:
    camera = VirtualCamera(W, H, seed=1)
    reader = CameraReader(camera, debouncer=Debouncer(absent_frames=2, absent_seconds=None))
    seen: list[str] = []

    def frames(count: int) -> None:
        for _ in range(count):
            seen.extend(c.text for c in reader.process(reader.read_frame()))

    camera.show_text(CHINESE)
    frames(5)
    camera.blank()
    frames(2)
    camera.set_noise(15)
    camera.show_text(CHINESE)
    frames(3)
    camera.show_text("B002")
    frames(3)
    assert seen == [CHINESE, CHINESE, "B002"]


def test_virtual_camera_plays_video_and_image(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi", "MJPG", [(render_qr("V1", W, H), 3)])
    image = tmp_path / "code.png"
    cv2.imwrite(str(image), ean13_frame())
    camera = VirtualCamera(width=1280, height=720)
    reader = CameraReader(camera)
    camera.show_video(video)
    first = reader.process(reader.read_frame())
    assert [c.text for c in first] == ["V1"] and reader.read_frame().shape == (720, 1280, 3)
    for _ in range(5):  # loops past the end of the 3-frame clip
        assert reader.read_frame() is not None
    camera.show_image(image)
    assert [c.symbology for c in reader.process(reader.read_frame())] == ["EAN13"]


def test_paced_virtual_camera_keeps_its_frame_rate() -> None:
    camera = VirtualCamera(fps=50, paced=True)
    started = time.monotonic()
    for _ in range(6):
        camera.read()
    assert time.monotonic() - started >= 0.09  # 5 frame periods of 20 ms after the first


def test_mjpeg_stream_through_opencv_and_control_channel() -> None:
    # At 320x240 JPEG blurs a long Chinese QR past reading, as it would on a real camera.
    camera = VirtualCamera(640, 480, fps=20)
    server = MjpegServer(camera).start()
    control = ControlServer(camera.handle_control).start()
    stop = threading.Event()
    seen: list[str] = []
    reader = CameraReader.open(server.url, absent_frames=2, absent_seconds=None)

    def consume() -> None:
        try:
            for code in reader.scans(stop):
                seen.append(code.text)
        except CameraLost:
            seen.append("<lost>")

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    try:
        assert server.url.startswith("tcp://127.0.0.1:")
        assert send_control(control.url, {"cmd": "show", "text": CHINESE})["ok"]
        wait_for(lambda: seen == [CHINESE])
        assert send_control(control.url, {"cmd": "show", "text": "B002"})["ok"]
        wait_for(lambda: seen == [CHINESE, "B002"])
        bad = send_control(control.url, {"cmd": "noise", "sigma": 500})
        assert not bad["ok"] and "0 to 100" in bad["error"]
        server.close()  # the camera goes away: a live source must say so, not end quietly
        thread.join(timeout=8)
        assert seen[-1] == "<lost>"
    finally:
        stop.set()
        server.close()
        control.close()
        thread.join(timeout=8)
        reader.close()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/nonexistent/ticket.png", "neither a camera index"),
        ("ftp://127.0.0.1/x", "unsupported scheme 'ftp'"),
        (7, "could not open camera 7"),
    ],
)
def test_open_errors_are_clear(source: object, message: str) -> None:
    with pytest.raises(CameraUnavailable, match=message):
        CameraReader.open(source)


def test_files_that_are_not_images_or_videos(tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not a png")
    with pytest.raises(CameraUnavailable, match="not an image"):
        CameraReader.open(fake)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CameraUnavailable, match="video format"):
        CameraReader.open(junk)


def test_cli_prints_stream_then_control_and_obeys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--show", "A001", "--fps", "10"])
    stdin = io.StringIO("show 合作市 13912345678\nnoise 10\nblank\nstatus\nimage /nope.png\n")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert cli.run(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tcp://127.0.0.1:") and lines[1].startswith("control: tcp://127.0.0.1:")
    out = "\n".join(lines)
    assert "showing QR 合作市 139****5678" in out and "13912345678" not in out
    assert '"scene": "blank"' in out and "error: /nope.png is not an image" in out

