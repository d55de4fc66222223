"""The citizen's pages behind the notice and invitation QR codes — /case/<token> and /evaluate/<token> — through
Flask's test client on a real app (auth_required, the default Hezuo configuration and config/cases.yaml): they
render, unknown links are 404 pages, every state of a case shows what it should, staff get no rating form, and no
page ever carries the applicant's ID number, phone number or unmasked name."""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from werkzeug.security import generate_password_hash

from queue_server.app import create_app
from queue_server.domain.privacy import id_check_char, mask_id
from queue_server.services import staff as staff_service
from queue_server.settings import Settings

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct-horse-1"
ITEM = "teacher-registration"  # 市教育局, promised 10 working days, 4 materials (the last one 容缺)
NAME = "王小娜"
PHONE = "13893912345"
ID = "62300119800101123" + id_check_char("62300119800101123")
PRIVATE = (ID, PHONE, NAME, mask_id(ID), ID[:6] + "*", "138****2345")


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as mp:  # cheap hashes: these tests are about pages, not password storage
        mp.setattr(staff_service, "generate_password_hash",
                   functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
        db = tmp_path_factory.mktemp("citizen") / "c.db"
        app = create_app(Settings(database=str(db), auth_required=True, always_open=True, background_tasks=False,
                                  testing=True, sqlite_synchronous="OFF", secret_key="k", person_secret=b"p",
                                  clock_start=datetime(2026, 11, 26, 9, 30, tzinfo=TZ)))
        ctx = app.extensions["onewindow"]
        for username, name, roles, windows in (("li.na", "李娜", ["window_staff"], ["w01"]),
                                               ("boss", "赵强", ["supervisor"], [])):
            staff_service.add_user(ctx.engine, ctx.now(), username, name, PASSWORD, roles, windows, [])
        yield app
        ctx.engine.dispose()


class Staff:
    def __init__(self, app, username: str) -> None:  # type: ignore[no-untyped-def]
        self.client = app.test_client()
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.get_json()
        self.token = r.get_json()["csrf_token"]

    def post(self, path: str, payload: dict | None = None) -> dict:
        r = self.client.post(f"/api/v1{path}", json=payload or {}, headers={"X-CSRF-Token": self.token})
        assert r.status_code in (200, 201), (path, r.get_json())
        return r.get_json()


@pytest.fixture(scope="module")
def li(app):  # type: ignore[no-untyped-def]
    return Staff(app, "li.na")


@pytest.fixture(scope="module")
def boss(app):  # type: ignore[no-untyped-def]
    return Staff(app, "boss")


def new_case(li: Staff, materials: list[str]) -> dict:
    return li.post("/cases", {"item_id": ITEM, "applicant_name": NAME, "id_number": ID, "phone": PHONE,
                              "window_id": "w01", "materials": materials})["case"]


COMPLETE = ["e_licence", "original", "original", "original"]


def page_data(html: str) -> dict:
    m = re.search(r'<script id="screen-data" type="application/json">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


def citizen_page(app, path: str, status: int = 200) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    r = app.test_client().get(path)
    assert r.status_code == status, (path, r.status_code)
    assert r.mimetype == "text/html"
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Robots-Tag"] == "noindex" and r.headers["X-Frame-Options"] == "DENY"
    html = r.get_data(as_text=True)
    assert_private(html)
    assert "http://" not in html and "https://" not in html  # every asset local: the hall may have no internet
    return html, page_data(html)


def assert_private(text: str) -> None:
    for secret in PRIVATE:
        assert secret not in text, secret


def status_json(app, token: str) -> dict:  # type: ignore[no-untyped-def]
    r = app.test_client().get(f"/case/{token}/status")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert_private(r.get_data(as_text=True))
    return r.get_json()["case"]


# ---------------------------------------------------------------- /case/<token>


def test_unknown_links_are_404_pages(app) -> None:  # type: ignore[no-untyped-def]
    for path in ("/case/not-a-token", "/case/" + "x" * 65, "/evaluate/not-a-token", "/evaluate/" + "y" * 65):
        html, data = citizen_page(app, path, 404)
        assert data["token"] is None
        assert "未找到" in html and "case.js" not in html and "evaluate.js" not in html
    r = app.test_client().get("/case/not-a-token/status")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "case_not_found"


def test_a_received_case_shows_its_progress_and_nothing_private(app, li) -> None:  # type: ignore[no-untyped-def]
    c = new_case(li, COMPLETE)
    html, data = citizen_page(app, f"/case/{c['tracker_token']}")
    assert "case.js" in html and c["number"] in html and "中小学教师资格定期注册" in html
    case = data["case"]
    assert data["token"] == c["tracker_token"]
    assert case["status"] == "received" and case["applicant"] == "王*娜" and case["promised_days"] == 10
    assert case["due_on"] is None and case["evaluation"] is None and case["issuance_windows"] == [28]
    # a whitelist of public fields: no internal ids, no assignee, nothing of the back office
    assert not {"id", "assignee", "tracker_token", "applicant_name", "applicant_id", "applicant_phone",
                "materials", "decision_reasons"} & set(case)
    for action in ("/accept", "/decide", "/hand-over", "/courier", "/withdraw", "x-csrf-token"):
        assert action not in html.lower()  # the page cannot act on the case
    assert status_json(app, c["tracker_token"]) == case


def test_correction_lists_everything_missing(app, li) -> None:  # type: ignore[no-untyped-def]
    c = new_case(li, ["e_licence", "missing", "original", "missing"])
    li.post(f"/cases/{c['id']}/request-correction")
    case = citizen_page(app, f"/case/{c['tracker_token']}")[1]["case"]
    assert case["status"] == "correction"
    assert case["missing"] == ["教师资格证书", "近五年继续教育学时证明"]


def test_deficiency_acceptance_shows_the_deadline_and_the_promised_date(app, li, boss) -> None:  # type: ignore[no-untyped-def]
    c = new_case(li, ["e_licence", "original", "original", "missing"])
    li.post(f"/cases/{c['id']}/accept-with-deficiency", {"undertaking": True})
    case = status_json(app, c["tracker_token"])
    assert case["status"] == "accepted" and case["due_on"] == "2026-12-10" and case["workdays_left"] == 10
    assert case["deficiency"] == {"names": ["近五年继续教育学时证明"], "supply_by": "2026-12-03", "supplied": False}
    boss.post(f"/cases/{c['id']}/supply")
    assert status_json(app, c["tracker_token"])["deficiency"]["supplied"] is True


def test_a_ready_case_says_where_to_collect_and_offers_a_pickup_ticket(app, li, boss) -> None:  # type: ignore[no-untyped-def]
    c = new_case(li, COMPLETE)
    li.post(f"/cases/{c['id']}/accept")
    boss.post(f"/cases/{c['id']}/decide", {"approved": True})
    html, data = citizen_page(app, f"/case/{c['tracker_token']}")
    case = data["case"]
    assert case["status"] == "ready" and case["ready"] is True and case["decision"] == "approved"
    assert "28号统一出件窗口" in case["message"]
    ev = case["evaluation"]
    assert ev["rated"] is False and re.fullmatch(r"/evaluate/[\w-]{16,64}", ev["url"])
    # the pick-up ticket the page takes: the citizen's own call, no login
    r = app.test_client().post(f"/api/v1/case-tracker/{c['tracker_token']}/issuance-ticket", json={})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["ticket"]["number"].startswith("M")
    assert_private(r.get_data(as_text=True))


def test_issued_by_courier_shows_the_tracking_number(app, li, boss) -> None:  # type: ignore[no-untyped-def]
    c = new_case(li, COMPLETE)
    li.post(f"/cases/{c['id']}/accept")
    boss.post(f"/cases/{c['id']}/decide", {"approved": False, "reasons": ["继续教育学时不足"]})
    li.post(f"/cases/{c['id']}/courier", {"carrier": "中国邮政EMS", "tracking_number": "EMS1234567890"})
    case = citizen_page(app, f"/case/{c['tracker_token']}")[1]["case"]
    assert case["status"] == "issued" and case["decision"] == "denied"
    assert case["delivery"] == {"method": "courier", "carrier": "中国邮政EMS", "tracking_number": "EMS1234567890"}


# ---------------------------------------------------------------- /evaluate/<token>


def _invitation(li: Staff, boss: Staff) -> tuple[dict, str]:
    c = new_case(li, COMPLETE)
    li.post(f"/cases/{c['id']}/accept")
    boss.post(f"/cases/{c['id']}/decide", {"approved": True})
    inv = li.post("/evaluations/invitations", {"case_id": c["id"], "window_id": "w01", "start_pad": False})
    assert "token" not in inv and "url" not in inv  # the clerk never sees the rating token (issue 9, 4a)
    # the citizen finds the link on their own case page, behind the QR on their notice
    link = citizen_page(li.client.application, f"/case/{c['tracker_token']}")[1]["case"]["evaluation"]["url"]
    return c, link.removeprefix("/evaluate/")


def test_the_rating_page_offers_five_levels_and_the_fixed_reasons(app, li, boss) -> None:  # type: ignore[no-untyped-def]
    c, token = _invitation(li, boss)
    html, data = citizen_page(app, f"/evaluate/{token}")
    assert data["state"] == "open" and data["token"] == token and "evaluate.js" in html
    form = data["form"]
    assert form["subject_kind"] == "case" and form["subject"] == c["number"]
    assert form["window_number"] == 1 and form["staff_name"] == "李娜"
    assert [(lv["level"], lv["label"], lv["needs_reason"]) for lv in form["levels"]] == [
        (5, "非常满意", False), (4, "满意", False), (3, "基本满意", False), (2, "不满意", True), (1, "非常不满意", True)]
    assert [i["label"] for i in form["indicators"]] == ["办事效率低", "服务态度差", "多次跑腿", "材料要求不明确", "其他"]
    for label in ("非常满意", "基本满意", "非常不满意", "服务态度差"):
        assert label in html  # rendered on the server too
    assert html.count('class="ev-level"') == 5 and html.count('class="ev-ind"') == 5


def test_staff_get_no_form_and_a_rating_is_once_only(app, li, boss) -> None:  # type: ignore[no-untyped-def]
    _c, token = _invitation(li, boss)
    r = li.client.get(f"/evaluate/{token}")  # a browser logged in as staff: no form, no token
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and "工作人员不能代为评价" in html
    assert token not in html and 'class="ev-level"' not in html and "evaluate.js" not in html
    anon = app.test_client()
    bad = anon.post(f"/api/v1/evaluate/{token}", json={"level": 2, "indicators": []})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "reason_required"
    ok = anon.post(f"/api/v1/evaluate/{token}", json={"level": 2, "indicators": [2]})
    assert ok.status_code == 201 and ok.get_json()["followup"]["due_on"]
    html, data = citizen_page(app, f"/evaluate/{token}")
    assert data["state"] == "rated" and data["token"] is None
    assert 'id="ev-rated"' in html and 'id="ev-rated" hidden' not in html


def test_the_case_page_knows_the_case_was_rated(app, li, boss) -> None:  # type: ignore[no-untyped-def]
    c, token = _invitation(li, boss)
    app.test_client().post(f"/api/v1/evaluate/{token}", json={"level": 5})
    assert status_json(app, c["tracker_token"])["evaluation"] == {"url": None, "rated": True}


def test_an_expired_link_says_so(app, li, boss) -> None:  # type: ignore[no-untyped-def]
    _c, token = _invitation(li, boss)
    ctx = app.extensions["onewindow"]
    from sqlalchemy import update

    from queue_server.store.cases_schema import evaluation_requests

    with ctx.engine.begin() as conn:
        conn.execute(update(evaluation_requests).where(evaluation_requests.c.token == token)
                     .values(expires_at=datetime(2026, 1, 1, tzinfo=TZ)))
    data = citizen_page(app, f"/evaluate/{token}")[1]
    assert data["state"] == "expired" and data["token"] is None
