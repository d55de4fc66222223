"""ESC/POS rendering, byte for byte, and the DLE EOT / GS r status codec."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.printer.codec import (
    DEFAULT_PROFILE,
    PROFILES,
    CodecError,
    PrinterProfile,
    PrinterState,
    PrinterStatus,
    StatusProtocolError,
    decode_paper_sensor,
    decode_status,
    encode_paper_sensor,
    encode_status,
    get_profile,
    render,
    status_request,
    wrap_cells,
)
from devices.printer.document import Cut, Feed, Header, Number, QRCode, Separator, Text, TicketDocument

INIT_CHINESE = bytes.fromhex("1b40 1c26")  # ESC @, FS &
PLAIN = bytes.fromhex("1b6100 1b4500 1d2100 1c2100")  # left, bold off, GS ! 0, FS ! 0
LF = b"\n"


def rendered(*blocks: object, profile: str = "zh-80") -> bytes:
    return render(TicketDocument.of(*blocks), profile)


def test_a_document_starts_with_init_and_chinese_mode() -> None:
    assert rendered(Feed(lines=2)) == INIT_CHINESE + bytes.fromhex("1b6402")


def test_full_cut_is_feed_six_lines_then_gs_v_0() -> None:
    assert rendered(Cut()) == INIT_CHINESE + bytes.fromhex("1b6406 1d5600")


def test_partial_cut_ends_gs_v_1() -> None:
    assert rendered(Cut(partial=True)).endswith(bytes.fromhex("1b6406 1d5601"))


def test_chinese_line_with_full_width_punctuation_is_gb18030_in_chinese_mode() -> None:
    # 业 D2B5, 务 CEF1, ： A3BA, （ A3A8, 抵 B5D6, 押 D1BA, ） A3A9, ， A3AC: GB 2312 code table values.
    line = bytes.fromhex("d2b5 cef1 a3ba a3a8 b5d6 d1ba a3a9 a3ac")
    assert rendered(Text(text="业务：（抵押），")) == INIT_CHINESE + PLAIN + line + LF + PLAIN


def test_full_width_punctuation_alone_is_not_turned_into_question_marks() -> None:
    assert rendered(Text(text="，：")) == INIT_CHINESE + PLAIN + bytes.fromhex("a3ac a3ba") + LF + PLAIN


def test_mixed_ascii_and_chinese_keeps_ascii_single_byte() -> None:
    out = rendered(Text(text="A1号"))
    assert bytes.fromhex("4131 bac5 0a") in out


def test_header_is_centred_bold_and_double_for_ascii_and_chinese() -> None:
    out = rendered(Header(text="合作"))
    assert out == INIT_CHINESE + bytes.fromhex("1b6101 1b4501 1d2111 1c210c") + bytes.fromhex("bacf d7f7") + LF + PLAIN


def test_number_scale_sets_gs_exclamation_for_width_and_height() -> None:
    assert bytes.fromhex("1d2133 1c210c") + b"A001\n" in rendered(Number(text="A001", scale=4))
    assert bytes.fromhex("1d2100 1c2100") + b"7\n" in rendered(Number(text="7", scale=1))


def test_native_qr_is_model_2_size_level_store_print_with_quiet_feed() -> None:
    payload = b"https://x.cn/t/1"
    expected = (
        bytes.fromhex("1b6101 1b4a0c")  # centre, feed 12 dots (2 modules) of quiet zone
        + bytes.fromhex("1d286b 0400 3141 3200")  # model 2
        + bytes.fromhex("1d286b 0300 3143 06")  # module size 6
        + bytes.fromhex("1d286b 0300 3145 31")  # error correction M
        + bytes.fromhex("1d286b 1300 3150 30") + payload  # store 16 bytes (+3)
        + bytes.fromhex("1d286b 0300 3151 30")  # print
        + bytes.fromhex("1b4a0c 1b6100")
    )
    assert rendered(QRCode(payload=payload.decode(), size=6, ec="M")) == INIT_CHINESE + expected


def test_native_qr_payload_is_utf8() -> None:
    out = rendered(QRCode(payload="合作", ec="L"))
    assert bytes.fromhex("1d286b 0900 3150 30") + "合作".encode() in out


def test_raster_qr_profile_sends_gs_v_0_and_no_gs_paren_k() -> None:
    out = rendered(QRCode(payload="https://x.cn/t/1"), profile="zh-80-raster-qr")
    assert b"\x1d(k" not in out
    assert bytes.fromhex("1d7630 00 4800") in out  # GS v 0, normal mode, 72 bytes = 576 dots wide


def test_oversized_qr_modules_shrink_to_fit_the_paper() -> None:
    out = rendered(QRCode(payload="x" * 600, size=16, ec="L"))
    size = out[out.index(bytes.fromhex("1d286b 0300 3143")) + 7]
    assert 1 <= size < 16
    # version 14 (73 modules) with 2+2 modules of border must fit 576 dots
    assert size * (73 + 4) <= 576


def test_tibetan_is_printed_as_a_raster_image_not_as_text() -> None:
    out = rendered(Text(text="བཀྲ་ཤིས་བདེ་ལེགས།", align="center"))
    assert bytes.fromhex("1d7630 00 4800") in out  # a 576-dot wide raster line
    assert "བཀྲ".encode("gb18030") not in out
    assert "བཀྲ".encode() not in out


def test_a_line_mixing_tibetan_and_chinese_becomes_one_image() -> None:
    out = rendered(Text(text="བཀྲ་ཤིས། 欢迎"))
    assert out.count(b"\x1dv0") == 1
    assert "欢迎".encode("gb18030") not in out


def test_four_byte_gb18030_characters_are_rasterised_unless_the_font_has_them() -> None:
    rare = "\U00020bb7"  # a CJK Extension B ideograph: four bytes in GB18030
    assert b"\x1dv0" in rendered(Text(text=rare))
    wide_font = PrinterProfile("wide", gb18030_four_byte=True)
    out = render(TicketDocument.of(Text(text=rare)), wide_font)
    assert rare.encode("gb18030") in out and b"\x1dv0" not in out


def test_western_profile_uses_cp437_and_rasterises_chinese() -> None:
    out = rendered(Text(text="café 12"), Text(text="合作"), profile="intl-80")
    assert b"\x1c&" not in out and b"\x1c!" not in out
    assert b"caf\x82 12\n" in out  # é is 0x82 in code page 437
    assert b"\x1dv0" in out and "合作".encode("gb18030") not in out


def test_separator_fills_the_line() -> None:
    assert b"-" * 48 + LF in rendered(Separator())
    assert "═".encode("gb18030") * 24 + LF in rendered(Separator(char="═"))
    assert b"=" * 32 + LF in rendered(Separator(char="="), profile="zh-58")


def test_long_lines_wrap_at_the_paper_width() -> None:
    assert wrap_cells("x" * 100, DEFAULT_PROFILE) == ["x" * 48, "x" * 48, "x" * 4]
    assert wrap_cells("合" * 30, DEFAULT_PROFILE) == ["合" * 24, "合" * 6]
    assert wrap_cells("合" * 30, DEFAULT_PROFILE, scale=2) == ["合" * 12, "合" * 12, "合" * 6]
    assert wrap_cells("hello world " * 5, DEFAULT_PROFILE)[0] == "hello world hello world hello world hello world"


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(CodecError, match="known: zh-80"):
        get_profile("tm-t99")
    assert get_profile(None) is DEFAULT_PROFILE and get_profile("intl-80") is PROFILES["intl-80"]


def test_profile_refuses_to_encode_what_its_font_lacks() -> None:
    with pytest.raises(CodecError, match=r"U\+0F40 is not in the font"):
        DEFAULT_PROFILE.encode_text("ཀ")


# ------------------------------------------------------------------------------------------------ status


def test_status_requests_are_dle_eot_n() -> None:
    assert [status_request(n) for n in (1, 2, 3, 4)] == [b"\x10\x04\x01", b"\x10\x04\x02", b"\x10\x04\x03", b"\x10\x04\x04"]
    with pytest.raises(CodecError):
        status_request(5)


@pytest.mark.parametrize(
    ("n", "byte", "fields"),
    [
        (1, 0x12, {"online": True}),
        (1, 0x1A, {"online": False}),
        (2, 0x12, {"cover_open": False, "feed_button": False, "stopped_at_paper_end": False, "error": False}),
        (2, 0x16, {"cover_open": True}),
        (2, 0x1A, {"feed_button": True}),
        (2, 0x32, {"stopped_at_paper_end": True}),
        (2, 0x52, {"error": True}),
        (3, 0x1A, {"cutter_error": True, "unrecoverable_error": False, "recoverable_error": False}),
        (3, 0x32, {"unrecoverable_error": True}),
        (3, 0x52, {"recoverable_error": True}),
        (4, 0x12, {"paper_near_end": False, "paper_out": False}),
        (4, 0x1E, {"paper_near_end": True, "paper_out": False}),
        (4, 0x72, {"paper_near_end": False, "paper_out": True}),
        (4, 0x7E, {"paper_near_end": True, "paper_out": True}),
    ],
)
def test_decode_status_bits(n: int, byte: int, fields: dict) -> None:
    status = decode_status(n, byte)
    for name, value in fields.items():
        assert getattr(status, name) is value, name
    assert status.replies == ((n, byte),)


@pytest.mark.parametrize("byte", [0x00, 0xFF, 0x10, 0x02, 0x13, 0x92, 0x1B, 0x80])
def test_a_reply_breaking_the_fixed_bits_is_a_protocol_error_not_ok(byte: int) -> None:
    for n in (1, 2, 3, 4):
        with pytest.raises(StatusProtocolError, match="bits 1 and 4 must be set"):
            decode_status(n, byte)


@pytest.mark.parametrize(("n", "byte"), [(0, 0x12), (5, 0x12), (1, -1), (1, 256)])
def test_decode_status_rejects_impossible_arguments(n: int, byte: int) -> None:
    with pytest.raises(CodecError):
        decode_status(n, byte)


def _full(**fields: bool) -> PrinterStatus:
    base = {name: False for name in ("cover_open", "feed_button", "stopped_at_paper_end", "error", "cutter_error",
                                      "unrecoverable_error", "recoverable_error", "paper_near_end", "paper_out")}
    base["online"] = True
    base.update(fields)
    status = PrinterStatus()
    for n in (1, 2, 3, 4):
        status = status.merge(decode_status(n, encode_status(n, PrinterStatus(**base))))
    return status


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({}, PrinterState.READY),
        ({"paper_near_end": True}, PrinterState.PAPER_NEAR_END),
        ({"online": False}, PrinterState.OFFLINE),
        ({"online": False, "cover_open": True}, PrinterState.COVER_OPEN),
        ({"online": False, "paper_out": True, "paper_near_end": True, "stopped_at_paper_end": True}, PrinterState.PAPER_OUT),
        ({"online": False, "cutter_error": True, "error": True}, PrinterState.CUTTER_ERROR),
        ({"unrecoverable_error": True}, PrinterState.UNRECOVERABLE_ERROR),
        ({"recoverable_error": True}, PrinterState.RECOVERABLE_ERROR),
        ({"online": False, "cover_open": True, "paper_out": True}, PrinterState.PAPER_OUT),
    ],
)
def test_state_names_the_worst_condition(fields: dict, state: PrinterState) -> None:
    status = _full(**fields)
    assert status.complete and status.state is state
    assert status.ok is (state in (PrinterState.READY, PrinterState.PAPER_NEAR_END))


def test_silence_or_a_partial_answer_is_unknown_never_ok() -> None:
    assert PrinterStatus.unknown("no answer").state is PrinterState.UNKNOWN
    assert not PrinterStatus.unknown("no answer").ok
    partial = decode_status(1, 0x12).merge(decode_status(2, 0x12))
    assert partial.online and not partial.complete
    assert partial.state is PrinterState.UNKNOWN and not partial.ok


def test_to_dict_shows_state_and_raw_replies() -> None:
    data = _full(cover_open=True, online=False).to_dict()
    assert data["state"] == "cover_open" and data["cover_open"] is True
    assert data["replies"] == {"1": "0x1A", "2": "0x16", "3": "0x12", "4": "0x12"}


@settings(max_examples=80, deadline=None)
@given(st.fixed_dictionaries({name: st.booleans() for name in (
    "online", "cover_open", "feed_button", "stopped_at_paper_end", "error", "cutter_error",
    "unrecoverable_error", "recoverable_error", "paper_near_end", "paper_out")}))
def test_encode_then_decode_gives_the_status_back(fields: dict) -> None:
    decoded = _full(**fields)
    for name, value in fields.items():
        assert getattr(decoded, name) is value


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(0, 255))
def test_any_reply_byte_decodes_or_is_a_protocol_error(n: int, byte: int) -> None:
    valid = byte & 0x93 == 0x12
    try:
        status = decode_status(n, byte)
    except StatusProtocolError:
        assert not valid
    else:
        assert valid and status.replies == ((n, byte),)


def test_paper_sensor_reply_of_gs_r_1() -> None:
    assert decode_paper_sensor(0x00) == (False, False)
    assert decode_paper_sensor(0x03) == (True, False)
    assert decode_paper_sensor(0x0C) == (False, True)
    assert encode_paper_sensor(True, True) == 0x0F
    for bad in (0x10, 0x12, 0x80):  # a DLE EOT reply (bit 4 set) is not a GS r reply
        with pytest.raises(StatusProtocolError):
            decode_paper_sensor(bad)
