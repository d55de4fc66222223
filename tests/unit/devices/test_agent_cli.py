"""``onewindow agent`` start-up: arguments, the devices file, the window a station serves, one agent per station."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.agent.agent import Agent, AgentError, window_id_for
from devices.agent.cli import TOKEN_ENV, main, read_token
from devices.stations import parse_devices

DEVICES = {
    "stations": {
        "kiosk-1": {"role": "kiosk", "scanner": {"url": "loop://"}},
        "window-3": {"role": "window", "led": {"url": "loop://", "address": 3}},
        "window-9": {"role": "window", "window_id": "w12", "led": {"url": "loop://", "address": 9}},
        "counter-a": {"role": "window", "led": {"url": "loop://", "address": 1}},
    }
}


@pytest.fixture
def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    return parse_devices(DEVICES, tmp_path / "devices.toml")


def test_the_window_a_station_serves(config) -> None:  # type: ignore[no-untyped-def]
    assert window_id_for(config, "kiosk-1") is None
    assert window_id_for(config, "window-3") == "w03"  # window-N -> wNN, the default hall's ids
    assert window_id_for(config, "window-9") == "w12"  # the devices file's window_id wins
    assert window_id_for(config, "window-3", "w07") == "w07"  # and --window-id over both
    with pytest.raises(AgentError, match="pass --window-id"):
        window_id_for(config, "counter-a")


def test_one_agent_per_station_and_state_dir(config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = Agent(config, "kiosk-1", "http://127.0.0.1:9", tmp_path / "var")
    try:
        with pytest.raises(AgentError, match="another agent for station kiosk-1 is running"):
            Agent(config, "kiosk-1", "http://127.0.0.1:9", tmp_path / "var")
        Agent(config, "window-3", "http://127.0.0.1:9", tmp_path / "var").stop()  # another station: fine
    finally:
        first.stop()
    Agent(config, "kiosk-1", "http://127.0.0.1:9", tmp_path / "var").stop()  # the lock went with it
    with pytest.raises(AgentError, match="no station 'kiosk-9'"):
        Agent(config, "kiosk-9", "http://127.0.0.1:9", tmp_path / "var")


def test_cli_errors_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devices = tmp_path / "devices.toml"
    devices.write_text('[stations.kiosk-1]\nrole = "kiosk"\n', encoding="utf-8")
    assert main(["--config", str(devices), "--station", "kiosk-2", "--state-dir", str(tmp_path)]) == 2
    assert "no station 'kiosk-2'" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "nope.toml"), "--station", "kiosk-1"]) == 2
    assert "cannot read the devices file" in capsys.readouterr().err
    assert main(["--station", "kiosk-1", "--heartbeat", "0"]) == 2
    assert main([]) == 2  # --station is required; argparse said so
    empty = tmp_path / "token"
    empty.write_text("\n")
    assert main(["--config", str(devices), "--station", "kiosk-1", "--token-file", str(empty)]) == 2
    assert "token file" in capsys.readouterr().err


def test_the_token_comes_from_a_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert read_token(None) is None
    monkeypatch.setenv(TOKEN_ENV, " env-token ")
    assert read_token(None) == "env-token"
    path = tmp_path / "t"
    path.write_text("file-token\n")
    assert read_token(path) == "file-token"
    with pytest.raises(AgentError, match="cannot read the token file"):
        read_token(tmp_path / "missing")
