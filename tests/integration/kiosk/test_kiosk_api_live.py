"""The kiosk's REST API and its Socket.IO traffic against a live ``onewindow serve`` with the bundled hall.

A stand-in agent (a Socket.IO client speaking the agent's messages) reports a printer and a card read; the kiosk
API issues a ticket, the agent receives the print command (a ticket document the printer codec renders and the
transcript parser reads back), and its result reaches the hall room; a printer out of paper turns into a ticket
shown on screen and a staff alert; appointments check in once; a broken flows file stops the server naming it.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import socketio
import yaml

from config import CONFIG_DIR
from devices.printer.codec import PROFILES, render
from devices.printer.document import TicketDocument
from devices.printer.transcript import transcribe
from tests.integration.agent.harness import Server
from tests.support.live import StaffSession
from tests.support.server import ONEWINDOW
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(60)
TZ = ZoneInfo("Asia/Shanghai")
ELDER = {"id_number": "11010519491231002X", "name": "王小娜", "birth_date": "1949-12-31"}


class Client:
    """A Socket.IO client recording every event it receives (in the rooms ``sub`` names: the hall room unless
    told otherwise). With a station's token it is that station (its agent, or its enrolled kiosk page); with a
    staff session's cookie, that member of staff."""

    def __init__(self, url: str, subscribe: bool = True, token: str | None = None, sub: dict | None = None,
                 staff: StaffSession | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._any)
        headers = {"Cookie": "; ".join(f"{c.name}={c.value}" for c in staff.cookies)} if staff else {}
        self.sio.connect(url, transports=["polling"], wait_timeout=5, headers=headers,
                         auth={"token": token} if token else None)
        if subscribe:
            reply = self.sio.call("subscribe", sub or {"hall": True}, timeout=5)
            assert reply["ok"], reply

    def _any(self, event: str, data: Any = None) -> None:
        with self.lock:
            self.events.append((event, data))

    def of(self, event: str) -> list[Any]:
        with self.lock:
            return [d for e, d in self.events if e == event]

    def call(self, event: str, data: Any) -> Any:
        reply = self.sio.call(event, data, timeout=5)
        assert reply.get("ok"), reply
        return reply

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    srv = Server(tmp_path_factory.mktemp("kiosk-live")).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def agent(server: Server):
    token = server.device_token("kiosk-1", server.database.parent / "kiosk-1.token").read_text().strip()
    a = Client(server.url, subscribe=False, token=token)  # a stand-in agent with the station's device token
    a.call("agent_hello", {"station": "kiosk-1"})
    a.call("device_health", {"station": "kiosk-1", "device": "printer", "status": "ok", "detail": {"state": "ready"}})
    try:
        yield a
    finally:
        a.close()


