"""The 256-byte text block, the card's ID number check, nations, masking and the card profile files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.contract.privacy import id_check_char
from devices.idcard.card import (
    NATIONS,
    CardType,
    ForeignResidentCard,
    IdCard,
    Sex,
    card_type_of,
    decode_text_block,
    encode_text_block,
    validate_id_number,
)
from devices.idcard.errors import (
    CardDataError,
    NoCard,
    ReaderError,
    ReadFailed,
    SamNotAuthorised,
    Status,
    error_for_status,
)
from devices.idcard.profiles import DEFAULT_CARDS_DIR, ProfileError, load_profile, load_profiles


def resident_block(**overrides: str) -> bytes:
    """A text block built field by field, independently of encode_text_block."""
    fields = {
        "name": ("王秀娜", 30),
        "sex": ("2", 2),
        "nation": ("04", 4),
        "birth": ("19560817", 16),
        "address": ("甘肃省合作市当周街道1号", 70),
        "id": ("623001195608170428", 36),
        "authority": ("合作市公安局", 30),
        "from": ("20100305", 16),
        "to": ("长期", 16),
        "reserved": ("", 36),
    }
    out = b""
    for key, (value, size) in fields.items():
        raw = overrides.get(key, value).encode("utf-16-le")
        out += raw + b"\x20\x00" * ((size - len(raw)) // 2)
    assert len(out) == 256
    return out


def test_a_valid_number_passes_unchanged() -> None:
    assert validate_id_number("11010519491231002X") == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("110105194912310021", "should be X"),
        ("11010519491231002", "has 17 characters"),
        ("1101051949123100AX", "17 digits"),
        ("11010519491231002x", "17 digits"),
    ],
)
def test_bad_numbers_are_refused_with_masked_number(number: str, why: str) -> None:
    with pytest.raises(CardDataError, match=why) as info:
        validate_id_number(number)
    assert number not in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_any_single_digit_change_breaks_the_check(first17: str) -> None:
    number = first17 + id_check_char(first17)
    validate_id_number(number)
    changed = str((int(number[3]) + 1) % 10)
    with pytest.raises(CardDataError):
        validate_id_number(number[:3] + changed + number[4:])


def test_decode_resident_block_built_by_hand() -> None:
    card = decode_text_block(resident_block(), photo=b"\x01" * 1024)
    assert isinstance(card, IdCard)
    assert card.name == "王秀娜"
    assert card.sex is Sex.FEMALE and card.sex.label == "女"
    assert card.nation_code == "04" and card.nation == "藏"
    assert card.birth_date == date(1956, 8, 17)
    assert card.address == "甘肃省合作市当周街道1号"
    assert card.id_number == "623001195608170428"
    assert card.authority == "合作市公安局"
    assert card.valid_from == date(2010, 3, 5) and card.valid_to is None
    assert card.validity == "20100305-长期"
    assert card.photo == b"\x01" * 1024
    assert encode_text_block(card) == resident_block()


def test_nation_table_is_complete() -> None:
    assert len(NATIONS) == 58
    assert [NATIONS[f"{i:02d}"] for i in (1, 4, 56)] == ["汉", "藏", "基诺"]
    assert NATIONS["97"] == "其他" and NATIONS["98"] == "外国血统中国籍人士"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"id": "623001195608170421"}, "GB 11643"),
        ({"birth": "19560818"}, "birth date"),
        ({"birth": "19561332"}, "not a real date"),
        ({"sex": "1"}, "number, card says 男"),
        ({"sex": "5"}, "sex code"),
        ({"nation": "77"}, "nation code"),
        ({"to": "2010"}, "YYYYMMDD"),
        ({"to": "20000101"}, "ends before it starts"),
        ({"name": ""}, "name field is empty"),
    ],
)
def test_bad_fields_are_named(override: dict[str, str], message: str) -> None:
    with pytest.raises(CardDataError, match=message):
        decode_text_block(resident_block(**override))


def test_block_of_wrong_size_or_not_text() -> None:
    with pytest.raises(CardDataError, match="256 bytes"):
        decode_text_block(bytes(255))
    block = bytearray(resident_block())
    block[0:2] = b"\x00\xd8"  # a lone UTF-16 surrogate
    with pytest.raises(CardDataError, match="name is not valid UCS-2"):
        decode_text_block(bytes(block))


def test_repr_and_str_mask_personal_data() -> None:
    card = decode_text_block(resident_block())
    for text in (repr(card), str(card), f"{card}", repr([card])):
        assert "王*娜" in text
        assert "6230**********0428" in text
        assert "王秀娜" not in text and "623001195608170428" not in text and "当周街道" not in text
    assert card.as_dict()["id_number"] == "623001195608170428"


def test_foreign_permanent_resident_card_round_trip() -> None:
    card = ForeignResidentCard(
        english_name="MILLER, ANNA MARIE",
        chinese_name="米安娜",
        sex=Sex.FEMALE,
        card_number="AUS620890504123",
        nationality="AUS",
        birth_date=date(1989, 5, 4),
        valid_from=date(2019, 9, 1),
        valid_to=date(2029, 9, 1),
        card_version="20",
        authority_code="1500",
    )
    block = encode_text_block(card)
    assert block[248:250] == b"I\x00"
    assert block[0:36] == "MILLER, ANNA MARIE".encode("utf-16-le")
    assert card_type_of(block) is CardType.FOREIGN_PERMANENT_RESIDENT
    decoded = decode_text_block(block)
    assert decoded == card
    assert decoded.name == "米安娜" and decoded.id_number == "AUS620890504123"
    assert "MILLER" not in repr(decoded) and "AUS620890504123" not in repr(decoded)


def test_foreign_card_number_is_checked() -> None:
    card = load_profile(DEFAULT_CARDS_DIR / "foreigner.json")
    block = bytearray(encode_text_block(card))
    block[122:152] = "AUS62089050412".encode("utf-16-le") + b"\x20\x00" * 1
    with pytest.raises(CardDataError, match="14 characters"):
        decode_text_block(bytes(block))


def test_residence_permit_type_j_is_recognised() -> None:
    card = IdCard(
        name="陈家明",
        sex=Sex.MALE,
        nation_code="",
        birth_date=date(1990, 1, 15),
        address="广东省深圳市福田区福华路88号",
        id_number="810000199001150011",
        authority="深圳市公安局",
        valid_from=date(2019, 1, 1),
        valid_to=date(2024, 1, 1),
        card_type=CardType.HMT_RESIDENCE_PERMIT,
        pass_number="H12345678",
        issue_count=1,
    )
    card.validate()
    block = encode_text_block(card)
    assert block[248:250] == b"J\x00"
    decoded = decode_text_block(block)
    assert decoded.card_type is CardType.HMT_RESIDENCE_PERMIT
    assert (decoded.pass_number, decoded.issue_count) == ("H12345678", 1)


def test_field_too_long_for_the_card() -> None:
    card = decode_text_block(resident_block())
    long_name = IdCard(**{**card.__dict__, "name": "王" * 16})
    with pytest.raises(CardDataError, match="at most 15"):
        encode_text_block(long_name)


def test_sw3_codes_map_to_clear_exceptions() -> None:
    assert isinstance(error_for_status(0x80), NoCard)
    assert isinstance(error_for_status(0x41), ReadFailed)
    assert isinstance(error_for_status(0x81), ReadFailed)
    assert isinstance(error_for_status(0x66), SamNotAuthorised)
    unknown = error_for_status(0x55, "find card")
    assert type(unknown) is ReaderError and "find card: unknown status 0x55" in str(unknown)
    assert error_for_status(0x66).status is Status.SAM_NOT_AUTHORISED
    assert "vendor" in str(error_for_status(0x66))


# --- profile files ------------------------------------------------------------------------------------------


def test_shipped_profiles_cover_the_cases() -> None:
    cards = load_profiles()
    assert set(cards) >= {"elderly", "young", "tibetan", "foreigner"}
    assert 1950 <= cards["elderly"].birth_date.year < 1960
    assert cards["elderly"].valid_to is None  # 长期
    assert 18 <= 2026 - cards["young"].birth_date.year <= 25
    assert cards["foreigner"].card_type is CardType.FOREIGN_PERMANENT_RESIDENT
    for card in cards.values():
        assert decode_text_block(encode_text_block(card), card.photo) == card
        assert len(card.photo) == 1024


def write_profile(tmp_path: Path, **changes: object) -> Path:
    data = json.loads((DEFAULT_CARDS_DIR / "young.json").read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / "person.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id_number": "620102200411020358"}, "person.json: ID number 6201\\*+0358 fails its GB 11643 check"),
        ({"nation": "火星"}, "field 'nation'"),
        ({"sex": "M"}, "field 'sex'"),
        ({"birth_date": "2004/11/02"}, "field 'birth_date'"),
        ({"colour": "red"}, "unknown field"),
        ({"kind": "passport"}, "kind 'passport'"),
        ({"valid_to": 2032}, "must be a string"),
    ],
)
def test_bad_profiles_name_file_and_field(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        load_profile(write_profile(tmp_path, **changes))


def test_profile_errors_for_missing_fields_and_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"kind": "resident", "name": "张三"}', encoding="utf-8")
    with pytest.raises(ProfileError, match="missing field"):
        load_profile(path)
    path.write_text("{nope", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid JSON"):
        load_profile(path)
    with pytest.raises(ProfileError, match="holds no"):
        load_profiles(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_error_messages_do_not_quote_birth_dates() -> None:
    with pytest.raises(CardDataError) as info:
        decode_text_block(resident_block(birth="19561332"))
    assert "19561332" not in str(info.value)
