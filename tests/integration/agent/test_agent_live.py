"""The device agent against a live server and simulators over real ptys and TCP, as ``onewindow agent`` processes.

Inputs reach the server (and only the server: the agent's log has no name or ID number), exactly once across a
server SIGKILL and an agent SIGKILL; commands are carried out (printer, LED, evaluator), also one sent while the
agent was down, and never twice; health follows the devices (paper out, a reader unplugged and plugged back).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest
import socketio
from pyzbar import pyzbar

from tests.integration.agent.conftest import Hall
from tests.integration.agent.harness import CARDS
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(60)

YOUNG = CARDS["young"]
ELDERLY = CARDS["elderly"]

TICKET = {"blocks": [
    {"type": "header", "text": "合作市政务服务中心"},
    {"type": "number", "text": "A123"},
    {"type": "text", "text": "无差别综合受理：前面还有 3 人"},
    {"type": "qr", "payload": "https://hall.example/t/abc"},
    {"type": "cut"},
]}


class Observer:
    """The kiosk page's live view: its station's token, the hall room and its station's room."""

    def __init__(self, url: str, token: str) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._on_any)
        # long-polling: a websocket client's disconnect waits seconds for a close frame; the events are the same
        self.client.connect(url, transports=["polling"], wait_timeout=5, auth={"token": token})
        reply = self.client.call("subscribe", {"hall": True, "station": "kiosk-1"}, timeout=5)
        assert reply["ok"], reply

    def _on_any(self, event: str, data: Any = None) -> None:
        with self._lock:
            self.events.append((event, data))

    def of(self, event: str) -> list[dict[str, Any]]:
        with self._lock:
            return [data for name, data in self.events if name == event]

    def close(self) -> None:
        self.client.disconnect()


def _inputs(hall: Hall, station: str, kind: str, after: int = 0) -> list[dict[str, Any]]:
    return [e for e in hall.server.events(station, "device_input") if e["kind"] == kind and e["seq"] > after]


def _head(hall: Hall) -> int:
    return hall.server.get("/events", since=0, rooms="hall:hezuo")["seq"]


def _outbox_ids(hall: Hall) -> list[str]:
    return [json.loads(line)["input_id"] for line in hall.kiosk.outbox.read_text().splitlines() if line.strip()]


def _assert_no_personal_data(text: str) -> None:
    for card in (YOUNG, ELDERLY):
        assert card.name not in text
        assert card.id_number not in text
        assert card.address[:6] not in text


def test_card_and_code_reach_the_server_and_personal_data_stays_out_of_the_log(hall: Hall) -> None:
    observer = Observer(hall.server.url, hall.server.station_token("kiosk-1"))
    try:
        hall.sims.idcard.place("young")
        card = wait_for(lambda: [d for d in observer.of("device_input") if d["kind"] == "card_read"], 10,
                        "a card_read event")[0]
        assert card["station"] == "kiosk-1" and card["device"] == "idcard"
        assert card["data"]["name_masked"] == YOUNG.masked_name
        assert card["data"]["id_masked"] == YOUNG.masked_id_number
        assert card["data"]["expired"] is False

        hall.sims.scanner.scan("https://zwfw.gansu.gov.cn/s/9f2a")
        code = wait_for(lambda: [d for d in observer.of("device_input") if d["kind"] == "code_scanned"], 10,
                        "a code_scanned event")[0]
        assert code["data"]["code"] == "https://zwfw.gansu.gov.cn/s/9f2a"

        hall.sims.camera.show_text("https://zwfw.gansu.gov.cn/t/相机-7")  # a QR held up to the kiosk camera
        seen = wait_for(lambda: [d for d in observer.of("device_input") if d["device"] == "camera"], 10,
                        "a code_scanned event from the camera")
        assert seen[0]["data"] == {"code": "https://zwfw.gansu.gov.cn/t/相机-7", "symbology": "QRCODE"}
        hall.sims.camera.blank()
    finally:
        observer.close()
        hall.sims.idcard.lift()
    wait_for(lambda: hall.kiosk.outbox_count() == 0, 5, "the outbox to empty once acked")
    assert len([d for d in observer.of("device_input") if d["device"] == "camera"]) == 1  # one scan, not 30 frames
    _assert_no_personal_data(hall.kiosk.log_text())
    assert "card read (李*然 6201**********0357)" in hall.kiosk.log_text()
    token = (hall.directory / "kiosk-1.token").read_text().strip()
    assert token and token not in hall.kiosk.log_text()  # it connected with its device token, never logged


