"""The supervisor's and technician's pages in Chromium against a live hall with real events: the overview tile
turns when a window pauses, a printer simulator running out of paper reaches the device page and the supervisor's
alerts through the real agent, a 差评 raises an alert, an acknowledgement is recorded with its note and actor,
reports draw with the vendored ECharts, staff are administered in the browser."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import screenshot
from tests.integration.agent.harness import LiveHall
from tests.support.live import PASSWORD
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(180)


def login(page, base: str, path: str, username: str = "tester") -> None:  # type: ignore[no-untyped-def]
    page.goto(base + path)
    page.wait_for_selector("#login-form")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("body[data-live=live]")


def db_rows(database: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(database) as db:
        return db.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    h = LiveHall(tmp_path_factory.mktemp("supervisor-e2e"))
    try:
        yield h.start()
    finally:
        h.close()


def test_window_pause_turns_the_overview_tile_within_a_second(hall: LiveHall, new_page) -> None:  # type: ignore[no-untyped-def]
    base = hall.server.url
    hall.server.post("/windows/w02/open", {})
    page = new_page()
    login(page, base, "/staff/overview")
    page.wait_for_selector("#tile-w02[data-status=open]")
    t0 = time.monotonic()
    hall.server.post("/windows/w02/pause", {"reason": "午休"})
    page.wait_for_selector("#tile-w02[data-status=paused]", timeout=1000)
    took = time.monotonic() - t0
    assert "午休" in page.inner_text("#tile-w02")
    print(f"\noverview tile turned {took * 1000:.0f} ms after the pause request")
    screenshot(page, "supervisor-overview")
    hall.server.post("/windows/w02/resume", {})
    page.wait_for_selector("#tile-w02[data-status=open]", timeout=1000)
    assert page.errors == []


def test_paper_out_reaches_the_device_page_and_the_alert_then_acknowledged(hall: LiveHall, new_page) -> None:  # type: ignore[no-untyped-def]
    base = hall.server.url
    tech = new_page()
    login(tech, base, "/staff/devices")
    tech.wait_for_selector("#station-kiosk-1[data-connected=true] tr[data-device=printer][data-paper=ok]")
    assert f"代理版本 {version('onewindow')}" in tech.inner_text("#station-kiosk-1")  # told by the agent's hello
    boss = new_page()
    login(boss, base, "/staff/overview")

    hall.sims.printer.set_fault("paper_out", True)
    try:
        # The agent reports on its next status poll (every 2 s); from the server's record the pages must follow.
        wait_for(lambda: hall.server.health("kiosk-1", "printer") == "error", 6, "the agent's paper-out report")
        t0 = time.monotonic()
        tech.wait_for_selector("#station-kiosk-1 tr[data-device=printer][data-paper=out]", timeout=2000)
        boss.wait_for_selector(".alert[data-kind=device]:has-text('缺纸')", timeout=2000)
        took = time.monotonic() - t0
        print(f"\npaper out on both pages {took * 1000:.0f} ms after the server recorded it")
        assert "缺纸" in tech.inner_text("#station-kiosk-1")
        assert "kiosk-1" in boss.inner_text("#stations")  # the red mark on the station
        screenshot(tech, "technician-devices-paper-out")

        boss.click(".alert[data-kind=device] [data-ack]")
        boss.click("#ack-submit")  # an empty note is refused in the dialog
        assert boss.is_visible("#ack-error")
        boss.fill("#ack-note", "已通知技术员换纸")
        boss.click("#ack-submit")
        boss.wait_for_selector(".alert[data-kind=device].acked")
        rows = db_rows(hall.server.database, "SELECT acknowledged_by, ack_note, closed_at FROM alerts WHERE kind = 'device'")
        assert rows == [("staff:tester", "已通知技术员换纸", None)]
    finally:
        hall.sims.printer.reload_paper()
    wait_for(lambda: hall.server.health("kiosk-1", "printer") == "ok", 6, "printer ok after a new roll")
    boss.wait_for_selector(".alert[data-kind=device]", state="detached", timeout=3000)  # the condition cleared
    assert db_rows(hall.server.database, "SELECT count(*) FROM alerts WHERE kind = 'device' AND closed_at IS NULL") \
        == [(0,)]

    # the technician's test print goes through the agent to the printer, and its result shows
    before = hall.sims.printer.ticket_count
    tech.click("#station-kiosk-1 [data-test=printer]")
    hall.sims.printer.wait_for_tickets(before + 1, timeout=10)
    tech.wait_for_selector("#station-kiosk-1 tr[data-device=printer]:has-text('print 成功')", timeout=5000)
    assert tech.errors == [] and boss.errors == []


def test_bad_rating_raises_an_alert(hall: LiveHall, new_page) -> None:  # type: ignore[no-untyped-def]
    base = hall.server.url
    boss = new_page()
    login(boss, base, "/staff/overview")
    s = hall.server
    ticket = s.post("/tickets", {"queue_id": "comprehensive"})["ticket"]
    s.post("/windows/w01/open", {})
    s.post("/windows/w01/call", {"ticket_id": ticket["id"]})
    s.post("/windows/w01/start", {})
    s.post("/windows/w01/finish", {})
    s.post("/evaluations/invitations", {"ticket_id": ticket["id"], "window_id": "w01", "start_pad": False})
    # the token the citizen's QR carries (read from the store: staff responses need not carry it)
    token = db_rows(s.database, "SELECT token FROM evaluation_requests WHERE subject_label = ?", ticket["number"])[0][0]
    form = requests.get(f"{s.api}/evaluate/{token}", timeout=5).json()
    r = requests.post(f"{s.api}/evaluate/{token}", json={"level": 1, "indicators": [form["indicators"][0]["code"]],
                                                          "comment": "=HYPERLINK(\"x\")"}, timeout=5)
    assert r.status_code == 201, r.text
    boss.wait_for_selector(f".alert[data-kind=bad_rating]:has-text('{ticket['number']}')", timeout=2000)
    assert "差评" in boss.inner_text("#alerts")
    assert boss.errors == []


def test_reports_draw_charts_and_export(hall: LiveHall, new_page) -> None:  # type: ignore[no-untyped-def]
    base = hall.server.url
    page = new_page()
    # at least one served ticket today, whatever ran before
    ticket = hall.server.post("/tickets", {"queue_id": "comprehensive"})["ticket"]
    if db_rows(hall.server.database, "SELECT status FROM window_states WHERE window_id = 'w01'") != [("open",)]:
        hall.server.post("/windows/w01/open", {})
    for action, body in (("call", {"ticket_id": ticket["id"]}), ("start", {}), ("finish", {})):
        hall.server.post(f"/windows/w01/{action}", body)
    foreign: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:")) else foreign.append(r.url))
    login(page, base, "/staff/reports")
    page.wait_for_selector("[data-table=tickets] canvas")  # drawn by the vendored ECharts
    page.wait_for_selector("[data-table=arrivals] canvas")
    assert page.evaluate("typeof echarts.init") == "function" and foreign == []
    issued = page.evaluate("window.__sv.report.tables[0].rows.reduce((n, r) => n + r[1], 0)")
    assert issued == db_rows(hall.server.database, "SELECT count(*) FROM tickets")[0][0]
    screenshot(page, "supervisor-reports")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    xlsx = requests.get(f"{base}/staff/reports/export?format=xlsx&period=day", cookies=cookies, timeout=10)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    csv = requests.get(f"{base}/staff/reports/export?format=csv&table=tickets&period=day", cookies=cookies, timeout=10)
    assert csv.status_code == 200 and "取号" in csv.content.decode("utf-8-sig")
    page.goto(base + "/staff/assessment")
    page.wait_for_selector("#assessment")
    assert "tester" in page.inner_text("#assessment")  # served the tickets of the tests above
    screenshot(page, "supervisor-assessment")
    assert page.errors == []


def test_staff_administration_in_the_browser(hall: LiveHall, new_page) -> None:  # type: ignore[no-untyped-def]
    base = hall.server.url
    page = new_page()
    login(page, base, "/staff/admin")
    page.fill("#new-username", "zhou.min")
    page.fill("#new-name", "周敏")
    page.check("#add-form [name=roles][value=window_staff]")
    page.check("#add-form [name=windows][value=w03]")
    page.click("#add-button")
    page.wait_for_selector("#password-once:not([hidden])")
    screenshot(page, "supervisor-admin")
    password = page.get_attribute("#password-once", "data-password")
    r = requests.post(f"{base}/api/v1/auth/login", json={"username": "zhou.min", "password": password}, timeout=5)
    assert r.status_code == 200 and r.json()["staff"]["windows"] == ["w03"]

    page.click("#users tr[data-user='zhou.min'] [data-act=disable]")
    page.wait_for_selector("#users tr[data-user='zhou.min'] .state:has-text('已停用')")
    r = requests.post(f"{base}/api/v1/auth/login", json={"username": "zhou.min", "password": password}, timeout=5)
    assert r.status_code == 401
    # revoking a station's tokens takes a second click; the agent's token stops working
    token = hall.server.device_token("kiosk-2", hall.directory / "kiosk-2.token").read_text().strip()
    assert requests.get(f"{base}/api/v1/kiosk/alerts", headers={"Authorization": f"Bearer {token}"},
                        timeout=5).status_code != 401
    page.click("[data-revoke=kiosk-2]")
    page.wait_for_selector("[data-revoke=kiosk-2]:has-text('再次点击')")
    page.click("[data-revoke=kiosk-2]")
    page.wait_for_selector("[data-revoke=kiosk-2]:has-text('已吊销 1 个')")
    assert requests.get(f"{base}/api/v1/kiosk/alerts", headers={"Authorization": f"Bearer {token}"},
                        timeout=5).status_code == 401
    audit = db_rows(hall.server.database, "SELECT actor, action, target FROM staff_audit ORDER BY id")
    in_browser = [row for row in audit if row[0].startswith("staff:")]
    assert in_browser[-3:] == [("staff:tester", "add", "zhou.min"), ("staff:tester", "disable", "zhou.min"),
                               ("staff:tester", "revoke_tokens", "kiosk-2")]
    # the token the test made at the console is in the same audit, as the console's
    assert [row[1:] for row in audit if row[0].startswith("cli:")][-1] == ("add_token", "kiosk-2")
    # a clerk is refused the page with a Chinese explanation, and the API with 403
    page2 = new_page()
    page2.goto(base + "/staff/admin")
    page2.wait_for_selector("#login-form")
    assert page.errors == []


def test_overview_comes_back_live_after_a_server_restart(own_server, new_page) -> None:  # type: ignore[no-untyped-def]
    own_server.start()
    base = own_server.base_url
    own_server.window("w03", "open")
    page = new_page()
    login(page, base, "/staff/overview")
    page.wait_for_selector("#tile-w03[data-status=open]")
    own_server.kill()
    page.wait_for_selector("body[data-live=offline]", timeout=15000)
    own_server.start()
    page.wait_for_selector("body[data-live=live]", timeout=20000)  # reconnected and subscribed again
    own_server.window("w03", "pause", {"reason": "重启后"})
    page.wait_for_selector("#tile-w03[data-status=paused]", timeout=3000)
    assert page.errors == []
