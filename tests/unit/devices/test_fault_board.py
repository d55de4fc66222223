"""The simulators' shared fault board and control table: one way to set, count and report faults."""

from __future__ import annotations

import pytest

from devices.common.console import words_to_request
from devices.common.control import Command, ControlError, ControlTable
from devices.common.faults import FaultBoard, FaultSpec

SPECS = (FaultSpec("paper_out"), FaultSpec("slow", "s", default=1.0, high=60),
         FaultSpec("speed", "mm/s", low=0, low_inclusive=False))


def test_counted_fault_fires_that_many_times_then_ends() -> None:
    board = FaultBoard(SPECS)
    assert board.set("paper_out", count=2) == "fault paper_out on for 2 occurrence(s)"
    assert [board.take("paper_out") for _ in range(3)] == [True, True, False]
    assert board.status() == {}


def test_values_default_are_checked_and_reported() -> None:
    board = FaultBoard(SPECS)
    board.set("slow")
    assert board.value("slow") == 1.0 and board.take_value("slow") == (True, 1.0)
    assert board.set("slow", value=0.25) == "fault slow on (0.25 s)"
    assert board.status() == {"slow": {"value": 0.25, "remaining": None}}
    board.set("slow", False)
    assert board.value("slow") is None and not board.active("slow")


@pytest.mark.parametrize(
    ("name", "kwargs", "error"),
    [("fire", {}, "unknown fault 'fire'; faults: paper_out, slow, speed"),
     ("slow", {"value": 61}, "fault slow needs a value in s >= 0 and <= 60, got 61"),
     ("speed", {}, "fault speed needs a value in mm/s (> 0)"),
     ("speed", {"value": 0}, "fault speed needs a value in mm/s > 0, got 0"),
     ("paper_out", {"value": 3}, "fault paper_out takes no value"),
     ("paper_out", {"count": 0}, "count must be a whole number"),
     ("paper_out", {"on": "yes"}, '"on" must be true or false')],
)
def test_bad_settings_say_what_is_allowed(name: str, kwargs: dict, error: str) -> None:
    board = FaultBoard(SPECS)
    with pytest.raises(ControlError) as info:
        board.set(name, **kwargs)
    assert error in str(info.value)
    assert board.status() == {}


def test_on_change_hears_every_switch() -> None:
    heard: list[tuple[str, bool]] = []
    board = FaultBoard(SPECS, on_change=lambda name, on: heard.append((name, on)))
    board.set("paper_out")
    board.set("slow", value=2)
    board.clear()
    assert heard == [("paper_out", True), ("slow", True), ("paper_out", False), ("slow", False)]


def test_control_table_reads_fault_words_the_same_way_for_every_device() -> None:
    board = FaultBoard(SPECS)
    pressed: list[object] = []
    table = ControlTable({"press": Command(lambda r, a: pressed.append(a[0]), "press N")},
                         status=lambda: {"faults": board.status()}, faults=board)
    assert table.handle(words_to_request(["fault", "slow", "2.5"])) == {"text": "fault slow on (2.5 s)"}
    assert table.handle(words_to_request(["fault", "slow", "on", "3"])) == {"text": "fault slow on (3 s)"}
    assert table.handle(words_to_request(["fault", "paper_out", "on", "count=1"]))["text"].endswith("1 occurrence(s)")
    assert set(table.handle({"cmd": "status"})["faults"]) == {"slow", "paper_out"}
    assert table.handle(words_to_request(["press", "4"])) == {"text": "ok"} and pressed == [4]
    assert "press N" in table.handle({"cmd": "help"})["text"]
    with pytest.raises(ControlError, match="unknown command 'dance'; commands: fault, status, press, help"):
        table.handle({"cmd": "dance"})
    with pytest.raises(ControlError, match="fault needs a name"):
        table.handle({"cmd": "fault"})