def api(server: Server, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    """A call as the kiosk-1 station (what its enrolled browser is; staff routes go through server.post)."""
    r = requests.request(method, f"{server.api}{path}", json=body, timeout=5,
                         headers={"Authorization": f"Bearer {server.station_token('kiosk-1')}", **headers})
    assert r.headers["Content-Type"].startswith("application/json"), r.text[:200]
    return r.status_code, r.json()


def test_page_and_its_local_assets_are_served(server: Server):
    page = requests.get(f"{server.url}/kiosk/?station=kiosk-1", timeout=5)
    assert page.status_code == 200 and 'id="kiosk-data"' in page.text and "https://" not in page.text
    for path in ("/kiosk/static/kiosk.js", "/kiosk/static/kiosk.css", "/kiosk/static/fonts/TibetanMachineUni.ttf",
                 "/kiosk/static/i18n/bo.json", "/display/static/vendor/socket.io.min.js"):
        assert requests.get(server.url + path, timeout=5).status_code == 200, path
    qr = requests.get(f"{server.url}/kiosk/qr.svg", params={"d": "http://h/t/abc"}, timeout=5)
    assert qr.headers["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
    assert requests.get(f"{server.url}/kiosk/?station=Bad%20Station", timeout=5).status_code == 404


def test_config_search_and_destinations(server: Server):
    _, cfg = api(server, "GET", "/kiosk/config?station=kiosk-1")
    assert len(cfg["items"]) == 131 and cfg["tiles"][0]["label"]["bo"]
    assert cfg["flows"]["police"]["nodes"]["what"]["options"][2]["items"]["ids"] == ["passport", "hk-macao-permit"]
    _, found = api(server, "GET", "/kiosk/search?q=qykb")
    assert found["results"][0]["name"] == "企业开办"
    _, dest = api(server, "GET", "/kiosk/destination?item=company-establishment")
    assert dest["outcome"] == "self_service" and dest["window_queue"]["id"] == "enterprise"
    status, err = api(server, "GET", "/kiosk/destination?item=nope")
    assert status == 404 and err["error"]["code"] == "destination_not_found"
    status, err = api(server, "GET", "/kiosk/config")
    assert status == 400 and err["error"]["code"] == "station_required"


def test_card_tap_ticket_is_printed_through_the_agent(server: Server, agent: Client):
    # What the kiosk's own (enrolled) page hears: its station's card reads and print results.
    screen = Client(server.url, token=server.station_token("kiosk-1"), sub={"hall": True, "station": "kiosk-1"})
    try:
        reply = agent.call("device_input", {"station": "kiosk-1", "device": "idcard", "input_id": "card-" +
                                            secrets.token_hex(4), "kind": "card_read", "data": ELDER})
        seen = wait_for(lambda: screen.of("device_input"), 5, "the card read in the kiosk's station room")[0]
        assert seen["data"] == {"name_masked": "王*娜", "id_masked": "1101**********002X", "elderly": True,
                                "expired": False}
        # without the kiosk's own token a leaked input_id identifies no one (issue 9, finding 1)
        anon = requests.post(f"{server.api}/kiosk/identify", json={"station": "kiosk-1", "input_id": reply["input_id"]},
                             timeout=5)
        assert anon.status_code == 401 and anon.json()["error"]["code"] == "device_token_required"
        _, who = api(server, "POST", "/kiosk/identify", {"station": "kiosk-1", "input_id": reply["input_id"]})
        assert who["name_masked"] == "王*娜" and who["elderly"] is True
        status, out = api(server, "POST", "/kiosk/tickets", {"station": "kiosk-1", "item_id": "out-of-area-filing",
                                                             "queue_id": "medical", "card_input_id": who["input_id"]},
                          **{"Idempotency-Key": secrets.token_hex(8)})
        assert status == 201 and out["print"]["status"] == "sent" and out["ticket"]["priority"] == "elderly"
        cmd = wait_for(lambda: [c for c in agent.of("device_command")
                                if c["command_id"] == out["print"]["command_id"]], 5, "the print command")[0]
        doc = TicketDocument.from_dict(cmd["args"]["document"])
        printed = transcribe(render(doc, PROFILES["zh-80"]))[0]
        assert out["ticket"]["number"] in printed.text and "医疗保障" in printed.text
        assert "11010519491231002X" not in str(cmd) and "王" not in printed.text
        agent.call("command_result", {"station": "kiosk-1", "command_id": cmd["command_id"], "ok": True,
                                      "result": {"confirmed": True}})
        done = wait_for(lambda: screen.of("command_result"), 5, "the print result in the kiosk's station room")[0]
        assert done["command_id"] == cmd["command_id"] and done["ok"] is True
        # a repeat tap: the person's ticket comes back, nothing is printed
        again = agent.call("device_input", {"station": "kiosk-1", "device": "idcard", "input_id": "card-" +
                                            secrets.token_hex(4), "kind": "card_read", "data": ELDER})
        status, rep = api(server, "POST", "/kiosk/tickets", {"station": "kiosk-1", "item_id": "out-of-area-filing",
                                                             "queue_id": "medical", "card_input_id": again["input_id"]})
        assert status == 200 and rep["reason"] == "already_has_ticket" and rep["print"]["status"] == "not_printed"
    finally:
        screen.close()


def test_out_of_paper_shows_the_ticket_and_alerts_staff(server: Server, agent: Client):
    screen = Client(server.url, staff=StaffSession(server.url), sub={"hall": False, "staff": True})
    try:
        agent.call("device_health", {"station": "kiosk-1", "device": "printer", "status": "error",
                                     "detail": {"state": "paper_out"}})
        _, st = api(server, "GET", "/kiosk/status?station=kiosk-1")
        assert st["printer"] == {"status": "error", "detail": {"state": "paper_out"}, "agent": "ok",
                                 "printable": False, "reason": "paper_out"}
        status, out = api(server, "POST", "/kiosk/tickets", {"station": "kiosk-1", "assisted": "consult"})
        assert status == 201 and out["print"]["status"] == "unavailable"
        alert = wait_for(lambda: screen.of("kiosk_alert"), 5, "the staff alert")[0]
        assert alert["number"] == out["ticket"]["number"] and alert["printer_reason"] == "paper_out"
        assert api(server, "GET", "/kiosk/alerts")[0] == 403  # alerts are for staff
        assert server.get("/kiosk/alerts")["alerts"][0]["number"] == out["ticket"]["number"]
    finally:
        agent.call("device_health", {"station": "kiosk-1", "device": "printer", "status": "ok",
                                     "detail": {"state": "ready"}})
        screen.close()


def test_appointment_checks_in_once(server: Server, agent: Client):
    slot = datetime.now(TZ).replace(microsecond=0) + timedelta(minutes=5)
    status, _ = api(server, "POST", "/kiosk/appointments", {"item_id": "passport", "slot_at": slot.isoformat()})
    assert status == 403  # a kiosk cannot book; staff (or the booking system) do
    r = StaffSession(server.url).post(f"{server.api}/kiosk/appointments",
                                      json={"item_id": "passport", "slot_at": slot.isoformat()})
    booked = r.json()
    assert r.status_code == 201 and booked["status"] == "booked"
    status, out = api(server, "POST", "/kiosk/checkin", {"station": "kiosk-1", "code": booked["code"]})
    assert status == 201 and out["ticket"]["priority"] == "appointment" and out["print"]["status"] == "sent"
    status, err = api(server, "POST", "/kiosk/checkin", {"station": "kiosk-1", "code": booked["code"]})
    assert status == 409 and err["error"]["code"] == "appointment_used"
    status, err = api(server, "POST", "/kiosk/checkin", {"station": "kiosk-1", "code": "YYZZZZZZZZ"})
    assert status == 404 and err["error"]["code"] == "appointment_not_found"


def test_a_broken_flows_file_stops_the_server_naming_the_entry(tmp_path: Path):
    shutil.copy(CONFIG_DIR / "hall.yaml", tmp_path / "hall.yaml")
    raw = yaml.safe_load((CONFIG_DIR / "flows.yaml").read_text(encoding="utf-8"))
    raw["flows"]["civil"]["nodes"]["marriage"]["options"][0]["item"] = "marrige"
    (tmp_path / "flows.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    run = subprocess.run([str(ONEWINDOW), "serve", "--port", "1", "--config", str(tmp_path / "hall.yaml"),
                          "--database", str(tmp_path / "h.db")], capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert "flows.yaml: flows > civil > nodes > marriage > options[0] (结婚登记): item 'marrige'" in run.stderr
