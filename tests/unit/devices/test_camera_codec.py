"""Camera frame decoding (OpenCV QR with Chinese, zbar 1-D) and the debounce that makes one code one scan."""

from __future__ import annotations

import barcode
import cv2
import numpy as np
import pytest
from barcode.writer import ImageWriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from devices.camera.codec import Debouncer, FrameDecoder, FrameError, repair_shift_jis_mangling, to_gray
from devices.camera.simulator import VirtualCamera, fit_into, render_qr

CHINESE = "合作市政务服务中心|不动产登记|A001"


def barcode_frame(kind: str, value: str, width: int = 640, height: int = 480) -> np.ndarray:
    image = barcode.get(kind, value, writer=ImageWriter()).render()
    return fit_into(np.array(image.convert("RGB"))[:, :, ::-1].copy(), width, height)


@pytest.fixture(scope="module")
def decoder() -> FrameDecoder:
    return FrameDecoder()


def test_chinese_qr_comes_out_right(decoder: FrameDecoder) -> None:
    (found,) = decoder.decode(render_qr(CHINESE, 640, 480))
    assert (found.text, found.symbology, found.decoder) == (CHINESE, "QRCODE", "opencv")
    assert len(found.polygon) == 4


def test_qr_in_grey_bgra_and_720p_frames(decoder: FrameDecoder) -> None:
    frame = render_qr("A001", 1280, 720)
    assert [d.text for d in decoder.decode(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))] == ["A001"]
    assert [d.text for d in decoder.decode(cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA))] == ["A001"]


def test_qr_under_sensor_noise(decoder: FrameDecoder) -> None:
    camera = VirtualCamera(seed=5)
    camera.show_text(CHINESE)
    camera.set_noise(25)
    _, frame = camera.read()
    assert [d.text for d in decoder.decode(frame)] == [CHINESE]


@pytest.mark.parametrize(
    ("kind", "value", "symbology", "text"),
    [
        ("ean13", "690123456789", "EAN13", "6901234567892"),
        ("code128", "HZ-2026-A001", "CODE128", "HZ-2026-A001"),
        ("code39", "A001", "CODE39", "A001B"),  # the writer appends the mod-43 check character; zbar keeps it
    ],
)
def test_one_d_barcodes_through_zbar(
    decoder: FrameDecoder, kind: str, value: str, symbology: str, text: str
) -> None:
    (found,) = decoder.decode(barcode_frame(kind, value))
    assert (found.text, found.symbology, found.decoder) == (text, symbology, "zbar")


def test_several_qr_codes_in_one_frame() -> None:
    frame = np.hstack([render_qr("A001", 480, 480), render_qr("合作 B002", 480, 480)])
    assert sorted(d.text for d in FrameDecoder(multiple_qr=True).decode(frame)) == ["A001", "合作 B002"]


def test_qr_and_barcode_in_one_frame(decoder: FrameDecoder) -> None:
    left = render_qr("票号 B002", 640, 480)
    right = barcode_frame("code128", "CASE-7788")
    frame = np.hstack([left, right])
    assert [d.symbology for d in decoder.decode(frame)] == ["QRCODE"]  # by default a QR ends the search
    assert sorted((d.symbology, d.text) for d in FrameDecoder(scan_all=True).decode(frame)) == [
        ("CODE128", "CASE-7788"),
        ("QRCODE", "票号 B002"),
    ]


def test_noisy_barcode_still_decodes(decoder: FrameDecoder) -> None:
    camera = VirtualCamera(seed=2)
    camera.show_frame(barcode_frame("ean13", "690123456789"), "EAN-13")
    camera.set_noise(12)
    _, frame = camera.read()
    assert [d.text for d in decoder.decode(frame)] == ["6901234567892"]


def test_blank_frame_has_no_codes(decoder: FrameDecoder) -> None:
    assert decoder.decode(np.full((480, 640, 3), 200, np.uint8)) == []


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("not a frame", "numpy array"),
        (np.zeros((480, 640), np.float32), "8-bit"),
        (np.zeros((480, 640, 2), np.uint8), "shape"),
        (np.zeros((4, 4), np.uint8), "too small"),
    ],
)
def test_bad_frames_are_clear_errors(frame: object, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        to_gray(frame)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hnp.arrays(
        np.uint8,
        st.tuples(st.integers(8, 96), st.integers(8, 96), st.sampled_from([1, 3, 4])),
        elements=st.integers(0, 255),
    )
)
def test_random_frames_never_crash(decoder: FrameDecoder, array: np.ndarray) -> None:
    frame = array[:, :, 0] if array.shape[2] == 1 else array
    assert all(d.text for d in decoder.decode(frame))


def test_zbar_shift_jis_mangling_is_repaired() -> None:
    mangled = "票号".encode().decode("shift_jis")  # what a mis-guessing zbar hands back
    assert mangled != "票号"
    assert repair_shift_jis_mangling(mangled) == "票号"
    assert repair_shift_jis_mangling("票号") == "票号"
    assert repair_shift_jis_mangling("A001") == "A001"


# --- debounce ------------------------------------------------------------------------------------------------


def run_frames(debouncer: Debouncer, frames: list[list[str]], fps: float = 30.0) -> list[str]:
    out = []
    for index, codes in enumerate(frames):
        out += debouncer.update(codes, index / fps)
    return out


def test_same_code_over_consecutive_frames_is_one_scan() -> None:
    assert run_frames(Debouncer(absent_frames=5, absent_seconds=None), [["A"]] * 30) == ["A"]


def test_code_counts_again_after_absent_n_frames() -> None:
    frames = [["A"]] * 5 + [[]] * 5 + [["A"]] * 5
    assert run_frames(Debouncer(absent_frames=5, absent_seconds=None), frames) == ["A", "A"]
    assert run_frames(Debouncer(absent_frames=6, absent_seconds=None), frames) == ["A"]


def test_detection_flicker_does_not_repeat() -> None:
    frames = [["A"], ["A"], [], ["A"], [], [], ["A"]] * 4
    assert run_frames(Debouncer(absent_frames=3, absent_seconds=None), frames) == ["A"]


def test_code_counts_again_after_absent_t_seconds() -> None:
    debouncer = Debouncer(absent_frames=None, absent_seconds=0.5)
    assert debouncer.update(["A"], 0.0) == ["A"]
    assert debouncer.update([], 0.2) == []
    assert debouncer.update(["A"], 0.4) == []  # back before 0.5 s: the same presentation
    assert debouncer.update([], 0.95) == []
    assert debouncer.update(["A"], 1.0) == ["A"]


def test_frames_or_seconds_whichever_first() -> None:
    debouncer = Debouncer(absent_frames=100, absent_seconds=0.1)
    debouncer.update(["A"], 0.0)
    debouncer.update([], 0.15)
    assert debouncer.update(["A"], 0.2) == ["A"]


def test_several_codes_tracked_independently() -> None:
    frames = [["A", "B"], ["A", "B"], ["B"], ["B"], ["A", "B"], ["C"]]
    assert run_frames(Debouncer(absent_frames=2, absent_seconds=None), frames) == ["A", "B", "A", "C"]


def test_debouncer_rejects_useless_settings() -> None:
    with pytest.raises(ValueError, match="never repeat"):
        Debouncer(None, None)
    with pytest.raises(ValueError, match="absent_frames"):
        Debouncer(0, None)
    with pytest.raises(ValueError, match="absent_seconds"):
        Debouncer(None, 0)
