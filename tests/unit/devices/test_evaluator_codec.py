"""The evaluator pad's line codec: byte-exact lines (the worked examples in devices/evaluator/PROTOCOL.md), the
session and reason rules, and a streaming decoder that resyncs after noise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.evaluator import codec
from devices.evaluator.codec import ErrCode, Level, LineDecoder, Message, Rating, StartRequest

SESSION = "3f9a1c2e"


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (Message(101, "PING"), b"$101,PING*7392\r\n"),
        (codec.ok(101, "PING", "IDLE", ""), b"$101,OK,PING,IDLE,*DAB1\r\n"),
        (StartRequest("A001", "王丽娜", "综合受理岗", "3号窗口", 120).to_message(102),
         "$102,START,A001,王丽娜,综合受理岗,3号窗口,120*F615\r\n".encode()),
        (codec.ok(102, "START", SESSION), b"$102,OK,START,3f9a1c2e*8DE8\r\n"),
        (Message(7, "PROMPT", (SESSION, "REASON")), b"$7,PROMPT,3f9a1c2e,REASON*0A85\r\n"),
        (Rating(SESSION, Level.DISSATISFIED, 2).to_message(8), b"$8,RESULT,3f9a1c2e,2,2*25E5\r\n"),
        (Message(8, "ACK"), b"$8,ACK*46AC\r\n"),
        (Rating(SESSION, Level.VERY_SATISFIED).to_message(9), b"$9,RESULT,3f9a1c2e,5,*847F\r\n"),
        (Message(10, "TIMEOUT", (SESSION,)), b"$10,TIMEOUT,3f9a1c2e*E7D0\r\n"),
        (codec.err(104, "START", ErrCode.BUSY, "evaluation 3f9a1c2e is open"),
         b"$104,ERR,START,BUSY,evaluation 3f9a1c2e is open*A74C\r\n"),
        (StartRequest("B2024,07", "张三", "收件*岗", "5", 60).to_message(105),
         "$105,START,B2024%2C07,张三,收件%2A岗,5,60*0843\r\n".encode()),
    ],
)
def test_lines_are_byte_exact_and_decode_back(message: Message, wire: bytes) -> None:
    assert codec.encode_message(message) == wire
    assert LineDecoder().feed(wire) == [message]


def test_ping_line_matches_the_documented_hex() -> None:
    assert codec.encode_message(Message(101, "PING")).hex(" ").upper() == "24 31 30 31 2C 50 49 4E 47 2A 37 33 39 32 0D 0A"


def test_escaping_round_trips_every_special_character() -> None:
    nasty = "a,b*c$d%e\r\nf\x00g"
    wire = codec.encode_message(Message(1, "START", (nasty,)))
    assert wire.count(b"$") == 1 and wire.count(b"*") == 1 and wire.count(b"\n") == 1
    assert codec.decode_line(wire).args == (nasty,)


def test_a_bare_line_feed_ending_is_accepted() -> None:
    assert codec.decode_line(b"$101,PING*7392\n") == Message(101, "PING")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"$101,PING*7393\r\n", "CRC mismatch"),
        (b"$101,PING\r\n", "not a line of the form"),
        (b"$PING*" + f"{codec.crc16_modbus(b'PING'):04X}".encode() + b"\r\n", "sequence number"),
        (b"$1,ping*" + f"{codec.crc16_modbus(b'1,ping'):04X}".encode() + b"\r\n", "upper-case"),
        (b"$1,OK,%G1*" + f"{codec.crc16_modbus(b'1,OK,%G1'):04X}".encode() + b"\r\n", "bad escape"),
        (b"$1,OK,\xff*" + f"{codec.crc16_modbus(b'1,OK,' + bytes([255])):04X}".encode() + b"\r\n", "UTF-8"),
    ],
)
def test_bad_lines_are_refused_with_the_reason(raw: bytes, why: str) -> None:
    with pytest.raises(codec.EvaluatorCodecError, match=why):
        codec.decode_line(raw)


def test_a_cha_ping_needs_a_reason_from_the_list_and_a_good_rating_takes_none() -> None:
    assert Rating(SESSION, 1, 5).level is Level.VERY_DISSATISFIED
    with pytest.raises(codec.EvaluatorCodecError, match="不满意 needs a reason"):
        Rating(SESSION, Level.DISSATISFIED)
    with pytest.raises(codec.EvaluatorCodecError, match="not on the list"):
        Rating(SESSION, Level.VERY_DISSATISFIED, 9)
    with pytest.raises(codec.EvaluatorCodecError, match="takes no reason"):
        Rating(SESSION, Level.SATISFIED, 1)
    with pytest.raises(codec.EvaluatorCodecError, match="not one of 1..5"):
        Rating(SESSION, 6)
    with pytest.raises(codec.EvaluatorCodecError, match="8 lower-case hex"):
        Rating("nosuch", Level.SATISFIED)


def test_rating_from_a_result_line_applies_the_same_rules() -> None:
    assert Rating.from_message(Message(8, "RESULT", (SESSION, "2", "2"))) == Rating(SESSION, Level.DISSATISFIED, 2)
    with pytest.raises(codec.EvaluatorCodecError, match="needs a reason"):
        Rating.from_message(Message(8, "RESULT", (SESSION, "1", "")))
    with pytest.raises(codec.EvaluatorCodecError, match="3 fields"):
        Rating.from_message(Message(8, "RESULT", (SESSION, "5")))
    with pytest.raises(codec.EvaluatorCodecError, match="must be numbers"):
        Rating.from_message(Message(8, "RESULT", (SESSION, "five", "")))


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        (("", "王丽娜", "岗", "3", 60), "ticket or case number must be non-empty"),
        (("A001", "王" * 21, "岗", "3", 60), "staff name is 21 characters"),
        (("A001", "王丽娜", "岗", "3", 0), "timeout 0"),
        (("A001", "王丽娜", "岗", "3", 601), "timeout 601"),
        (("A001", "王丽娜", "岗\x07", "3", 60), "control characters"),
    ],
)
def test_start_requests_are_validated(fields: tuple, why: str) -> None:
    with pytest.raises(codec.EvaluatorCodecError, match=why):
        StartRequest(*fields)


def test_start_from_a_message_checks_the_field_count_and_timeout() -> None:
    with pytest.raises(codec.EvaluatorCodecError, match="5 fields"):
        StartRequest.from_message(Message(1, "START", ("A001",)))
    with pytest.raises(codec.EvaluatorCodecError, match="whole seconds"):
        StartRequest.from_message(Message(1, "START", ("A001", "王丽娜", "岗", "3", "1.5")))


# -- the streaming decoder ---------------------------------------------------------------------------------------

LINE = b"$8,RESULT,3f9a1c2e,2,2*25E5\r\n"
MESSAGE = Message(8, "RESULT", (SESSION, "2", "2"))


def test_decoder_joins_a_line_fed_byte_by_byte() -> None:
    decoder = LineDecoder()
    out = []
    for byte in LINE:
        out += decoder.feed(bytes([byte]))
    assert out == [MESSAGE]


def test_a_line_cut_short_by_a_new_start_is_dropped_and_the_new_line_read() -> None:
    out = LineDecoder().feed(LINE[:12] + LINE)
    assert isinstance(out[0], codec.Rejected) and "cut short" in out[0].reason
    assert out[1:] == [MESSAGE]


def test_noise_between_lines_is_reported_and_skipped_but_a_stray_crlf_is_not() -> None:
    out = LineDecoder().feed(b"\r\n" + LINE + b"\x00\xffnoise" + LINE)
    assert out[0] == MESSAGE and out[2] == MESSAGE
    assert isinstance(out[1], codec.Rejected) and "noise" in out[1].reason


def test_a_line_that_never_ends_is_dropped_past_the_limit() -> None:
    decoder = LineDecoder()
    out = decoder.feed(b"$" + b"x" * 600)
    assert isinstance(out[0], codec.Rejected) and "longer than 512" in out[0].reason
    assert decoder.feed(LINE) == [MESSAGE]


PROPERTY = settings(max_examples=150, deadline=None)
messages = st.builds(
    Message,
    seq=st.integers(0, 65535),
    verb=st.sampled_from(["PING", "START", "OK", "ERR", "RESULT", "ACK"]),
    args=st.lists(st.text(max_size=12), max_size=5).map(tuple),
)


@PROPERTY
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    for item in LineDecoder().feed(data):
        assert isinstance(item, codec.Rejected | Message)
        if isinstance(item, codec.Rejected):
            assert item.reason


@PROPERTY
@given(st.binary(max_size=200), messages, st.lists(st.integers(1, 30), max_size=5))
def test_the_next_good_line_after_garbage_is_always_found(garbage: bytes, message: Message, cuts: list[int]) -> None:
    # a pad's garbage is followed by a fresh line, and every line starts with $
    wire = garbage + codec.encode_message(message)
    decoder = LineDecoder()
    out: list[object] = []
    pos = 0
    for cut in cuts:
        out += decoder.feed(wire[pos : pos + cut])
        pos += cut
    out += decoder.feed(wire[pos:])
    assert out[-1] == message


@PROPERTY
@given(messages, st.data())
def test_a_corrupted_line_is_never_taken_for_another(message: Message, data: st.DataObject) -> None:
    wire = bytearray(codec.encode_message(message))
    index = data.draw(st.integers(0, len(wire) - 1))
    wire[index] ^= data.draw(st.integers(1, 255))
    decoded = [item for item in LineDecoder().feed(bytes(wire) + b"\n") if isinstance(item, Message)]
    assert decoded in ([], [message])  # a flipped CR or a case change in the hex CRC may leave the message intact
