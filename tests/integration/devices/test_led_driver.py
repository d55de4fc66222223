"""RS485WindowScreen against LedBusSimulator over a real pty: content, status, NAKs, a shared bus, every fault."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import numpy as np
import pytest
import serial
from PIL import Image

from devices.common.control import ControlError, ControlServer, send_control
from devices.led import codec
from devices.led.codec import BROADCAST, Color, Line, NakCode, Role, ScreenContent, ScreenStatus
from devices.led.driver import (
    RS485Bus,
    RS485WindowScreen,
    ScreenConnectionError,
    ScreenError,
    ScreenNak,
    ScreenTimeout,
    WindowScreen,
)
from devices.led.render import render_text_box
from devices.led.simulator import LedBusSimulator

FAST = {"timeout": 0.15, "retries": 1}
CONTENT = ScreenContent.for_window(3, ticket="A001", staff="王丽娜", notice="请A001号到3号窗口办理")


@pytest.fixture
def sim() -> Iterator[LedBusSimulator]:
    updates: list = []
    with LedBusSimulator([3, 7], seed=1, on_update=updates.append) as simulator:
        simulator.updates = updates  # type: ignore[attr-defined]
        yield simulator


@pytest.fixture
def bus(sim: LedBusSimulator) -> Iterator[RS485Bus]:
    line = RS485Bus(sim.path, **FAST)
    yield line
    line.close()


def test_show_ping_brightness_and_clear_round_trip(sim: LedBusSimulator, bus: RS485Bus) -> None:
    screen: WindowScreen = RS485WindowScreen(bus, 3)
    assert screen.ping() == ScreenStatus(rows=4, cols=24, brightness=80, flags=0, lines_shown=0)
    screen.show(CONTENT)
    assert sim.view(3).content == CONTENT
    assert sim.updates[-1].content == CONTENT  # type: ignore[attr-defined]
    screen.set_brightness(35)
    assert screen.ping() == ScreenStatus(4, 24, 35, 0, 4)
    screen.clear()
    assert sim.view(3).content == ScreenContent()
    assert screen.ping().lines_shown == 0


def test_two_screens_on_one_bus_answer_only_their_own_address(sim: LedBusSimulator, bus: RS485Bus) -> None:
    left, right = RS485WindowScreen(bus, 3), RS485WindowScreen(bus, 7)
    left.show(ScreenContent.for_window(3, ticket="A001"))
    right.show(ScreenContent.for_window(7, ticket="B002"))
    assert sim.view(3).content.line_at(1).text == "A001"
    assert sim.view(7).content.line_at(1).text == "B002"
    with pytest.raises(ScreenTimeout, match="LED screen 5 .* no reply within"):
        RS485WindowScreen(bus, 5).ping()  # nobody at 5 answers, and 3 and 7 keep quiet


def test_a_broadcast_reaches_every_screen_and_nobody_answers(sim: LedBusSimulator, bus: RS485Bus) -> None:
    RS485WindowScreen(bus, 3).show(CONTENT)
    everyone = RS485WindowScreen(bus, BROADCAST)
    everyone.show(ScreenContent((Line(0, "暂停服务", Role.STATUS),)))
    deadline = time.monotonic() + 2
    while sim.view(7).content.line_at(0) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.view(3).content == sim.view(7).content == ScreenContent((Line(0, "暂停服务", Role.STATUS),))
    with pytest.raises(ScreenError, match="cannot ping the broadcast address"):
        everyone.ping()


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (ScreenContent((Line(4, "第五行"),)), NakCode.OUT_OF_RANGE),  # a 4-row screen
        (ScreenContent((Line(0, "这一行太长了放不下这一行太长了"),)), NakCode.TOO_LONG),
    ],
)
def test_content_the_screen_cannot_show_is_refused_with_its_reason(
    sim: LedBusSimulator, bus: RS485Bus, content: ScreenContent, code: NakCode
) -> None:
    screen = RS485WindowScreen(bus, 3)
    screen.show(CONTENT)
    with pytest.raises(ScreenNak) as caught:
        screen.show(content)
    assert caught.value.code == code and "LED screen 3 refused SHOW" in str(caught.value)
    assert sim.view(3).content == CONTENT  # a refused frame changes nothing
    # a scrolling line may be longer than the screen
    screen.show(ScreenContent((Line(0, "这一行太长了放不下这一行太长了", scroll=True),)))


def test_raw_frames_a_screen_must_refuse(sim: LedBusSimulator) -> None:
    port = serial.serial_for_url(sim.path, timeout=0.5)
    try:
        decoder = codec.FrameDecoder()
        for frame, code in [
            (codec.Frame(3, 1, 0x7E), NakCode.UNKNOWN_COMMAND),
            (codec.Frame(3, 2, codec.Command.BRIGHTNESS, bytes([101])), NakCode.OUT_OF_RANGE),
            (codec.Frame(3, 3, codec.Command.CLEAR, b"x"), NakCode.BAD_PAYLOAD),
            (codec.Frame(3, 4, codec.Command.SHOW, bytes([1, 0, 0, 0, 1, 0x81])), NakCode.BAD_TEXT),
        ]:
            port.write(codec.encode_frame(frame))
            replies: list = []
            while not replies:
                chunk = port.read(port.in_waiting or 1)
                assert chunk, f"no reply to {frame}"
                replies = decoder.feed(chunk)
            assert replies == [codec.nak(3, frame.seq, frame.command, code)]
    finally:
        port.close()


def test_fault_no_answer_times_out_then_recovers(sim: LedBusSimulator, bus: RS485Bus) -> None:
    screen = RS485WindowScreen(bus, 3)
    sim.set_fault("no_answer", address=3)
    started = time.monotonic()
    with pytest.raises(ScreenTimeout, match=r"after 2 attempts: no reply within"):
        screen.show(CONTENT)
    assert time.monotonic() - started < 1.5
    assert sim.view(3).content == ScreenContent()  # an unpowered screen did nothing
    RS485WindowScreen(bus, 7).ping()  # its neighbour is fine
    sim.set_fault("no_answer", on=False)
    screen.show(CONTENT)
    assert sim.view(3).content == CONTENT


def test_fault_crc_error_is_reported_as_such(sim: LedBusSimulator, bus: RS485Bus) -> None:
    sim.set_fault("crc_error", address=3)
    with pytest.raises(ScreenTimeout, match="CRC mismatch"):
        RS485WindowScreen(bus, 3).ping()
    sim.set_fault("crc_error", on=False, address=3)
    assert RS485WindowScreen(bus, 3).ping().rows == 4


def test_fault_garbage_before_every_reply_is_survived(sim: LedBusSimulator, bus: RS485Bus) -> None:
    sim.set_fault("garbage")
    screen = RS485WindowScreen(bus, 3)
    for _ in range(15):
        screen.show(CONTENT)
        assert screen.ping().lines_shown == 4
    assert bus.rejected_bytes > 0


def test_fault_slow_within_the_timeout_works_and_beyond_it_fails_then_late_replies_are_ignored(
    sim: LedBusSimulator, bus: RS485Bus
) -> None:
    screen = RS485WindowScreen(bus, 3)
    sim.set_fault("slow", value=0.05, address=3)
    assert screen.ping().rows == 4
    sim.set_fault("slow", value=0.4, address=3)
    with pytest.raises(ScreenTimeout):
        screen.ping()
    sim.set_fault("slow", on=False, address=3)
    time.sleep(0.5)  # the slow screen's late replies arrive now; the next request must not take them for its own
    screen.show(CONTENT)
    assert screen.ping().lines_shown == 4


def test_fault_module_fault_shows_in_status_flags(sim: LedBusSimulator, bus: RS485Bus) -> None:
    sim.set_fault("module_fault", address=7)
    status = RS485WindowScreen(bus, 7).ping()
    assert status.flags & ScreenStatus.FLAG_MODULE_FAULT and not status.healthy


def test_faults_and_render_through_the_control_channel(sim: LedBusSimulator, bus: RS485Bus, tmp_path) -> None:
    control = ControlServer(sim.handle_control).start()
    try:
        assert send_control(control.url, {"cmd": "fault", "name": "no_answer", "on": True, "address": 7})["ok"]
        with pytest.raises(ScreenTimeout):
            RS485WindowScreen(bus, 7).ping()
        reply = send_control(control.url, {"cmd": "fault", "name": "melt", "on": True})
        assert not reply["ok"] and "faults: no_answer, crc_error" in reply["error"]
        reply = send_control(control.url, {"cmd": "fault", "name": "no_answer", "on": True, "address": 9})
        assert "no screen at address 9" in reply["error"]

        RS485WindowScreen(bus, 3).show(CONTENT)
        status = send_control(control.url, {"cmd": "status"})
        assert list(status["screens"][1]["faults"]) == ["no_answer"]
        assert "王*娜" in status["text"] and "王丽娜" not in status["text"]  # personal data stays masked

        png = tmp_path / "led3.png"
        assert send_control(control.url, {"cmd": "render", "address": 3, "path": str(png)})["ok"]
        assert png.read_bytes().startswith(b"\x89PNG")
    finally:
        control.close()


def test_the_text_box_masks_the_staff_name_and_marks_attributes(sim: LedBusSimulator, bus: RS485Bus) -> None:
    RS485WindowScreen(bus, 3).show(CONTENT)
    box = render_text_box(sim.view(3))
    assert "王*娜" in box and "王丽娜" not in box
    lines = box.splitlines()
    assert lines[1].startswith("│3号窗口") and "green,window" in lines[1]
    assert "amber,blink,ticket" in lines[2]
    assert "green,scroll" in lines[4]
    assert len(lines) == 6


def test_the_png_shows_each_row_in_its_colour(sim: LedBusSimulator, bus: RS485Bus) -> None:
    RS485WindowScreen(bus, 3).show(
        ScreenContent((Line(0, "3号窗口", color=Color.GREEN), Line(2, "暂停服务", color=Color.RED)))
    )
    image = np.asarray(Image.open(io.BytesIO(sim.render_png(3))).convert("RGB")).astype(int)
    scale, border = 4, 8
    band = lambda row: image[border + row * 16 * scale : border + (row + 1) * 16 * scale]  # noqa: E731
    green, empty, red = band(0), band(1), band(2)
    assert (green[..., 1] > 200).sum() > 200 and (green[..., 0] > 200).sum() == 0
    assert (red[..., 0] > 200).sum() > 200 and (red[..., 1] > 200).sum() == 0
    assert empty.max() < 60  # only the faint unlit dots


def test_opening_a_missing_port_is_a_clear_error() -> None:
    with pytest.raises(ScreenConnectionError, match="cannot open the LED screen line '/dev/nonexistent-led'"):
        RS485WindowScreen("/dev/nonexistent-led", 3)
    with pytest.raises(ValueError, match="allowed 1..254"):
        RS485WindowScreen("loop://", 0)


def test_content_too_big_for_a_frame_is_refused_before_sending(sim: LedBusSimulator, bus: RS485Bus) -> None:
    with pytest.raises(ScreenError, match="at most 16"):
        RS485WindowScreen(bus, 3).show(ScreenContent(tuple(Line(i, "x") for i in range(17))))


def test_simulator_refuses_bad_set_up_and_bad_faults() -> None:
    with pytest.raises(ValueError, match="out of range"):
        LedBusSimulator([0])
    with pytest.raises(ValueError, match="must differ"):
        LedBusSimulator([2, 2])
    with LedBusSimulator([1]) as sim:
        with pytest.raises(ControlError, match="fault slow needs a value in s >= 0 and <= 60"):
            sim.set_fault("slow", value=99)
        with pytest.raises(ControlError, match="render needs a file"):
            sim.handle_control({"cmd": "render", "args": [1]})
        with pytest.raises(ControlError, match="unknown command 'dance'"):
            sim.handle_control({"cmd": "dance"})
