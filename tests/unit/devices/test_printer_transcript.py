"""Reading ESC/POS bytes back: the codec's output decoded independently, and garbage survived."""

from __future__ import annotations

import functools
import unicodedata

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pyzbar import pyzbar

from devices.printer.codec import render
from devices.printer.document import Cut, QRCode, Text, TicketDocument
from devices.printer.samples import typical_ticket
from devices.printer.transcript import (
    Control,
    EscPosParser,
    LineFeed,
    QRData,
    Raster,
    StatusQuery,
    TicketAssembler,
    Unknown,
    events_of,
    transcribe,
)
from devices.printer.transcript import Text as TextEvent

EXPECTED_LINES = [
    "合作市政务服务中心",
    "A001",
    "不动产登记（综合窗口）",
    "前面还有 3 人等候，请留意叫号。",
    "-" * 48,
    "取号时间：2025-01-02 09:31",
    "当日有效，过号请重新取号",
]
PAYLOAD = "https://hz.example.cn/q/A001?d=2025-01-02"


@functools.cache
def typical_bytes(profile: str = "zh-80") -> bytes:
    return render(typical_ticket(), profile)


def scan(image: Image.Image) -> list[bytes]:
    return [symbol.data for symbol in pyzbar.decode(image)]


def test_typical_ticket_reads_back_as_its_text_and_qr() -> None:
    tickets = transcribe(render(typical_ticket()))
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket.complete and ticket.cut == "full" and ticket.notes == []
    assert [line for line in ticket.lines if line] == EXPECTED_LINES
    assert ticket.qr_payloads == [PAYLOAD]
    assert len(ticket.images) == 1  # the Tibetan greeting


def test_transcript_shows_print_modes_images_qr_and_cut() -> None:
    transcript = transcribe(render(typical_ticket()))[0].transcript.splitlines()
    assert transcript[0] == "[center bold 2x2] 合作市政务服务中心"
    assert transcript[1] == "[image 576x73]"
    assert transcript[2] == "[center bold 4x4] A001"
    assert f"[qr M x6] {PAYLOAD}" in transcript
    assert transcript[-1] == "[cut full]"


def test_native_qr_in_the_png_scans_to_the_payload() -> None:
    ticket = transcribe(render(typical_ticket()))[0]
    assert scan(ticket.render()) == [PAYLOAD.encode()]


def test_rasterised_qr_bytes_scan_to_the_payload() -> None:
    data = render(typical_ticket(), "zh-80-raster-qr")
    assert b"\x1d(k" not in data
    rasters = [event for event in events_of(data) if isinstance(event, Raster)]
    found = [scan(raster.image()) for raster in rasters]
    assert [PAYLOAD.encode()] in found
    assert scan(transcribe(data)[0].render()) == [PAYLOAD.encode()]


def test_chinese_qr_payload_reads_back_with_opencv() -> None:
    # pyzbar mangles UTF-8 Chinese (it guesses Shift-JIS); OpenCV's detector reads it right.
    payload = "合作市政务服务中心 A001"
    for profile in ("zh-80", "zh-80-raster-qr"):
        page = transcribe(render(TicketDocument.of(QRCode(payload=payload, size=5), Cut()), profile))[0].render()
        text, _, _ = cv2.QRCodeDetector().detectAndDecode(np.array(page.convert("L")))
        assert text == payload, profile


def test_png_is_a_png_of_the_paper_width() -> None:
    ticket = transcribe(render(typical_ticket()))[0]
    png = ticket.png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert ticket.render().width == 576 + 2 * 16


def test_tibetan_line_is_an_inked_full_width_image() -> None:
    image = transcribe(render(typical_ticket()))[0].images[0]
    assert image.width == 576
    ink = np.array(image) < 128
    assert ink.sum() > 500  # strokes were drawn
    columns = np.flatnonzero(ink.any(axis=0))
    assert abs((columns[0] + columns[-1]) / 2 - 288) < 20  # and centred


def test_western_profile_reads_back_in_code_page_437() -> None:
    data = render(TicketDocument.of(Text(text="café"), Cut()), "intl-80")
    assert transcribe(data, chinese=False)[0].lines == ["café"]


