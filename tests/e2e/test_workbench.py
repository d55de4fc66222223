"""A clerk's day in Chromium, at 00:30 hall time (16:30 UTC, when a UTC date would be the wrong day): call a ticket,
take the case for the ticket's own item, accept it with its notice, the back office approves, the citizen takes a
pick-up ticket, the issuance window calls it and hands the result over, the citizen rates. No native prompt() or
confirm() box appears, errors are Chinese, times are hall-local."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import HallServer, screenshot
from tests.support.live import PASSWORD, add_staff

ITEM = "teacher-registration"  # 中小学教师资格定期注册: a promised item of the comprehensive queue, 4 materials
ID_OK = "11010519491231002X"
ID_BAD_CHECK = "110105194912310021"


@pytest.fixture
def night_server(tmp_path) -> Iterator[HallServer]:  # type: ignore[no-untyped-def]
    server = HallServer(tmp_path, extra_args=("--clock", "2026-12-07T00:30"))
    add_staff(server.database)  # the supervisor (back office) the harness acts as
    add_staff(server.database, "li.na", roles=("window_staff",), windows=("w01",), name="李娜")
    add_staff(server.database, "chu.jian", roles=("window_staff",), windows=("w28",), name="褚坚")
    server.logs.append(tmp_path / "none.log")  # staff added: start() must not add the default again
    server.start()
    yield server
    server.stop()


def _page(new_page: Any, dialogs: list[str]) -> Any:
    page = new_page(viewport={"width": 1440, "height": 900})
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return page


def _press_f1_until_called(page: Any, number: str) -> None:
    """F1 as a clerk presses it: once the panel lists the ticket and offers call-next; on a loaded machine the
    panel's socket may blip (actions are disabled while it is down), so a press that changed nothing is repeated,
    as a clerk would, up to three times. The panel's own message is shown if the number never comes up."""
    page.wait_for_function(f"() => document.querySelector('#waiting').innerText.includes('{number}')")
    for _ in range(3):
        page.wait_for_function("() => !document.querySelector('[data-action=call-next]').disabled", timeout=20000)
        page.keyboard.press("F1")
        try:
            page.wait_for_function(f"() => document.querySelector('#current-number').innerText === '{number}'",
                                   timeout=8000)
            return
        except Exception:  # noqa: BLE001 - playwright's timeout; try again like a clerk would
            continue
    raise AssertionError(f"{number} was never called; the panel says: {page.inner_text('#message')!r}")


