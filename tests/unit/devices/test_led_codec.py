"""The LED frame codec: byte-exact frames (the worked examples in devices/led/PROTOCOL.md), payload rules, and a
streaming decoder that survives noise, truncation and corruption."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.common.crc import crc16_modbus
from devices.led import codec
from devices.led.codec import (
    Color,
    Command,
    Frame,
    FrameDecoder,
    Line,
    NakCode,
    Role,
    ScreenContent,
    ScreenStatus,
)


def hexb(text: str) -> bytes:
    return bytes.fromhex(text)


def test_crc16_modbus_check_vectors() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37
    assert crc16_modbus(b"") == 0xFFFF
    # the classic Modbus RTU request "read 1 holding register at 0 from slave 1" ends in 84 0A
    assert crc16_modbus(hexb("010300000001")).to_bytes(2, "little") == hexb("840A")
    # continuing a CRC over a second chunk gives the same as one pass
    assert crc16_modbus(b"6789", crc16_modbus(b"12345")) == 0x4B37


WINDOW_3 = ScreenContent(
    (Line(0, "3号窗口", Role.WINDOW, color=Color.GREEN), Line(1, "A001", Role.TICKET, blink=True, color=Color.AMBER))
)


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (codec.status_request(3, 1), "02 03 01 13 00 00 90 39 03"),
        (codec.ack(3, 1, Command.STATUS, codec.encode_status(ScreenStatus(4, 24, 80, 0, 2))),
         "02 03 01 06 00 06 13 04 18 50 00 02 61 D6 03"),
        (codec.show_request(3, 2, WINDOW_3),
         "02 03 02 10 00 14 02 00 01 10 07 33 BA C5 B4 B0 BF DA 01 02 22 04 41 30 30 31 ED 81 03"),
        (codec.ack(3, 2, Command.SHOW), "02 03 02 06 00 01 10 79 3C 03"),
        (codec.show_request(3, 5, ScreenContent((Line(3, "暂停服务", Role.STATUS),))),
         "02 03 05 10 00 0D 01 03 04 00 08 D4 DD CD A3 B7 FE CE F1 E1 83 03"),
        (codec.nak(3, 5, Command.SHOW, NakCode.OUT_OF_RANGE), "02 03 05 15 00 02 10 04 88 55 03"),
        (codec.brightness_request(3, 8, 50), "02 03 08 12 00 01 32 64 D4 03"),
        (codec.clear_request(codec.BROADCAST, 7), "02 FF 07 11 00 00 61 65 03"),
    ],
)
def test_frames_are_byte_exact_and_decode_back(frame: Frame, wire: str) -> None:
    encoded = codec.encode_frame(frame)
    assert encoded == hexb(wire)
    assert FrameDecoder().feed(encoded) == [frame]


def test_show_payload_round_trips_every_attribute() -> None:
    content = ScreenContent(
        (
            Line(0, "12号窗口", Role.WINDOW, color=Color.GREEN),
            Line(1, "B017", Role.TICKET, blink=True, color=Color.AMBER),
            Line(2, "王丽娜", Role.STAFF),
            Line(3, "请B017号到12号窗口办理，谢谢！ བཀྲ་ཤིས་བདེ་ལེགས།", Role.TEXT, scroll=True, color=Color.GREEN),
        )
    )
    assert codec.decode_show_payload(codec.encode_show_payload(content)) == content


def test_for_window_layout_puts_status_last_and_notice_scrolling() -> None:
    paused = ScreenContent.for_window(3, ticket="A001", staff="王丽娜", status="暂停服务")
    assert [(line.row, line.role, line.text) for line in paused.lines] == [
        (0, Role.WINDOW, "3号窗口"), (1, Role.TICKET, "A001"), (2, Role.STAFF, "王丽娜"), (3, Role.STATUS, "暂停服务"),
    ]
    notice = ScreenContent.for_window("综合窗口", notice="欢迎光临")
    assert notice.line_at(3) is not None and notice.line_at(3).scroll
    assert notice.line_at(1) is None


def test_display_width_counts_cjk_as_two_columns() -> None:
    assert codec.display_width("A001") == 4
    assert codec.display_width("3号窗口") == 7
    assert codec.display_width("暂停服务，") == 10  # full-width comma too


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (ScreenContent((Line(0, "a"), Line(0, "b"))), "same row"),
        (ScreenContent(tuple(Line(i, "x") for i in range(17))), "at most 16"),
        (ScreenContent((Line(0, "长" * 128),)), "at most 255"),
        (ScreenContent((Line(0, "\udc80"),)), "GB18030"),
    ],
)
def test_content_that_cannot_travel_is_refused_with_a_reason(content: ScreenContent, message: str) -> None:
    with pytest.raises(codec.CodecError, match=message):
        codec.encode_show_payload(content)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", NakCode.BAD_PAYLOAD),
        (bytes([1, 0, 0, 0]), NakCode.BAD_PAYLOAD),  # header cut short
        (bytes([1, 0, 0, 0, 5]) + b"ab", NakCode.BAD_PAYLOAD),  # text cut short
        (bytes([1, 0, 0, 0, 1]) + b"a" + b"zz", NakCode.BAD_PAYLOAD),  # stray bytes
        (bytes([2, 0, 0, 0, 1]) + b"a" + bytes([0, 0, 0, 1]) + b"b", NakCode.BAD_PAYLOAD),  # row twice
        (bytes([1, 0, 9, 0, 1]) + b"a", NakCode.OUT_OF_RANGE),  # role 9
        (bytes([1, 0, 0, 0x30, 1]) + b"a", NakCode.OUT_OF_RANGE),  # colour 3
        (bytes([1, 0, 0, 0, 1]) + b"\x81", NakCode.BAD_TEXT),  # half a GB18030 character
        (bytes([17]), NakCode.BAD_PAYLOAD),
    ],
)
def test_bad_show_payloads_map_to_the_nak_a_screen_sends(payload: bytes, code: NakCode) -> None:
    with pytest.raises(codec.PayloadError) as caught:
        codec.decode_show_payload(payload)
    assert caught.value.code == code
    assert str(caught.value)


def test_encode_frame_rejects_values_that_do_not_fit() -> None:
    with pytest.raises(codec.CodecError, match="address 0"):
        codec.encode_frame(Frame(0, 1, Command.STATUS))
    with pytest.raises(codec.CodecError, match="1024"):
        codec.encode_frame(Frame(1, 1, Command.SHOW, bytes(1025)))
    with pytest.raises(codec.CodecError, match="brightness 101"):
        codec.brightness_request(1, 1, 101)
    with pytest.raises(codec.CodecError, match="5 bytes"):
        codec.decode_status(b"\x01\x02")


def test_describe_nak_is_tolerant_of_short_and_unknown_codes() -> None:
    assert codec.describe_nak(bytes([0x10, 0x05]))[2].startswith("a non-scrolling line")
    assert codec.describe_nak(bytes([0x10, 0x77]))[2] == "unknown error code 119"
    assert codec.describe_nak(b"") == (None, None, "unknown error code None")


# -- the streaming decoder ---------------------------------------------------------------------------------------

GOOD = codec.encode_frame(codec.show_request(3, 2, WINDOW_3))


def test_decoder_assembles_a_frame_fed_one_byte_at_a_time() -> None:
    decoder = FrameDecoder()
    out = []
    for byte in GOOD:
        out += decoder.feed(bytes([byte]))
    assert out == [codec.show_request(3, 2, WINDOW_3)]
    assert decoder.pending == 0


def test_decoder_reports_noise_then_finds_the_frame() -> None:
    out = FrameDecoder().feed(b"\xff\x00junk" + GOOD)
    assert isinstance(out[0], codec.Rejected) and "noise" in out[0].reason
    assert out[-1] == codec.show_request(3, 2, WINDOW_3)


def test_decoder_rejects_a_crc_mismatch_and_keeps_the_next_frame() -> None:
    bad = bytearray(GOOD)
    bad[10] ^= 0x01
    out = FrameDecoder().feed(bytes(bad) + GOOD)
    reasons = [item.reason for item in out if isinstance(item, codec.Rejected)]
    assert any("CRC mismatch" in reason for reason in reasons)
    assert out[-1] == codec.show_request(3, 2, WINDOW_3)


def test_a_truncated_frame_does_not_swallow_the_next_one() -> None:
    out = FrameDecoder().feed(GOOD[:12] + GOOD)
    assert [item for item in out if isinstance(item, Frame)] == [codec.show_request(3, 2, WINDOW_3)]


def test_a_false_start_announcing_a_long_frame_gives_way_to_a_whole_frame_after_it() -> None:
    # 02 01 00 10 03 E8: a plausible header announcing 1000 bytes, then a real frame
    out = FrameDecoder().feed(hexb("02 01 00 10 03 E8") + GOOD)
    assert out[-1] == codec.show_request(3, 2, WINDOW_3)


def test_an_unfinished_frame_is_abandoned_when_the_line_goes_quiet() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(hexb("02 01 00 10 03 E8") + GOOD[:-1]) == []  # could still be a 1000-byte frame
    out = decoder.idle()
    assert out and all(isinstance(item, codec.Rejected) for item in out)
    assert any("cut short" in item.reason for item in out)
    assert decoder.pending == 0
    assert decoder.feed(GOOD) == [codec.show_request(3, 2, WINDOW_3)]


def test_a_header_with_address_zero_or_a_huge_length_is_skipped_at_once() -> None:
    out = FrameDecoder().feed(hexb("02 00 01 13 00 00") + hexb("02 01 01 13 FF FF") + GOOD)
    assert out[-1] == codec.show_request(3, 2, WINDOW_3)
    assert sum("implausible header" in item.reason for item in out if isinstance(item, codec.Rejected)) == 2


frames = st.builds(
    Frame,
    address=st.integers(1, 255),
    seq=st.integers(0, 255),
    command=st.integers(0, 255),
    payload=st.binary(max_size=64),
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder_and_every_discard_says_why(data: bytes) -> None:
    decoder = FrameDecoder()
    out = decoder.feed(data) + decoder.idle()
    for item in out:
        if isinstance(item, codec.Rejected):
            assert item.reason
        else:
            assert isinstance(item, Frame)
    assert decoder.pending == 0


@PROPERTY
@given(st.binary(max_size=120), frames, st.lists(st.integers(1, 40), max_size=6))
def test_the_next_good_frame_after_garbage_is_always_found(garbage: bytes, frame: Frame, cuts: list[int]) -> None:
    wire = garbage + codec.encode_frame(frame)
    decoder = FrameDecoder()
    out: list[object] = []
    pos = 0
    for cut in cuts:  # arbitrary chunking, as a serial line delivers it
        out += decoder.feed(wire[pos : pos + cut])
        pos += cut
    out += decoder.feed(wire[pos:]) + decoder.idle()
    assert out[-1] == frame


@PROPERTY
@given(frames, st.data())
def test_a_corrupted_or_truncated_frame_never_decodes_as_something_else(frame: Frame, data: st.DataObject) -> None:
    wire = bytearray(codec.encode_frame(frame))
    if data.draw(st.booleans()):
        index = data.draw(st.integers(1, len(wire) - 2))
        wire[index] ^= data.draw(st.integers(1, 255))
    else:
        del wire[data.draw(st.integers(1, len(wire) - 1)) :]
    decoder = FrameDecoder()
    decoded = [item for item in decoder.feed(bytes(wire)) + decoder.idle() if isinstance(item, Frame)]
    # a CRC-16 lets a random corruption through with odds of 1 in 65536; a single-byte change never
    assert decoded == [] or decoded == [frame] and bytes(wire) == codec.encode_frame(frame)
