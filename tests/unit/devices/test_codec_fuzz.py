"""Every device decoder, fed any bytes, returns a value or raises its one documented decode error.

Each codec gets 10⁵ frames from a seeded RNG (so a failure names a reproducible frame): valid frames of that
codec, mutated the ways a noisy line mutates them (bit flips, dropped, repeated and inserted bytes, splices of two
frames, cuts), plus pure noise and non-ASCII digits such as ``²`` and ``٣`` placed in numeric fields, which is
what broke the evaluator (``$²,OK*67CF``) and the residence permit's issue count. A plain loop rather than
hypothesis: shrinking is not needed to name a bad frame (the seed and index are printed), and a direct loop
runs 10⁵ frames per codec in seconds on this machine, which hypothesis with its per-example overhead does not.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from devices.common.crc import crc16_modbus
from devices.evaluator import codec as ev
from devices.idcard import card as idcard_card
from devices.idcard import codec as idc
from devices.idcard.errors import CardDataError, FrameError
from devices.idcard.profiles import load_profiles
from devices.led import codec as led
from devices.printer import codec as printer
from devices.printer.samples import typical_ticket
from devices.printer.transcript import EscPosParser
from devices.scanner.codec import LineDecoder as ScanLineDecoder
from devices.scanner.codec import ScanError

FRAMES = 100_000
SEED = 20261206
# Characters that ``str.isdigit`` accepts but ``int`` (or ASCII rules) may not: the class of the bugs found.
ODD_DIGITS = "²³¹٣۴߅१০୬௭൮๙໐༣၄៥᠖᥇０𝟘"


def mutate(rng: random.Random, frame: bytes, others: list[bytes]) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(8)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:  # bit flip
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # dropped byte
            del data[rng.randrange(len(data))]
        elif op == 2:  # inserted noise
            data[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == 3 and data:  # repeated run
            i = rng.randrange(len(data))
            data[i:i] = data[i : i + rng.randint(1, 6)]
        elif op == 4:  # an odd digit where a number may be
            data[pos:pos] = rng.choice(ODD_DIGITS).encode("utf-8")
        elif op == 5:  # splice with another frame
            other = rng.choice(others)
            data = data[:pos] + other[rng.randrange(len(other) + 1):]
        elif op == 6:  # cut short
            data = data[:pos]
        else:  # a byte replaced by one of the protocol's special bytes
            if data:
                data[rng.randrange(len(data))] = rng.choice(b"$*,%\r\n\x02\x03\xaa\x96\x69\x00\xff")
    return bytes(data)


def frames(rng: random.Random, seeds: list[bytes], count: int = FRAMES) -> Iterator[bytes]:
    for _ in range(count):
        roll = rng.random()
        if roll < 0.1:
            yield rng.randbytes(rng.randint(0, 64))
        elif roll < 0.15:
            yield rng.choice(seeds)
        else:
            yield mutate(rng, rng.choice(seeds), seeds)


def run(name: str, seeds: list[bytes], decode: Callable[[bytes], object],
        documented: tuple[type[BaseException], ...], count: int = FRAMES) -> int:
    """Feed ``count`` frames; fail on the first undocumented exception, naming the frame. Returns how many
    frames ended in a documented error (so a test can check the run reached the decoder's checks at all)."""
    rng = random.Random(f"{SEED}-{name}")
    errors = 0
    started = time.monotonic()
    for index, frame in enumerate(frames(rng, seeds, count)):
        try:
            decode(frame)
        except documented:
            errors += 1
        except Exception as exc:  # noqa: BLE001 - the point of the test: name whatever escaped
            pytest.fail(f"{name}: frame #{index} (seed {SEED}) {frame!r} raised undocumented "
                        f"{type(exc).__name__}: {exc}")
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"{name}: {count} frames took {elapsed:.1f} s"
    return errors


# -------------------------------------------------------------------------------------------------- evaluator

def _ev_line(body: str) -> bytes:
    raw = body.encode("utf-8")
    return b"$" + raw + b"*" + f"{crc16_modbus(raw):04X}".encode() + b"\r\n"


EV_SEEDS = [
    ev.encode_message(ev.Message(7, "OK", ("PING", "IDLE", ""))),
    ev.encode_message(ev.Rating("0a1b2c3d", 1, 2).to_message(12)),
    ev.encode_message(ev.Rating("0a1b2c3d", 5).to_message(65535)),
    ev.encode_message(ev.StartRequest("A001", "李娜", "综合受理", "1号窗口", 120).to_message(3)),
    ev.encode_message(ev.Message(9, "TIMEOUT", ("0a1b2c3d",))),
    ev.encode_message(ev.Message(1, "ERR", ("START", "BUSY", "正忙 %,*$"))),
    _ev_line("²,OK"),  # CRC-valid, but its sequence number is not an ASCII number (the line that killed the reader)
    _ev_line("5,RESULT,0a1b2c3d,³,"),
    _ev_line("5,START,A1,x,y,z,١٢"),
]


def test_evaluator_reported_line_is_a_codec_error_not_a_crash() -> None:
    line = b"$\xc2\xb2,OK*67CF\r\n"
    assert line == _ev_line("²,OK")
    with pytest.raises(ev.EvaluatorCodecError, match="sequence number"):
        ev.decode_line(line)
    decoder = ev.LineDecoder()
    out = decoder.feed(line + ev.encode_message(ev.Message(4, "READY")))
    assert isinstance(out[0], ev.Rejected)
    assert out[1] == ev.Message(4, "READY")  # the next good line still decodes


def test_evaluator_decode_line_fuzz() -> None:
    def decode(frame: bytes) -> None:
        message = ev.decode_line(frame)
        if message.verb == "RESULT":
            ev.Rating.from_message(message)
        elif message.verb == "START":
            ev.StartRequest.from_message(message)

    assert run("evaluator-line", EV_SEEDS, decode, (ev.EvaluatorCodecError,)) > 0


def test_evaluator_stream_decoder_never_raises() -> None:
    decoder = ev.LineDecoder()
    decoded = 0

    def feed(frame: bytes) -> None:
        nonlocal decoded
        decoded += sum(isinstance(item, ev.Message) for item in decoder.feed(frame))

    assert run("evaluator-stream", EV_SEEDS, feed, ()) == 0
    assert decoded > 1000  # good lines among the noise were still found


# -------------------------------------------------------------------------------------------------- ID card

def _idcard_seeds() -> tuple[list[bytes], list[bytes]]:
    cards: list[idcard_card.Card] = list(load_profiles().values())
    resident = next(c for c in cards if isinstance(c, idcard_card.IdCard))
    # A Hong Kong/Macao/Taiwan residence permit: the layout with the issue count that ``²`` broke.
    cards.append(dataclasses.replace(resident, card_type=idcard_card.CardType.HMT_RESIDENCE_PERMIT, nation_code="",
                                     pass_number="H01234567", issue_count=2))
    blocks = [idcard_card.encode_text_block(c) for c in cards]
    frames_ = [idc.encode_reply(0x90, idc.encode_card_data(idc.CardData(b, b"\x00" * 16, b""))) for b in blocks]
    frames_ += [idc.encode_command(idc.Command.FIND_CARD), idc.encode_reply(0x80), idc.encode_reply(0x9F, b"\0" * 4)]
    return blocks, frames_


def test_idcard_text_block_fuzz() -> None:
    blocks, _ = _idcard_seeds()
    kinds = {idcard_card.card_type_of(b) for b in blocks}
    assert idcard_card.CardType.HMT_RESIDENCE_PERMIT in kinds  # the layout with the issue count is covered
    rng = random.Random(f"{SEED}-idcard-fields")

    def field_mutations() -> list[bytes]:
        # Text-level mutations keep the 256-byte size, so decoding gets past the size check into the fields.
        out = []
        for block in blocks:
            for _ in range(40):
                data = bytearray(block)
                at = rng.randrange(0, 256, 2)
                char = rng.choice(ODD_DIGITS + "0123456789X长期 \x00\ud7ff")
                data[at:at + 2] = char.encode("utf-16-le", "surrogatepass")[:2]
                out.append(bytes(data[:256]).ljust(256, b" "))
        return out

    seeds = blocks + field_mutations()

    def decode(frame: bytes) -> None:
        frame = frame[:256].ljust(256, b"\x20") if rng.random() < 0.8 else frame
        idcard_card.decode_text_block(frame)

    assert run("idcard-text", seeds, decode, (CardDataError,)) > 0


def test_idcard_residence_permit_issue_count_with_odd_digit() -> None:
    blocks, _ = _idcard_seeds()
    permit = next(b for b in blocks if idcard_card.card_type_of(b) is idcard_card.CardType.HMT_RESIDENCE_PERMIT)
    odd = bytearray(permit)
    odd[238:242] = "0²".encode("utf-16-le")
    card = idcard_card.decode_text_block(bytes(odd))
    assert card.issue_count is None  # not a number: unknown, and the rest of the card still reads
    assert card.id_number == idcard_card.decode_text_block(permit).id_number


def test_idcard_frame_stream_fuzz() -> None:
    _, seeds = _idcard_seeds()
    decoder = idc.FrameDecoder()
    good = 0

    def feed(frame: bytes) -> None:
        nonlocal good
        items = decoder.feed(frame) + (decoder.idle() if len(frame) % 7 == 0 else [])
        for item in items:
            if isinstance(item, idc.Frame):
                good += 1
                try:
                    reply = item.as_reply()
                    if reply.data[:2] == b"\x01\x00":
                        data = idc.decode_card_data(reply.data)
                        idcard_card.decode_text_block(data.text)
                except (FrameError, CardDataError):
                    pass

    assert run("idcard-frames", seeds, feed, ()) == 0
    assert good > 1000


# -------------------------------------------------------------------------------------------------- LED

def test_led_frame_stream_fuzz() -> None:
    content = led.ScreenContent((led.Line(0, "A001 请到1号窗口", led.Role.TICKET, led.Color.RED),
                                 led.Line(1, "综合受理", led.Role.WINDOW, led.Color.GREEN)))
    seeds = [led.encode_frame(f) for f in (
        led.show_request(1, 5, content), led.clear_request(2, 6), led.brightness_request(1, 7, 80),
        led.status_request(1, 8), led.ack(1, 9, led.Command.STATUS, bytes([2, 16, 80, 0, 2])),
        led.nak(1, 10, led.Command.SHOW, led.NakCode.BAD_TEXT),
    )]
    decoder = led.FrameDecoder()
    good = 0

    def feed(frame: bytes) -> None:
        nonlocal good
        items = decoder.feed(frame) + (decoder.idle() if len(frame) % 5 == 0 else [])
        for item in items:
            if isinstance(item, led.Frame):
                good += 1
                try:
                    if item.command == led.Command.SHOW:
                        led.decode_show_payload(item.payload)
                    elif item.command == led.Command.ACK and len(item.payload) == 6:
                        led.decode_status(item.payload[1:])
                    led.describe_nak(item.payload)
                except led.CodecError:
                    pass

    assert run("led", seeds, feed, ()) == 0
    assert good > 1000


# -------------------------------------------------------------------------------------------------- scanner

@pytest.mark.parametrize("suffix", [None, "crlf", "tab"])
def test_scanner_line_decoder_fuzz(suffix: str | None) -> None:
    seeds = [b"https://hall.example/t/abc123\r\n", b"620102199001010357\r",
             "预约码 Y-2026-0001\n".encode(), b"\xff\xfe\r\n", "二维码内容\t".encode("gb18030")]
    decoder = ScanLineDecoder(suffix=suffix, max_length=256)

    def feed(frame: bytes) -> None:
        decoder.feed(frame)
        if len(frame) % 9 == 0:
            decoder.flush()

    assert run(f"scanner-{suffix}", seeds, feed, (), count=FRAMES // 3) == 0
    with pytest.raises(ScanError):
        raise next(e for e in ScanLineDecoder(max_length=8).feed(b"x" * 20 + b"\r") if isinstance(e, ScanError))


# -------------------------------------------------------------------------------------------------- printer

def test_printer_status_fuzz() -> None:
    rng = random.Random(f"{SEED}-printer-status")
    documented = 0
    for _ in range(FRAMES):
        n, byte = rng.choice([1, 2, 3, 4, rng.randint(-3, 9)]), rng.choice([rng.randrange(256), rng.randint(-9, 999)])
        try:
            printer.decode_status(n, byte)
        except printer.CodecError:
            documented += 1
        try:
            printer.decode_paper_sensor(byte)
        except printer.CodecError:
            documented += 1
    assert documented > 0


def test_printer_escpos_parser_fuzz() -> None:
    # The simulator's side: any byte stream a host sends becomes events, never an exception.
    seeds = [printer.render(typical_ticket("A001", 3)), b"\x1b@\x10\x04\x01\x1dr1", b"\x1dv0\x00\x02\x00\x01\x00\xff\xff"]
    seeds = [seeds[0][i : i + 200] for i in range(0, min(len(seeds[0]), 4000), 200)] + seeds[1:]
    parser = EscPosParser()
    assert run("printer-escpos", seeds, parser.feed, (), count=FRAMES // 4) == 0


# -------------------------------------------------------------------------------------------------- camera

def test_camera_frame_decoder_fuzz() -> None:
    from devices.camera.codec import FrameDecoder
    from devices.camera.codec import FrameError as CameraFrameError

    decoder = FrameDecoder(barcodes=False, zbar_qr_fallback=False, denoise=False)
    rng = random.Random(f"{SEED}-camera")
    shapes = [(24, 24), (32, 40, 3), (40, 32, 4), (3, 3), (16, 16, 2), (0, 10), (30,)]
    documented = 0
    started = time.monotonic()
    # OpenCV's QR detector costs ~1 ms even on a tiny frame on this machine: 3·10³ frames (random shape, dtype
    # and content) keep this under ~5 s; the byte-stream codecs above get the full 10⁵.
    for index in range(3_000):
        shape = rng.choice(shapes)
        dtype = rng.choice([np.uint8, np.uint8, np.uint8, np.float32, np.int16])
        frame = np.frombuffer(rng.randbytes(int(np.prod(shape)) * np.dtype(dtype).itemsize), dtype=dtype).reshape(shape)
        candidate: object = frame if rng.random() < 0.95 else rng.choice([None, b"abc", "frame", [[1, 2]]])
        try:
            decoder.decode(candidate)
        except CameraFrameError:
            documented += 1
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"camera frame #{index} shape {shape} {dtype}: undocumented {type(exc).__name__}: {exc}")
    assert documented > 0
    assert time.monotonic() - started < 60