def _login(page: Any, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/staff/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url(re.compile(re.escape(base + next_path.split("?")[0])))


def _case_status(page: Any) -> str:
    return page.inner_text("#case-status").strip()


def test_a_clerks_day_from_call_to_rating(night_server: HallServer, new_page: Any) -> None:
    base = night_server.base_url
    dialogs: list[str] = []
    ticket = night_server.post("/api/v1/tickets", {"item_id": ITEM})["ticket"]

    clerk = _page(new_page, dialogs)
    _login(clerk, base, "li.na", "/staff/panel?window=w01")
    _press_f1_until_called(clerk, ticket["number"])
    assert "00:30" in clerk.inner_text("#current-meta")  # called at 00:30 hall time, not 16:30 UTC
    clerk.click("#intake-link")

    # intake carries the ticket, its window and its item; no material is marked received by default
    clerk.wait_for_selector("#materials tbody select")
    assert clerk.input_value("#ticket_id") == str(ticket["id"])
    assert clerk.input_value("#window_id") == "w01"
    assert clerk.input_value("#item") == ITEM
    marks = clerk.eval_on_selector_all("#materials tbody select", "ss => ss.map(s => s.value)")
    assert marks == ["", "", "", ""]
    clerk.fill("#applicant_name", "王小娜")
    clerk.fill("#id_number", ID_BAD_CHECK)
    clerk.click("#submit-intake")
    assert "校验位" in clerk.inner_text(".field-error[data-for=id_number]")
    assert "4 项材料未核对" in clerk.inner_text(".field-error[data-for=materials]")
    clerk.fill("#id_number", ID_OK)
    for i, mark in enumerate(["e_licence", "original", "original", "original"]):
        clerk.select_option(f"select[name=mark{i}]", mark)
    clerk.click("#submit-intake")
    clerk.wait_for_url(re.compile(r"/staff/cases/\d+$"))
    case_id = int(clerk.url.rsplit("/", 1)[1])
    assert _case_status(clerk) == "已收件"
    assert "2026-12-07 00:3" in clerk.inner_text("#received-at")
    assert clerk.locator("button[data-act=approve]").count() == 0  # the back office's decision is not offered here

    # 受理 through a dialog (Enter confirms); the notice opens for printing
    with clerk.expect_popup() as notice:
        clerk.click("button[data-act=accept]")
        clerk.wait_for_selector("dialog.staff-dialog[open]")
        clerk.keyboard.press("Enter")
    assert "受理通知书" in notice.value.title()
    notice.value.close()
    clerk.wait_for_function("() => (document.querySelector('#case-status') || {innerText: ''}).innerText.includes('审批中')")
    timeline = clerk.inner_text("#history")
    assert "收件登记" in timeline and "受理" in timeline and "{" not in timeline and "2026-12-07 00:3" in timeline

    # the back office approves, with an opinion typed into the dialog
    office = _page(new_page, dialogs)
    _login(office, base, "tester", f"/staff/cases/{case_id}")
    office.click("button[data-act=approve]")
    office.fill("dialog.staff-dialog textarea", "材料齐全，准予注册")
    office.click("dialog.staff-dialog button[value=ok]")
    office.wait_for_function("() => (document.querySelector('#case-status') || {innerText: ''}).innerText.includes('待领取')")

    # the citizen takes a pick-up ticket on the case page; a reload shows it instead of offering another
    with sqlite3.connect(night_server.database) as db:
        token = db.execute("SELECT tracker_token FROM cases WHERE id = ?", (case_id,)).fetchone()[0]
    citizen = _page(new_page, dialogs)
    citizen.goto(f"{base}/case/{token}")
    citizen.click("#cs-take-ticket")
    citizen.wait_for_selector("#cs-ticket:not([hidden])")
    pickup = citizen.inner_text("#cs-ticket-number").strip()
    citizen.evaluate("localStorage.clear()")
    citizen.reload()
    citizen.wait_for_selector("#cs-ticket:not([hidden])")
    assert citizen.inner_text("#cs-ticket-number").strip() == pickup and citizen.is_hidden("#cs-take-ticket")

    # the issuance window calls the pick-up ticket: the panel opens the case to hand over
    issuer = _page(new_page, dialogs)
    _login(issuer, base, "chu.jian", "/staff/panel?window=w28")
    _press_f1_until_called(issuer, pickup)
    assert "出件" in issuer.inner_text("#intake-link")
    issuer.click("#intake-link")
    issuer.wait_for_url(re.compile(rf"/staff/cases/{case_id}\?"))
    issuer.click("button[data-act=hand-over]")
    issuer.fill("#dlg-receiver_name", "王小娜")
    issuer.keyboard.press("Enter")
    issuer.wait_for_function("() => (document.querySelector('#case-status') || {innerText: ''}).innerText.includes('已出件')")
    screenshot(issuer, "workbench-case-issued")

    # the citizen rates the service from the case page
    citizen.reload()
    citizen.wait_for_selector("#cs-eval-link:not([hidden])")
    citizen.click("#cs-eval-link")
    citizen.click(".ev-level[data-level='5']")
    citizen.click("#ev-submit")
    citizen.wait_for_selector("#ev-thanks:not([hidden])")

    assert dialogs == []  # no native prompt(), confirm() or alert() anywhere in the day
    for p in (clerk, office, citizen, issuer):
        assert p.errors == []


def test_staff_home_and_missing_pages_are_chinese(night_server: HallServer, new_page: Any) -> None:
    base = night_server.base_url
    page = new_page()
    page.goto(base + "/staff/")  # not logged in: the login page, then the home
    page.wait_for_selector("#login-form")
    page.fill("#username", "li.na")
    page.fill("#password", "wrong-password")
    page.click("#login-button")
    page.wait_for_selector("#login-error:not([hidden])")
    assert page.inner_text("#login-error").startswith("用户名或密码错误")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url(re.compile(r"/staff/panel"))  # a clerk's home is the window panel
    r = page.goto(base + "/staff/no-such-page")
    assert r.status == 404 and "页面不存在" in page.inner_text("h1")
    icon = page.evaluate("document.querySelector('link[rel=icon]').href")
    assert icon.endswith("favicon.svg") and page.request.get(icon).ok
