"""The window panel in Chromium: a clerk logs in and calls; the hall screen in another browser context shows the
call and asks for the right clips; what the clerk may not do is refused."""

from __future__ import annotations

import sqlite3

import requests

from display.voice import clip_sequence
from tests.e2e.conftest import screenshot, wait_live
from tests.support.live import PASSWORD, StaffSession, add_staff

# The call-next button is enabled once the panel's live connection is up; a key pressed before that only says so.
READY = '#actions button[data-action="call-next"]:not([disabled])'


def login(page, base_url: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/staff/panel")
    page.wait_for_selector("#login-form")  # not logged in: sent to the login page
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("#current-number")


def test_clerk_calls_with_the_keyboard_and_the_hall_screen_announces_it(hall_server, new_page) -> None:  # type: ignore[no-untyped-def]
    add_staff(hall_server.database, "li.na", roles=("window_staff",), windows=("w01",), name="李娜")
    hall = new_page()
    hall.goto(hall_server.base_url + "/display/hall")
    wait_live(hall)

    ticket = hall_server.issue("comprehensive")
    panel = new_page(viewport={"width": 1400, "height": 900})
    login(panel, hall_server.base_url, "li.na")
    panel.wait_for_function(f"() => document.querySelector('#waiting').innerText.includes('{ticket['number']}')")
    panel.wait_for_selector(READY)  # the live connection is up (until then the panel offers no action)

    panel.keyboard.press("F1")  # call next
    panel.wait_for_function(f"() => document.querySelector('#current-number').innerText === '{ticket['number']}'")
    hall.wait_for_function(f"() => document.querySelector('#now-number').innerText.trim() === '{ticket['number']}'")
    hall.wait_for_function("() => window.__voiceLog.length >= 1", timeout=30000)
    assert hall.evaluate("window.__voiceLog")[0]["clips"] == clip_sequence(ticket["number"], 1, "zh")

    panel.keyboard.press("F3")  # start
    panel.wait_for_function("() => document.querySelector('#current-meta').innerText.includes('办理中')")
    panel.keyboard.press("F4")  # finish
    panel.wait_for_function("() => document.querySelector('#current-number').innerText === '—'")
    screenshot(panel, "panel-after-finish")
    assert panel.errors == [] and hall.errors == []

    staff = StaffSession(hall_server.base_url)
    t = staff.get(f"/tickets/{ticket['id']}").json()["ticket"]
    assert t["status"] == "done" and t["window_id"] == "w01"
    # every transition is recorded against the clerk who pressed the key
    with sqlite3.connect(hall_server.database) as db:
        rows = db.execute("SELECT action, actor FROM ticket_transitions WHERE ticket_id = ? ORDER BY id",
                          (ticket["id"],)).fetchall()
    assert rows[1:] == [("call", "staff:li.na"), ("start", "staff:li.na"), ("finish", "staff:li.na")]


def test_forbidden_actions_are_refused(hall_server, new_page) -> None:  # type: ignore[no-untyped-def]
    add_staff(hall_server.database, "wang.fang", roles=("window_staff",), windows=("w02",), name="王芳")
    add_staff(hall_server.database, "zhao.qiang", roles=("approver",), name="赵强")
    base = hall_server.base_url
    hall_server.issue("comprehensive")

    # not logged in: the panel sends the browser to the login page, the API answers 401
    page = new_page()
    page.goto(base + "/staff/panel?window=w01")
    page.wait_for_selector("#login-form")
    r = requests.post(f"{base}/api/v1/windows/w01/call-next", json={}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_logged_in"

    # a wrong password says so, without saying which part was wrong
    page.fill("#username", "wang.fang")
    page.fill("#password", "not-the-password")
    page.click("#login-button")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "用户名或密码错误" in page.inner_text("#login-error")

    # the wrong window: the panel only offers the clerk's own, and the API refuses another
    login(page, base, "wang.fang")
    assert page.eval_on_selector_all("#window-select option", "els => els.map(e => e.value)") == ["w02"]
    refused = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch('/api/v1/windows/w01/call-next', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: '{}'});
        return [r.status, (await r.json()).error.code];
    }""")
    assert refused == [403, "wrong_window"]

    # a missing CSRF token: the same logged-in browser, a request without the page's token
    no_csrf = page.evaluate("""async () => {
        const r = await fetch('/api/v1/windows/w02/open', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json'}, body: '{}'});
        return [r.status, (await r.json()).error.code];
    }""")
    assert no_csrf == [403, "csrf_failed"]

    # the wrong role: an approver cannot work a window
    approver = StaffSession(base, "zhao.qiang")
    r = approver.post("/windows/w01/call-next", json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_role"
    screenshot(page, "panel-wrong-window")


def test_the_panel_offers_no_action_before_its_script_is_live(hall_server, new_page) -> None:  # type: ignore[no-untyped-def]
    """Until panel.js has run and connected, every action button is disabled: a page still loading (or whose script
    failed) must not look ready, or a clerk's click does nothing and READY-style waits pass too early."""
    add_staff(hall_server.database, "zhou.min", roles=("window_staff",), windows=("w03",), name="周敏")
    panel = new_page(viewport={"width": 1400, "height": 900})
    panel.route("**/panel.js", lambda route: route.abort())
    login(panel, hall_server.base_url, "zhou.min")
    states = panel.eval_on_selector_all("#actions button", "bs => bs.map((b) => [b.dataset.action, b.disabled])")
    assert len(states) == 11
    assert [a for a, disabled in states if not disabled] == []


def test_a_key_that_cannot_act_says_why(own_server, new_page) -> None:  # type: ignore[no-untyped-def]
    """F3 with nobody called, and F1 while the connection is down, each tell the clerk that nothing happened."""
    own_server.start()
    add_staff(own_server.database, "li.na", roles=("window_staff",), windows=("w01",), name="李娜")
    panel = new_page(viewport={"width": 1400, "height": 900})
    login(panel, own_server.base_url, "li.na")
    panel.wait_for_selector(READY)
    panel.keyboard.press("F3")  # start: there is no called number
    panel.wait_for_function("() => document.querySelector('#message').innerText.includes('开始办理」现在不可用')")
    own_server.kill()
    panel.wait_for_selector("#offline", state="visible")
    panel.keyboard.press("F1")
    panel.wait_for_function("() => document.querySelector('#message').innerText.includes('连接中断，「叫号」未执行')")
    assert "error" in panel.get_attribute("#message", "class")
