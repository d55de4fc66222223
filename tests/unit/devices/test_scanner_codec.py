"""Scanner line decoding (CR, CRLF, LF, custom suffix, UTF-8 and GB18030) and keyboard-wedge key accumulation."""

from __future__ import annotations

import os
import sys
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.common.scans import ScannedCode
from devices.scanner.codec import LineDecoder, LineTooLong, ScanDecodeError, ScanError, parse_suffix
from devices.scanner.hid import KEY_DOWN, KEY_HOLD, KEY_UP, HidScanner, HidUnavailable, KeyAccumulator


def texts(items: list) -> list[str]:
    return [item.text for item in items if isinstance(item, ScannedCode)]


def test_auto_mode_takes_cr_lf_and_crlf_without_empty_codes() -> None:
    items = LineDecoder().feed(b"A001\rB002\r\nC003\nD004\r\r\n")
    assert texts(items) == ["A001", "B002", "C003", "D004"]


def test_crlf_split_between_feeds_is_one_line_end() -> None:
    decoder = LineDecoder()
    assert texts(decoder.feed(b"A001\r")) == ["A001"]
    assert decoder.feed(b"\n") == []
    assert texts(decoder.feed(b"B002\r\n")) == ["B002"]


def test_chinese_utf8_content() -> None:
    code = "合作市政务服务中心|预约号:A001|张*娜"
    (item,) = LineDecoder().feed(code.encode() + b"\r\n")
    assert item.text == code and item.complete and item.source == "serial"


def test_utf8_character_split_across_feeds() -> None:
    raw = "办事指南".encode() + b"\r"
    decoder = LineDecoder("cr")
    items = [i for b in raw for i in decoder.feed(bytes([b]))]
    assert texts(items) == ["办事指南"]


def test_explicit_suffix_keeps_other_control_bytes() -> None:
    items = LineDecoder("tab").feed(b"01\x1d1234\r5\tX\t")
    assert texts(items) == ["01\x1d1234\r5", "X"]


def test_gb18030_scanner() -> None:
    (item,) = LineDecoder("crlf", encoding="gb18030").feed("合作市".encode("gb18030") + b"\r\n")
    assert item.text == "合作市"


def test_garbage_line_is_a_clear_error_and_the_next_code_decodes() -> None:
    items = LineDecoder("cr").feed(b"\xff\xfe\x80junk\rA001\r")
    assert isinstance(items[0], ScanDecodeError)
    assert "not utf-8 text" in str(items[0]) and "junk" not in str(items[0])
    assert texts(items) == ["A001"]


def test_missing_suffix_is_flushed_as_incomplete() -> None:
    decoder = LineDecoder("crlf")
    assert decoder.feed(b"A001") == []
    (item,) = decoder.flush()
    assert item.text == "A001" and not item.complete
    assert decoder.flush() == []


def test_overlong_line_reports_once_and_resyncs() -> None:
    decoder = LineDecoder("cr", max_length=8)
    items = decoder.feed(b"x" * 20) + decoder.feed(b"y" * 20 + b"\rOK\r")
    assert [type(i) for i in items] == [LineTooLong, ScannedCode]
    assert "suffix setting (expecting CR)" in str(items[0])
    assert texts(items) == ["OK"]


def test_suffix_names() -> None:
    assert parse_suffix("CRLF") == b"\r\n" and parse_suffix("auto") is None and parse_suffix(b"#") == b"#"
    with pytest.raises(ValueError, match="unknown suffix 'semicolon'"):
        parse_suffix("semicolon")
    with pytest.raises(LookupError):
        LineDecoder(encoding="klingon")


def test_scanned_code_repr_masks_personal_numbers() -> None:
    code = ScannedCode("证照|623001195408170423|13912345678", "serial")
    assert "623001195408170423" not in repr(code) and "13912345678" not in repr(code)
    assert "6230**********0423" in repr(code)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([None, "cr", "crlf", "tab"]))
