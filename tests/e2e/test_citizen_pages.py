"""The citizen's pages in Chromium against a live server: a case taken in and accepted with a 容缺 deadline through
the case API (staff logged in, CSRF token sent), its page /case/<token> on a phone, the result ready with a pick-up
ticket, the evaluation invitation, a 差评 that the page refuses to send without a reason, the thank-you, and
"already rated" on reload; a browser logged in as staff gets no rating form."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
import requests

from queue_server.domain.privacy import id_check_char, mask_id
from tests.support.server import ONEWINDOW

from .conftest import PHONE_VIEWPORT, HallServer, screenshot

pytestmark = pytest.mark.slow

PASSWORD = "citizen-pages-1"
ITEM = "teacher-registration"  # 市教育局, promised 10 working days; the 4th material may follow (容缺)
NAME, PHONE = "王小娜", "13893912345"
ID = "62300119800101123" + id_check_char("62300119800101123")


class ClockedServer(HallServer):
    """``onewindow serve`` with the clock started on a Thursday morning, so the working-day deadlines are known."""

    CLOCK = "2026-11-26T09:30"
    extra_args = ("--clock", CLOCK)


def add_user(server: HallServer, username: str, name: str, role: str, *extra: str) -> None:
    subprocess.run([str(ONEWINDOW), "users", "add", username, "--name", name, "--role", role, *extra,
                    "--password-stdin", "--database", str(server.database)], input=PASSWORD + "\n", text=True,
                   check=True, capture_output=True, cwd=server.workdir,
                   env={**os.environ, "ONEWINDOW_VAR": str(server.workdir / "var")})


class StaffSession:
    def __init__(self, server: HallServer, username: str) -> None:
        self.base = server.base_url + "/api/v1"
        self.http = requests.Session()
        r = self.http.post(self.base + "/auth/login", json={"username": username, "password": PASSWORD}, timeout=10)
        assert r.ok, r.text
        self.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.http.post(self.base + path, json=body or {}, timeout=10)
        assert r.ok, f"POST {path} -> {r.status_code} {r.text}"
        return r.json()

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=10)


@pytest.fixture(scope="module")
def hall_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    s = ClockedServer(tmp_path_factory.mktemp("citizen"))
    add_user(s, "li.na", "李娜", "window_staff", "--window", "w01")
    add_user(s, "boss", "赵强", "supervisor")
    s.start()
    yield s
    s.stop()


def text(page: Any, selector: str) -> str:
    return page.inner_text(selector).strip()


def assert_private(page: Any) -> None:
    body = page.content()
    for secret in (ID, PHONE, NAME, mask_id(ID), "138****2345"):
        assert secret not in body, secret


def test_citizen_follows_a_case_and_gives_a_bad_rating_with_a_reason(hall_server, new_page) -> None:  # type: ignore[no-untyped-def]
    li, boss = StaffSession(hall_server, "li.na"), StaffSession(hall_server, "boss")
    case = li.post("/cases", {"item_id": ITEM, "applicant_name": NAME, "id_number": ID, "phone": PHONE,
                              "window_id": "w01", "materials": ["e_licence", "original", "original", "missing"]})["case"]
    li.post(f"/cases/{case['id']}/accept-with-deficiency", {"undertaking": True})

    # the notice's QR, on the applicant's phone: accepted, the 容缺 deadline, the promised date in working days
    page = new_page(viewport=PHONE_VIEWPORT)
    page.goto(f"{hall_server.base_url}/case/{case['tracker_token']}")
    assert text(page, "#cs-number") == case["number"]
    assert text(page, "#cs-status") == "已受理，审批中"
    assert "近五年继续教育学时证明" in text(page, "#cs-deficiency")
    assert "2026年12月3日 前补交" in text(page, "#cs-deficiency")
    assert text(page, "[data-fact=due] dd") == "2026年12月10日"
    assert text(page, "[data-fact=left] dd") == "还剩 10 个工作日"
    assert text(page, "[data-fact=applicant] dd") == "王*娜"
    assert text(page, "#cs-steps li[aria-current=step]") == "审批"
    assert page.is_hidden("#cs-collect") and page.is_hidden("#cs-eval")
    assert_private(page)
    page.click(".tr-lang button[data-lang=en]")
    assert text(page, "#cs-status") == "Accepted — under review"
    assert text(page, "[data-fact=left] dd") == "10 working days"
    page.click(".tr-lang button[data-lang=zh]")
    screenshot(page, "citizen-case-accepted")

    # the back office finishes it: ready for collection at the issuance window, with a pick-up ticket
    boss.post(f"/cases/{case['id']}/supply")
    boss.post(f"/cases/{case['id']}/decide", {"approved": True, "reasons": ["符合注册条件"]})
    page.reload()
    assert text(page, "#cs-status") == "已办结，请领取结果"
    assert "28 号统一出件窗口" in text(page, "#cs-collect-text")
    assert text(page, "#cs-decision") == "审批结果：准予许可。"
    page.click("#cs-take-ticket")
    page.wait_for_selector("#cs-ticket:not([hidden])")
    assert text(page, "#cs-ticket-number").startswith("M")
    assert page.get_attribute("#cs-ticket-link", "href").startswith("/t/")

    # the evaluation invitation (no pad here): the clerk gets no token; the citizen's own case page has the link
    inv = li.post("/evaluations/invitations", {"case_id": case["id"], "window_id": "w01", "start_pad": False})
    assert "token" not in inv and "url" not in inv
    page.reload()
    link = page.get_attribute("#cs-eval-link", "href")
    assert link.startswith("/evaluate/") and len(link) > len("/evaluate/") + 10
    assert link.endswith("?lang=zh")  # the language goes along
    screenshot(page, "citizen-case-ready")
    page.click("#cs-eval-link")
    page.wait_for_url(f"**{link}")

    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and "/api/v1/evaluate/" in r.url and posts.append(r.url))
    assert text(page, "#ev-subject") == f"办件 {case['number']} · 中小学教师资格定期注册"
    assert [b.inner_text().strip() for b in page.query_selector_all(".ev-level")] == \
        ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert page.is_hidden("#ev-reasons") and page.is_disabled("#ev-submit")
    page.click(".ev-level[data-level='2']")
    assert page.get_attribute(".ev-level[data-level='2']", "aria-checked") == "true"
    assert page.is_visible("#ev-reasons")
    page.click("#ev-submit")  # a 差评 without a reason: asked for, nothing sent
    assert text(page, "#ev-error") == "请选择至少一项不满意的原因，再提交。"
    assert posts == []
    page.click(".ev-ind[data-code='2']")
    assert page.is_hidden("#ev-error")
    screenshot(page, "citizen-evaluate-bad")
    page.click("#ev-submit")
    page.wait_for_selector("#ev-thanks:not([hidden])")
    assert text(page, "#ev-thanks h1") == "感谢您的评价！"
    assert "前回复您" in text(page, "#ev-thanks-text")
    assert len(posts) == 1

    page.reload()  # 一次一评
    assert page.is_visible("#ev-rated") and page.is_hidden("#ev-form")
    assert text(page, "#ev-rated h1") == "此次服务已评价"
    assert_private(page)
    page.goto(f"{hall_server.base_url}/case/{case['tracker_token']}")
    assert text(page, "#cs-eval-text") == "您已评价本次服务，感谢您的参与。" and page.is_hidden("#cs-eval-link")
    assert page.errors == []

    rows = [json.loads(line) for line in boss.get("/evaluations/export?format=jsonl").text.splitlines()]
    assert [(r["subject_number"], r["level"], r["indicators"], r["channel"], r["followup_status"]) for r in rows] == \
        [(case["number"], 2, [2], "qr", "verifying")]

    # the window PC, logged in as staff, opening the link: no form to fill in on the citizen's behalf
    staff_page = new_page(viewport=PHONE_VIEWPORT)
    r = staff_page.request.post(f"{hall_server.base_url}/api/v1/auth/login",
                                data={"username": "li.na", "password": PASSWORD})
    assert r.ok
    resp = staff_page.goto(f"{hall_server.base_url}/evaluate/{link.removeprefix('/evaluate/')}")
    assert resp.status == 403 and staff_page.is_visible("#ev-staff")
    assert staff_page.query_selector(".ev-level") is None


def test_unknown_links_show_a_not_found_page(hall_server, new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page(viewport=PHONE_VIEWPORT)
    resp = page.goto(f"{hall_server.base_url}/case/no-such-case")
    assert resp.status == 404 and "未找到这件申请" in text(page, "#cs-missing")
    resp = page.goto(f"{hall_server.base_url}/evaluate/no-such-rating")
    assert resp.status == 404 and "未找到这项评价" in text(page, "#ev-missing")
    assert page.errors == []
