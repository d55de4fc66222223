"""A live hall shared by the agent tests of a module: server, simulators, a kiosk agent and a window agent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.agent.harness import DEVICES_TOML, AgentProcess, Server, Simulators
from tests.support.waiting import wait_for


@dataclass
class Hall:
    directory: Path
    server: Server
    sims: Simulators
    kiosk: AgentProcess
    window: AgentProcess

    def logs(self) -> str:
        return "\n".join(f"===== {name}\n{text[-6000:]}" for name, text in (
            ("server", self.server.log_text()), ("agent kiosk-1", self.kiosk.log_text()),
            ("agent window-1", self.window.log_text())))


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    directory = tmp_path_factory.mktemp("agent-hall")
    (directory / "devices.toml").write_text(DEVICES_TOML, encoding="utf-8")
    sims = Simulators(directory)
    server = Server(directory)
    kiosk = window = None
    try:
        server.start()
        # every agent authenticates with its station's device token, as in a hall
        token = server.device_token("kiosk-1", directory / "kiosk-1.token")
        kiosk = AgentProcess(directory, "kiosk-1", server, token_file=token).start()
        window_token = server.device_token("window-1", directory / "window-1.token")
        window = AgentProcess(directory, "window-1", server, token_file=window_token).start()
        hall = Hall(directory, server, sims, kiosk, window)
        for station, device in (("kiosk-1", "printer"), ("kiosk-1", "idcard"), ("kiosk-1", "scanner"),
                                ("kiosk-1", "camera"),
                                ("window-1", "led"), ("window-1", "evaluator")):
            wait_for(lambda s=station, d=device: server.health(s, d) == "ok", 15, f"{station}/{device} ok")
        yield hall
    finally:
        agents = [agent for agent in (kiosk, window) if agent is not None]
        for agent in agents:
            agent.terminate()
        for agent in agents:
            agent.stop()
        server.stop()
        sims.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    hall = getattr(item, "funcargs", {}).get("hall")
    if report.when == "call" and report.failed and isinstance(hall, Hall):
        report.sections.append(("live hall logs", hall.logs()))