def test_print_command_prints_the_ticket_and_reports_ok(hall: Hall) -> None:
    before = hall.sims.printer.ticket_count
    command_id = hall.server.command("kiosk-1", "printer", "print", {"document": TICKET})
    result = wait_for(lambda: hall.server.result_of("kiosk-1", command_id), 10, "the print command's result")
    assert result["ok"] is True, result
    assert result["result"]["confirmed"] is True
    tickets = hall.sims.printer.wait_for_tickets(before + 1, timeout=5)
    ticket = tickets[-1]
    assert ticket.complete
    assert "合作市政务服务中心" in ticket.text and "A123" in ticket.text
    assert "无差别综合受理：前面还有 3 人" in ticket.text  # full-width colon survives (GB18030 by the codec)
    # the devices file says qr = "raster": the QR went out as an image, and it scans
    assert [symbol.data.decode() for symbol in pyzbar.decode(ticket.render())] == ["https://hall.example/t/abc"]


def test_paper_out_is_reported_as_error_and_a_print_fails_with_the_reason(hall: Hall) -> None:
    printer = hall.sims.printer
    printer.set_fault("paper_out", True)
    try:
        wait_for(lambda: hall.server.health("kiosk-1", "printer") == "error", 6, "printer health error")
        command_id = hall.server.command("kiosk-1", "printer", "print", {"document": TICKET})
        result = wait_for(lambda: hall.server.result_of("kiosk-1", command_id), 10, "the failed print's result")
        assert result["ok"] is False and "paper" in result["error"]
    finally:
        printer.reload_paper()
    wait_for(lambda: hall.server.health("kiosk-1", "printer") == "ok", 6, "printer health ok after a new roll")


def test_window_calls_drive_the_led_and_the_evaluator_rating_reaches_the_server(hall: Hall) -> None:
    server, led = hall.server, hall.sims.led
    ticket = server.post("/tickets", {"queue_id": "comprehensive"})["ticket"]
    server.post("/windows/w01/call-next", {})

    def line(row: int) -> str | None:
        found = led.view(1).content.line_at(row)
        return found.text if found else None

    wait_for(lambda: line(1) == ticket["number"], 5, f"the LED to show {ticket['number']}")
    assert line(0) == "1号窗口"
    server.post("/windows/w01/start", {})
    server.post("/windows/w01/pause", {"reason": "午休"})
    wait_for(lambda: line(3) == "暂停服务", 5, "the LED to show 暂停服务")
    server.post("/windows/w01/resume", {})
    wait_for(lambda: line(3) is None, 5, "the pause line to go")

    after = _head(hall)
    command_id = server.command("window-1", "evaluator", "start_evaluation",
                                {"subject": ticket["number"], "staff_name": "王丽娜", "post": "综合受理", "window": "1"})
    result = wait_for(lambda: server.result_of("window-1", command_id), 5, "start_evaluation's result")
    assert result["ok"] is True, result
    session = result["result"]["session"]
    wait_for(lambda: hall.sims.evaluator.session_id == session, 5, "the pad to show the evaluation")
    hall.sims.evaluator.press(2, 1)  # 不满意, 办事效率低
    rating = wait_for(lambda: _inputs(hall, "window-1", "rating_given", after), 5, "the rating input")[0]
    assert rating["data"] == {"session": session, "subject": ticket["number"], "level": 2, "reason": 1}
    assert "王丽娜" not in hall.window.log_text()