def test_random_bytes_never_crash(data: bytes, suffix: str | None) -> None:
    decoder = LineDecoder(suffix, max_length=64)
    items = decoder.feed(data) + decoder.flush()
    assert all(isinstance(i, ScannedCode | ScanError) for i in items)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), min_size=1),
        min_size=1,
        max_size=5,
    ),
    st.binary(max_size=40),
    st.integers(min_value=1, max_value=7),
)
def test_codes_survive_chunking_after_garbage(codes: list[str], garbage: bytes, step: int) -> None:
    stream = garbage + b"\r\n" + b"".join(c.encode() + b"\r\n" for c in codes)
    decoder = LineDecoder()
    items = [i for at in range(0, len(stream), step) for i in decoder.feed(stream[at : at + step])]
    assert texts(items)[-len(codes) :] == codes


# --- keyboard wedge ---------------------------------------------------------------------------------------------


def press(acc: KeyAccumulator, *keys: str) -> list[str]:
    out = []
    for key in keys:
        for value in (KEY_DOWN, KEY_UP):
            code = acc.feed(key, value)
            if code is not None:
                out.append(code)
    return out


def test_keys_accumulate_until_enter() -> None:
    acc = KeyAccumulator()
    assert press(acc, "KEY_A", "KEY_0", "KEY_0", "KEY_1", "KEY_ENTER") == ["a001"]


def test_shift_gives_capitals_and_symbols_and_is_released() -> None:
    acc = KeyAccumulator()
    acc.feed("KEY_LEFTSHIFT", KEY_DOWN)
    out = press(acc, "KEY_A", "KEY_1", "KEY_MINUS")
    acc.feed("KEY_LEFTSHIFT", KEY_UP)
    out += press(acc, "KEY_B", "KEY_SLASH", "KEY_KPENTER")
    assert out == ["A!_b/"]


def test_caps_lock_affects_letters_only_and_backspace_deletes() -> None:
    acc = KeyAccumulator()
    out = press(acc, "KEY_CAPSLOCK", "KEY_Z", "KEY_9", "KEY_X", "KEY_BACKSPACE", "KEY_DOT", "KEY_ENTER")
    assert out == ["Z9."]


def test_repeats_unknown_keys_and_empty_enter_give_nothing() -> None:
    acc = KeyAccumulator()
    assert acc.feed("KEY_A", KEY_DOWN) is None
    assert acc.feed("KEY_A", KEY_HOLD) is None
    assert press(acc, "KEY_F5", "KEY_LEFTCTRL", "KEY_ENTER") == ["a"]
    assert acc.ignored == 2
    assert press(acc, "KEY_ENTER") == []


def test_missing_evdev_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "evdev", None)  # makes "import evdev" raise ImportError
    with pytest.raises(HidUnavailable, match="pip install evdev"):
        HidScanner.open("/dev/input/event0")


def test_hid_scanner_reads_events_through_evdev_api(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The adapter over a stand-in with evdev's API (InputDevice, ecodes, read): key codes become a code."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"x")  # makes select() report the device readable
    names = {30: "KEY_A", 2: "KEY_1", 28: "KEY_ENTER", 42: ["KEY_LEFTSHIFT"]}
    events = [(1, 42, 1), (1, 30, 1), (1, 30, 0), (1, 42, 0), (4, 4, 0), (1, 2, 1), (1, 2, 0), (1, 28, 1)]

    class Device:
        fd = read_fd
        name = "Fake Scanner"

        def __init__(self, path: str) -> None:
            self.path = path

        def grab(self) -> None: ...
        def ungrab(self) -> None: ...
        def close(self) -> None: ...

        def read(self):
            return [types.SimpleNamespace(type=t, code=c, value=v) for t, c, v in events]

    fake = types.SimpleNamespace(
        InputDevice=Device,
        list_devices=lambda: [str(tmp_path / "event7")],
        ecodes=types.SimpleNamespace(EV_KEY=1, KEY=names),
    )
    monkeypatch.setitem(sys.modules, "evdev", fake)
    scanner = HidScanner.open("fake scan")  # matched by name
    try:
        assert next(scanner.codes()) == ScannedCode("A1", "hid")
    finally:
        scanner.close()
        os.close(read_fd)
        os.close(write_fd)
    with pytest.raises(HidUnavailable, match="0 input devices match 'keyboard'"):
        HidScanner.open("keyboard")