def test_tickets_split_at_each_cut_and_a_tail_without_cut_is_reported() -> None:
    data = render(typical_ticket("A001")) + render(typical_ticket("A002")) + render(TicketDocument.of(Text(text="x")))
    tickets = transcribe(data)
    assert [t.lines[1] if len(t.lines) > 1 else t.lines for t in tickets[:2]] == ["A001", "A002"]
    assert tickets[2].cut is None and tickets[2].lines == ["x"] and not tickets[2].complete
    assert [t.index for t in tickets] == [1, 2, 3]


def test_events_of_a_small_stream() -> None:
    events = events_of(b"\x1b@\x1c&\x1ba\x01\xba\xcfA\n\x10\x04\x02\x1dr\x01\x1dV\x00")
    assert [type(e).__name__ for e in events] == [
        "Control", "Control", "Control", "Text", "LineFeed", "StatusQuery", "StatusQuery", "Control",
    ]
    assert events[3] == TextEvent("合A", 7)
    assert events[5] == StatusQuery("dle_eot", 2, 11)
    assert events[6] == StatusQuery("gs_r", 1, 14)
    assert events[7] == Control("cut", "full", 17)


def test_unknown_bytes_are_reported_with_offset_and_parsing_resumes() -> None:
    events = events_of(b"AB\x1b\x7fCD\x01\x81\x20EF\n")
    unknown = [e for e in events if isinstance(e, Unknown)]
    assert [(u.offset, u.reason) for u in unknown] == [
        (2, "unknown command ESC 0x7F"),
        (6, "control byte 0x01 has no meaning here"),
        (7, "0x81 does not start a GB18030 character"),
    ]
    text = "".join(e.text for e in events if isinstance(e, TextEvent))
    assert text == "ABCD EF"
    ticket = transcribe(b"AB\x1b\x7fCD\n")[0]
    assert ticket.lines == ["ABCD"]
    assert "[! unknown command ESC 0x7F at byte 2: 1b 7f]" in ticket.transcript


def test_an_implausible_raster_header_is_reported_not_waited_for() -> None:
    events = events_of(b"\x1dv0\x00\xff\xff\xff\xffOK\n")
    assert isinstance(events[0], Unknown) and "implausible" in events[0].reason
    assert events[1] == TextEvent("OK", 8)


def test_a_truncated_stream_ends_with_an_unknown_tail() -> None:
    parser = EscPosParser()
    assert parser.feed(b"A\x1d(k\x10\x00") == [TextEvent("A", 0)]
    assert parser.pending == 5
    tail = parser.flush()
    assert len(tail) == 1 and isinstance(tail[0], Unknown) and tail[0].offset == 1


def test_a_half_gb18030_character_waits_for_its_second_byte() -> None:
    parser = EscPosParser()
    assert parser.feed(b"A\xba") == [TextEvent("A", 0)]
    assert parser.feed(b"\xcf\n") == [TextEvent("合", 1), LineFeed(3)]


def test_gs_r_and_dle_eot_are_status_queries() -> None:
    events = events_of(b"\x10\x04\x01\x10\x04\x04\x1dr\x01\x1b\x76\x10\x04\x09")
    assert [e for e in events if isinstance(e, StatusQuery)] == [
        StatusQuery("dle_eot", 1, 0), StatusQuery("dle_eot", 4, 3), StatusQuery("gs_r", 1, 6), StatusQuery("gs_r", 1, 9),
    ]
    assert isinstance(events[-1], Unknown) and "DLE EOT with unsupported n 9" in events[-1].reason


def test_assembler_measures_paper_per_line_and_image() -> None:
    assembler = TicketAssembler()
    assert assembler.apply(TextEvent("x")).dots == 0
    assert assembler.apply(LineFeed()).dots == 34  # default line spacing, 1/6 inch
    assembler.apply(Control("size", 0x11))
    assembler.apply(TextEvent("x"))
    assert assembler.apply(LineFeed()).dots == 48  # double height is taller than the spacing
    assert assembler.apply(Control("feed_lines", 6)).dots == 6 * 34
    assert assembler.apply(Raster(0, 2, 10, bytes(20))).dots == 10
    assembler.apply(QRData(b"hello"))
    assembler.apply(Control("qr_size", 4))
    assert assembler.apply(Control("qr_print")).dots == 21 * 4  # version 1 is 21 modules
    done = assembler.apply(Control("cut", "full"))
    assert done.ticket is not None and done.ticket.height_dots == 34 + 48 + 204 + 10 + 84