def test_unplugged_reader_goes_offline_then_ok_and_reads_again(hall: Hall) -> None:
    after = _head(hall)
    hall.sims.replace_idcard()

    def states() -> list[str]:
        return [e["status"] for e in hall.server.events("kiosk-1", "device_health")
                if e["device"] == "idcard" and e["seq"] > after]

    wait_for(lambda: "offline" in states() and states()[-1] == "ok", 10, "idcard health offline, then ok")
    assert states().index("offline") < len(states()) - 1
    hall.sims.idcard.place("elderly")
    card = wait_for(lambda: _inputs(hall, "kiosk-1", "card_read", after), 10, "a card read on the new reader")[0]
    assert card["data"]["id_masked"] == ELDERLY.masked_id_number and card["data"]["elderly"] is True
    hall.sims.idcard.lift()


def test_inputs_survive_a_server_kill_and_an_agent_kill_arrive_once_and_a_missed_command_runs_once(
        hall: Hall) -> None:
    after = _head(hall)
    printed = hall.sims.printer.ticket_count
    hall.server.kill9()
    try:
        hall.sims.idcard.place("young")
        wait_for(lambda: hall.kiosk.outbox_count() == 1, 10, "the card in the outbox")
        hall.sims.scanner.scan("QR-WHILE-DOWN-1")
        wait_for(lambda: hall.kiosk.outbox_count() == 2, 10, "both inputs in the outbox")
        queued = _outbox_ids(hall)
        hall.kiosk.kill9()  # and the kiosk PC loses power too
    finally:
        hall.server.start()
    command_id = hall.server.command("kiosk-1", "printer", "print", {"document": TICKET})  # nobody listening
    hall.kiosk.start()
    result = wait_for(lambda: hall.server.result_of("kiosk-1", command_id), 15, "the missed command's result")
    assert result["ok"] is True, result
    wait_for(lambda: hall.kiosk.outbox_count() == 0, 10, "the outbox to drain after the restarts")
    delivered = [e for e in hall.server.events("kiosk-1", "device_input") if e["seq"] > after]
    assert Counter(e["input_id"] for e in delivered) == Counter(queued)  # each once, nothing else
    assert [e["input_id"] for e in delivered] == queued  # in the order they happened
    assert [e["kind"] for e in delivered] == ["card_read", "code_scanned"]
    assert hall.sims.printer.ticket_count == printed + 1

    # The window agent lived through the server restart: it reconnected and its LED follows calls again.
    ticket = hall.server.post("/tickets", {"queue_id": "comprehensive"})["ticket"]
    hall.server.post("/windows/w01/call-next", {})
    wait_for(lambda: (line := hall.sims.led.view(1).content.line_at(1)) is not None
             and line.text == ticket["number"], 10, "the LED to show the call made after the restart")

    # Replayed again (a restart whose saved seq is from before the command): it must not print twice.
    hall.kiosk.kill9()
    state_file = hall.kiosk.state_dir / "agent-kiosk-1.state.json"
    state = json.loads(state_file.read_text())
    assert command_id in state["commands"]
    command_seq = next(e["seq"] for e in hall.server.events("kiosk-1", "device_command")
                       if e["command_id"] == command_id)
    state_file.write_text(json.dumps({**state, "seq": command_seq - 1}))
    hall.kiosk.start()
    wait_for(lambda: "already carried out" in hall.kiosk.log_text(), 10, "the replayed command to be recognised")
    assert hall.sims.printer.ticket_count == printed + 1
    assert [r["command_id"] for r in hall.server.events("kiosk-1", "command_result")].count(command_id) == 1
    hall.sims.idcard.lift()
    _assert_no_personal_data(hall.kiosk.log_text())
