"""The agent's outbox, state file and backoff: durable FIFO, torn lines, restart, at-most-once command ids."""

from __future__ import annotations

import json
import random
import stat
from pathlib import Path

import pytest

from devices.agent.backoff import Backoff
from devices.agent.outbox import Outbox
from devices.agent.state import KEEP_COMMANDS, AgentState

CARD = {"id_number": "620102200411020357", "name": "李浩然", "birth_date": "2004-11-02", "sex": "男",
        "nation": "汉", "expired": False}


def test_inputs_survive_a_restart_in_order_until_acked(tmp_path: Path) -> None:
    path = tmp_path / "var" / "outbox.jsonl"
    box = Outbox(path)
    first = box.add("idcard", "card_read", CARD)
    second = box.add("scanner", "code_scanned", {"code": "X1", "symbology": None})
    assert len(first.input_id) <= 64 and first.input_id != second.input_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # personal data until acked: owner only

    again = Outbox(path)  # the agent restarted
    assert [e.input_id for e in again.pending()] == [first.input_id, second.input_id]
    assert again.first() is not None and again.first().data == CARD
    assert again.ack(first.input_id) is True
    assert again.ack(first.input_id) is False

    third = Outbox(path)
    assert [e.input_id for e in third.pending()] == [second.input_id]
    assert third.ack(second.input_id)
    assert path.read_text() == ""


def test_a_torn_last_line_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    box = Outbox(path)
    kept = box.add("scanner", "code_scanned", {"code": "A"})
    with path.open("ab") as f:
        f.write(b'{"input_id": "abc", "device": "idc')  # the agent died mid-write
    reloaded = Outbox(path)
    assert reloaded.skipped_lines == 1
    assert [e.input_id for e in reloaded.pending()] == [kept.input_id]
    assert all(json.loads(line) for line in path.read_text().splitlines())  # rewritten without the torn line


def test_repr_of_an_entry_has_no_personal_data(tmp_path: Path) -> None:
    entry = Outbox(tmp_path / "o.jsonl").add("idcard", "card_read", CARD)
    assert "李浩然" not in repr(entry) and "620102200411020357" not in repr(entry)
    assert entry.message("kiosk-1") == {"station": "kiosk-1", "device": "idcard", "input_id": entry.input_id,
                                        "kind": "card_read", "data": CARD}


def test_wait_returns_when_an_input_arrives(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.jsonl")
    assert box.wait(0.01) is False
    box.add("scanner", "code_scanned", {"code": "A"})
    assert box.wait(0.01) is True


def test_state_keeps_the_highest_seq_and_each_command_once(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = AgentState(path)
    assert state.seq is None
    state.set_seq(10)
    state.set_seq(7)  # an older event handled late does not move it back
    assert state.seq == 10
    assert state.claim_command("c1") is True
    assert state.claim_command("c1") is False

    restarted = AgentState(path)
    assert restarted.seq == 10
    assert restarted.claim_command("c1") is False
    restarted.reset_seq(3)  # the server's log restarted
    assert AgentState(path).seq == 3

    for i in range(KEEP_COMMANDS + 5):
        restarted.claim_command(f"x{i}")
    assert len(json.loads(path.read_text())["commands"]) == KEEP_COMMANDS


def test_an_unreadable_state_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    state = AgentState(path)
    assert state.seq is None and state.claim_command("a")


def test_backoff_grows_exponentially_with_jitter_and_resets() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, factor=2.0, jitter=0.5, rng=random.Random(1))
    delays = [backoff.next() for _ in range(6)]
    for delay, ceiling in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert ceiling * 0.5 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered: agents restarting together do not retry in step
    backoff.reset()
    assert backoff.next() <= 1.0


@pytest.mark.parametrize("kwargs", [{"initial": 0}, {"initial": 2, "maximum": 1}, {"jitter": 1.0}, {"factor": 0.5}])
def test_backoff_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