def test_qr_print_without_data_is_noted() -> None:
    ticket = transcribe(b"\x1d(k\x03\x001Q0\x1dV\x00")[0]
    assert ticket.qr_payloads == [] and "QR print at byte 0 with no data stored" in ticket.notes[0]


def _normalise(events: list) -> list:
    """Merge adjacent text runs and drop offsets, so differently chunked parses compare equal."""
    out: list = []
    for event in events:
        if isinstance(event, TextEvent) and out and out[-1][0] == "text":
            out[-1] = ("text", out[-1][1] + event.text)
        elif isinstance(event, TextEvent):
            out.append(("text", event.text))
        else:
            out.append((type(event).__name__, {k: v for k, v in vars(event).items() if k != "offset"}))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 700), min_size=1, max_size=40))
def test_chunking_does_not_change_what_is_parsed(cuts: list[int]) -> None:
    data = typical_bytes("zh-80-raster-qr")
    parser = EscPosParser()
    events: list = []
    position = 0
    for size in cuts:
        events += parser.feed(data[position : position + size])
        position += size
    events += parser.feed(data[position:]) + parser.flush()
    assert _normalise(events) == _normalise(events_of(data))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 64), max_size=20))
def test_random_bytes_never_crash_and_a_clean_job_afterwards_parses(garbage: bytes, cuts: list[int]) -> None:
    parser = EscPosParser()
    assembler = TicketAssembler()
    position, offsets = 0, []
    for size in [*cuts, len(garbage)]:
        for event in parser.feed(garbage[position : position + size]):
            offsets.append(event.offset)
            assembler.apply(event)
        position += size
    for event in parser.flush():
        offsets.append(event.offset)
        assembler.apply(event)
    # Every event points into the stream, in order; whatever the bytes, the transcript shows no raw control
    # character and says the open ticket has not been cut.
    assert offsets == sorted(offsets) and all(0 <= at <= len(garbage) for at in offsets)
    transcript = assembler.ticket.transcript
    assert not _control_characters(transcript) and "[no cut]" in transcript.splitlines()
    assembler.abort("garbage")
    # A new job (as after a reconnect) parses exactly, whatever came before.
    parser.reset_input()
    offsets, tickets = [], []
    for event in parser.feed(typical_bytes()):
        offsets.append(event.offset)
        done = assembler.apply(event)
        if done.ticket is not None:
            tickets.append(done.ticket)
    assert offsets == sorted(offsets)
    assert [line for line in tickets[-1].lines if line] == EXPECTED_LINES


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_corrupted_tickets_never_crash_the_reader(data: st.DataObject) -> None:
    clean = bytearray(typical_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(clean) - 1))
        clean[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(clean)))
    for ticket in transcribe(bytes(clean[:cut])):
        transcript = ticket.transcript.splitlines()
        assert not _control_characters(ticket.transcript)
        assert (f"[cut {ticket.cut}]" in transcript) == ticket.complete and ("[no cut]" in transcript) != ticket.complete
        # The picture is as long as the paper the reader measured, and as wide as the roll.
        assert ticket.render(margin=16).size == (ticket.paper_width_dots + 32, ticket.height_dots + 32)


@pytest.mark.parametrize("chinese", [True, False])
def test_every_single_byte_value_is_handled(chinese: bool) -> None:
    for byte in range(256):
        events = events_of(bytes([byte]) + b"OK\n", chinese=chinese)
        text = "".join(e.text for e in events if isinstance(e, TextEvent))
        assert isinstance(events[-1], LineFeed), hex(byte)  # the reader is back in step by the line's end
        if byte in (0x1B, 0x1C, 0x1D):  # ESC/FS/GS + "O" is no command: reported, and the rest prints
            assert isinstance(events[0], Unknown) and events[0].offset == 0 and text == "K", hex(byte)
        elif chinese and 0x81 <= byte <= 0xFE:  # a GB18030 lead byte takes the "O" as its second byte
            assert len(text) == 2 and text.endswith("K"), hex(byte)
        else:
            assert text.endswith("OK"), hex(byte)


def _control_characters(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) == "Cc" and c != "\n"]
