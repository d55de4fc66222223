"""Ticket documents: JSON in and out, and validation that names the bad block and field."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.printer.document import (
    Cut,
    DocumentError,
    Feed,
    Footer,
    Header,
    Number,
    QRCode,
    Separator,
    Text,
    TicketDocument,
)
from devices.printer.samples import typical_ticket


def test_round_trip_through_json_gives_an_equal_document() -> None:
    document = typical_ticket()
    wire = json.dumps(document.to_dict(), ensure_ascii=False)
    assert TicketDocument.from_dict(json.loads(wire)) == document


def test_to_dict_names_each_block_type_and_fills_defaults() -> None:
    data = TicketDocument.of(Header(text="合作"), QRCode(payload="x"), Cut()).to_dict()
    assert data == {
        "blocks": [
            {"type": "header", "text": "合作", "align": "center"},
            {"type": "qr", "payload": "x", "size": 6, "ec": "M", "align": "center"},
            {"type": "cut", "partial": False},
        ]
    }


def test_from_dict_applies_defaults() -> None:
    document = TicketDocument.from_dict({"blocks": [{"type": "number", "text": "B012"}, {"type": "feed"}]})
    assert document.blocks == (Number(text="B012", scale=4, align="center"), Feed(lines=1))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"blocks": [{"type": "qrx"}]}, "blocks[0] (qrx): unknown block type 'qrx'; use one of header"),
        ({"blocks": [{"text": "x"}]}, "blocks[0]: each block needs a 'type' field"),
        ({"blocks": [{"type": "cut"}, {"type": "qr", "payload": "x", "size": 40}]},
         "blocks[1] (qr).size: Input should be less than or equal to 16 (got 40)"),
        ({"blocks": [{"type": "number", "text": "A", "scale": "3"}]}, "blocks[0] (number).scale: Input should be a valid integer (got '3')"),
        ({"blocks": [{"type": "text", "text": "x", "align": "middle"}]}, "blocks[0] (text).align: Input should be 'left', 'center' or 'right' (got 'middle')"),
        ({"blocks": [{"type": "cut", "knife": 1}]}, "blocks[0] (cut).knife: unknown field"),
        ({"blocks": [{"type": "header"}]}, "blocks[0] (header).text: Field required"),
        ({"blocks": []}, "a ticket needs at least one block"),
        ({"blocks": "abc"}, "blocks: Input should be a list"),
        ({"blokcs": []}, "blokcs: unknown field"),
        ({"blocks": [{"type": "separator", "char": "--"}]}, "blocks[0] (separator).char"),
        ({"blocks": [{"type": "feed", "lines": 0}]}, "blocks[0] (feed).lines: Input should be greater than or equal to 1"),
        ({"blocks": [{"type": "qr", "payload": "x" * 1300, "ec": "H"}]},
         "payload is 1300 bytes in UTF-8; a QR code at level H holds at most 1273"),
    ],
)
def test_validation_errors_name_the_block_and_field(data: dict, expected: str) -> None:
    with pytest.raises(DocumentError) as caught:
        TicketDocument.from_dict(data)
    assert expected in str(caught.value)


def test_a_document_must_be_an_object() -> None:
    with pytest.raises(DocumentError, match="JSON object with a 'blocks' list, got list"):
        TicketDocument.from_dict([])


@pytest.mark.parametrize("bad", ["\x1b@", "a\x1d!\x11b", "\x10\x04\x01", "x\ry", "x\ty", "\u202e", "\x00"])
def test_text_cannot_smuggle_control_characters(bad: str) -> None:
    with pytest.raises(DocumentError, match="control or unassigned character"):
        TicketDocument.from_dict({"blocks": [{"type": "text", "text": bad}]})


def test_errors_do_not_echo_free_text_which_may_be_personal_data() -> None:
    with pytest.raises(DocumentError) as caught:
        TicketDocument.from_dict({"blocks": [{"type": "text", "text": "王小娜 620102199001011234\x07"}]})
    assert "620102" not in str(caught.value) and "王" not in str(caught.value)


def test_newlines_are_allowed_in_body_text_but_not_in_a_header() -> None:
    TicketDocument.from_dict({"blocks": [{"type": "text", "text": "a\nb"}, {"type": "footer", "text": "c\nd"}]})
    with pytest.raises(DocumentError, match=r"blocks\[0\] \(header\).text"):
        TicketDocument.from_dict({"blocks": [{"type": "header", "text": "a\nb"}]})


def test_tibetan_and_zero_width_joiners_are_printable_text() -> None:
    tibetan = "བཀྲ་ཤིས་བདེ་ལེགས།\u200d"
    document = TicketDocument.of(Text(text=tibetan), Footer(text="合作市"))
    # Kept exactly (a joiner is part of the text, not a control character), also through the agent's JSON.
    again = TicketDocument.from_dict(json.loads(json.dumps(document.to_dict())))
    assert again == document and again.blocks[0].text == tibetan


def test_blocks_are_immutable_values() -> None:
    block = Separator()
    with pytest.raises(AttributeError):
        block.char = "="  # type: ignore[misc]


_blocks = st.one_of(
    st.builds(Header, text=st.text(st.characters(categories=["L", "N", "P"]), min_size=1, max_size=30)),
    st.builds(Number, text=st.text("ABCD0123456789", min_size=1, max_size=6), scale=st.integers(1, 8)),
    st.builds(Text, text=st.text(st.characters(categories=["L", "N", "P", "Zs"]), max_size=60),
              align=st.sampled_from(["left", "center", "right"]), bold=st.booleans(), double=st.booleans()),
    st.builds(QRCode, payload=st.text(min_size=1, max_size=80).filter(lambda s: s.isprintable()),
              size=st.integers(1, 16), ec=st.sampled_from("LMQH")),
    st.builds(Feed, lines=st.integers(1, 20)),
    st.builds(Cut, partial=st.booleans()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_blocks, min_size=1, max_size=8))
def test_any_valid_document_survives_the_wire(blocks: list) -> None:
    document = TicketDocument(blocks=tuple(blocks))
    assert TicketDocument.from_dict(json.loads(json.dumps(document.to_dict()))) == document
