"""The wire contract: one definition of masking, the ID check character, rating levels and agent messages."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from devices.contract.messages import AgentHello, CommandResult, DeviceCommand, DeviceHealth, DeviceInput
from devices.contract.privacy import (
    birth_date_of,
    id_check_char,
    mask_id,
    mask_name,
    mask_phone,
    validate_id_number,
)
from devices.contract.ratings import LEVEL_LABELS, REASONS, Level


@pytest.mark.parametrize(
    ("name", "masked"),
    [("王", "*"), ("张三", "张*"), ("王小娜", "王*娜"), ("欧阳小明", "欧**明"), (" 李娜 ", "李*"), ("Tenzin", "T****n"),
     ("", "")],
)
def test_names_never_come_back_whole(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [("11010519491231002X", "1101**********002X"), ("110105491231002", "1101*******1002"),
     ("12345678", "1******8"), ("E1234567", "E******7"), ("123", "***"), ("", "")],
)
def test_id_numbers_keep_only_their_ends(number: str, masked: str) -> None:
    assert mask_id(number) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13912345678", "139****5678"), ("094182123456", "094*****3456"), ("8212345", "82***45"), ("12345", "*****")],
)
def test_phones_keep_only_their_ends(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789X王李Ab", max_size=24))
def test_every_mask_hides_at_least_a_third(value: str) -> None:
    for mask in (mask_name, mask_id, mask_phone):
        out = mask(value)
        v = value.strip()
        assert len(out) == len(v)
        assert out.count("*") >= len(v) / 3
        if len(v) <= 3 and mask is not mask_name:
            assert set(out) <= {"*"}


def test_check_character_of_known_numbers() -> None:
    # GB 11643's worked example (X), and numbers ending in a digit.
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("62300119540817042") == "3"
    assert id_check_char("62300119560817042") == "8"
    with pytest.raises(ValueError, match="17 digits"):
        id_check_char("1101051949123100")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_breaks_the_check(first17: str, where: int, delta: int) -> None:
    changed = first17[:where] + str((int(first17[where]) + delta) % 10) + first17[where + 1:]
    assert id_check_char(changed) != id_check_char(first17)


def test_id_number_validation_normalises_and_says_what_is_wrong() -> None:
    assert validate_id_number(" 11010519491231002x ") == "11010519491231002X"
    with pytest.raises(ValueError, match="check character does not match"):
        validate_id_number("110105194912310021")
    with pytest.raises(ValueError, match="birth date"):
        validate_id_number("110105194913310021")
    with pytest.raises(ValueError, match="17 digits"):
        validate_id_number("1101051949123100")
    assert birth_date_of("11010519491231002X").isoformat() == "1949-12-31"


def test_rating_levels_and_reasons() -> None:
    assert [lv for lv in Level if lv.is_bad] == [Level.VERY_DISSATISFIED, Level.DISSATISFIED]
    assert Level(5).label == "非常满意" and Level(1).label == "非常不满意"
    assert set(LEVEL_LABELS) == set(Level)
    assert REASONS[5] == "其他" and sorted(REASONS) == [1, 2, 3, 4, 5]


def test_server_and_devices_share_the_same_objects() -> None:
    from devices.evaluator import codec
    from queue_server.domain import evaluations, privacy

    assert codec.Level is evaluations.Level is Level
    assert evaluations.INDICATORS is codec.REASONS is REASONS
    assert privacy.mask_id is mask_id and privacy.id_check_char is id_check_char


def test_agent_messages_round_trip_and_refuse_unknown_fields() -> None:
    hello = AgentHello(station="kiosk-1", devices={"printer": "ok"}, since=3)
    assert AgentHello.model_validate(hello.model_dump()) == hello
    with pytest.raises(ValidationError):
        AgentHello.model_validate({"station": "kiosk-1", "since": -1})
    with pytest.raises(ValidationError):
        DeviceHealth.model_validate({"station": "k", "device": "printer", "status": "ok", "colour": "red"})
    with pytest.raises(ValidationError):
        DeviceInput.model_validate({"station": "k", "device": "idcard", "kind": "card_read"})  # no input_id
    with pytest.raises(ValidationError):
        CommandResult.model_validate({"station": "k", "command_id": "c1"})  # no ok


def test_device_command_keeps_log_fields_and_ignores_extra() -> None:
    cmd = DeviceCommand.model_validate({"command_id": "c1", "station": "kiosk-1", "device": "printer",
                                        "command": "print", "args": {"doc": []}, "seq": 7,
                                        "at": "2026-12-06T08:00:00+00:00", "hall": "hezuo"})
    assert (cmd.seq, cmd.args) == (7, {"doc": []})
    with pytest.raises(ValidationError):
        DeviceCommand.model_validate({"command_id": "", "station": "k", "device": "printer", "command": "print"})
