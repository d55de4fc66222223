"""deploy/: the systemd units start commands the CLI really has, in the right order, and systemd accepts them."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from devices.agent.cli import build_parser as agent_parser
from devices.sim_cli import build_parser as sim_parser
from queue_server.commands import cli

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
PREFIX = "/opt/onewindow"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # keys are case-sensitive
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser


def exec_args(name: str, instance: str = "kiosk-1") -> list[str]:
    line = unit(name)["Service"]["ExecStart"]
    line = line.replace("%i", instance).replace("${ONEWINDOW_SERVER}", "http://127.0.0.1:5000")
    words = [w for w in shlex.split(line) if not w.startswith("$")]  # $ONEWINDOW_SERVE_ARGS: optional extras
    assert words[0] == f"{PREFIX}/.venv/bin/onewindow"
    return words[1:]


def test_server_unit_runs_serve_with_options_the_cli_accepts() -> None:
    args = exec_args("onewindow.service")
    assert args[0] == "serve"
    context = cli.commands["serve"].make_context("serve", args[1:])  # raises on an unknown option
    assert context.params["database"] == "/var/lib/onewindow/onewindow.db"
    assert unit("onewindow.service")["Service"]["Restart"] == "on-failure"


def test_simulator_unit_runs_sim_hall() -> None:
    words = exec_args("onewindow-sim.service")
    assert words[0] == "sim"
    args = sim_parser().parse_args(words[1:])
    assert args.kind == "hall" and str(args.runtime_file) == "/var/lib/onewindow/sim-hall.json"
    assert unit("onewindow-sim.service")["Service"]["Restart"] == "on-failure"


def test_agent_template_runs_the_instance_station_after_server_and_simulators() -> None:
    words = exec_args("onewindow-agent@.service", "window-3")
    assert words[0] == "agent"
    args = agent_parser().parse_args(words[1:])
    assert args.station == "window-3" and str(args.token_file) == "/etc/onewindow/tokens/window-3"
    # the agents find the simulators through the file the sim unit writes
    assert str(args.runtime_file) == str(sim_parser().parse_args(exec_args("onewindow-sim.service")[1:]).runtime_file)
    agent = unit("onewindow-agent@.service")
    assert {"onewindow.service", "onewindow-sim.service"} <= set(agent["Unit"]["After"].split())
    assert "onewindow.service" in agent["Unit"]["Wants"].split()
    assert "Requires" not in agent["Unit"]  # an agent rides out a server restart, reconnecting with backoff
    assert agent["Service"]["Restart"] == "on-failure"


def test_readme_documents_the_units() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "## Running as services" in readme
    for name in ("onewindow.service", "onewindow-sim.service", "onewindow-agent@", "onewindow-hall.target"):
        assert name in readme


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd); the parsing tests above still ran")
    for path in [*DEPLOY.glob("*.service"), *DEPLOY.glob("*.target")]:
        # verify checks that ExecStart's program exists: point the install prefix at this checkout
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8").replace(PREFIX, str(REPO)),
                                          encoding="utf-8")
    names = ["onewindow.service", "onewindow-sim.service", "onewindow-agent@kiosk-1.service", "onewindow-hall.target"]
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "Unknown" not in done.stderr, done.stderr
