"""The case module's REST API in-process with auth_required=True: roles, departments, CSRF, the citizen's channels,
the documented routes and the staff pages (with the default Hezuo configuration and config/cases.yaml)."""

import functools
from datetime import datetime

import pytest
from werkzeug.security import generate_password_hash

from queue_server.app import create_app
from queue_server.services import staff as staff_service
from queue_server.settings import Settings

from .conftest import ID, PHONE, TZ

PASSWORD = "correct-horse-1"
ITEM = "teacher-registration"  # 市教育局, promised 10 working days, 4 materials (the last one 容缺)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # cheap hashes: these tests are about roles, not password storage
        mp.setattr(staff_service, "generate_password_hash",
                   functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
        yield from _app(tmp_path_factory)


def _app(tmp_path_factory):
    db = tmp_path_factory.mktemp("case-api") / "a.db"
    app = create_app(Settings(database=str(db), auth_required=True, always_open=True, background_tasks=False,
                              testing=True, sqlite_synchronous="OFF",
                              clock_start=datetime(2026, 11, 26, 9, 30, tzinfo=TZ)))
    ctx = app.extensions["onewindow"]
    for username, name, roles, windows, depts in (
            ("li.na", "李娜", ["window_staff"], ["w01"], []), ("jy.zhang", "张老师", ["approver"], [], ["education"]),
            ("mz.zhang", "张明", ["approver"], [], ["civil-affairs"]), ("boss", "赵强", ["supervisor"], [], [])):
        staff_service.add_user(ctx.engine, ctx.now(), username, name, PASSWORD, roles, windows, depts)
    app.config["device_token"] = staff_service.add_device_token(ctx.engine, ctx.now(), "window-1")
    app.config["kiosk_token"] = staff_service.add_device_token(ctx.engine, ctx.now(), "kiosk-1")
    yield app
    ctx.engine.dispose()


_LOGINS: dict[tuple[int, str], "_Staff"] = {}


def Staff(app, username):  # noqa: N802 - reads like the class it returns
    """A logged-in client per user, made once per app."""
    key = (id(app), username)
    if key not in _LOGINS:
        _LOGINS[key] = _Staff(app, username)
    return _LOGINS[key]


class _Staff:
    def __init__(self, app, username):
        self.client = app.test_client()
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.get_json()
        self.token = r.get_json()["csrf_token"]

    def post(self, path, payload=None):
        return self.client.post(f"/api/v1{path}", json=payload or {}, headers={"X-CSRF-Token": self.token})

    def get(self, path):
        return self.client.get(path if path.startswith("/staff") else f"/api/v1{path}")


def intake_body(**kw):
    return {"item_id": ITEM, "applicant_name": "王小娜", "id_number": ID, "phone": PHONE, "window_id": "w01",
            "materials": ["e_licence", "original", "original", "original"]} | kw


def new_case(app, **kw):
    r = Staff(app, "li.na").post("/cases", intake_body(**kw))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["case"]


def error(r):
    return r.status_code, r.get_json()["error"]["code"]


def test_every_case_route_is_documented(app):
    paths = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/cases", "/cases/{case_id}", "/cases/{case_id}/accept", "/cases/{case_id}/accept-with-deficiency",
                 "/cases/{case_id}/request-correction", "/cases/{case_id}/reject", "/cases/{case_id}/decide",
                 "/cases/{case_id}/decide-now", "/cases/{case_id}/suspend", "/cases/{case_id}/resume",
                 "/cases/{case_id}/issuance-ticket", "/cases/{case_id}/hand-over", "/cases/{case_id}/courier",
                 "/supervision/cases", "/approvers/{username}/absence", "/notices/{notice_id}",
                 "/notices/{notice_id}/slip", "/notices/{notice_id}/print", "/case-tracker/{token}",
                 "/cases/by-person", "/evaluations/invitations", "/evaluate/{token}", "/evaluations/pad",
                 "/followups", "/followups/{followup_id}/steps", "/evaluations/export"):
        assert path in paths, path
    assert "IntakeBody" in app.test_client().get("/api/v1/openapi.json").get_json()["components"]["schemas"]


def test_intake_needs_a_window_staff_login_with_csrf(app):
    anon = app.test_client()
    assert error(anon.post("/api/v1/cases", json=intake_body())) == (401, "not_logged_in")
    li = Staff(app, "li.na")
    assert error(li.client.post("/api/v1/cases", json=intake_body())) == (403, "csrf_failed")
    assert error(li.post("/cases", intake_body(window_id="w02"))) == (403, "wrong_window")
    assert error(Staff(app, "jy.zhang").post("/cases", intake_body(window_id=None))) == (403, "wrong_role")
    assert error(li.post("/cases", intake_body(id_number="123"))) == (422, "invalid_id_number")
    r = li.post("/cases", intake_body())
    assert r.status_code == 201
    case = r.get_json()["case"]
    assert case["applicant_id"] != ID and case["applicant_phone"] == "138****2345"
    online = Staff(app, "jy.zhang").post("/cases", intake_body(window_id=None, source="online"))
    assert online.status_code == 201 and online.get_json()["case"]["source"] == "online"


def test_approvers_decide_only_for_their_department(app):
    c = new_case(app)
    li = Staff(app, "li.na")
    accepted = li.post(f"/cases/{c['id']}/accept").get_json()
    assert accepted["notice"]["title"] == "受理通知书" and accepted["case"]["due_on"] == "2026-12-10"
    assert error(li.post(f"/cases/{c['id']}/decide", {"approved": True})) == (403, "wrong_role")
    other = Staff(app, "mz.zhang")
    assert error(other.post(f"/cases/{c['id']}/decide", {"approved": True})) == (403, "wrong_department")
    assert error(other.get(f"/cases/{c['id']}")) == (403, "wrong_department")
    assert c["number"] not in [x["number"] for x in other.get("/cases").get_json()["cases"]]
    mine = Staff(app, "jy.zhang")
    assert c["number"] in [x["number"] for x in mine.get("/cases?status=accepted").get_json()["cases"]]
    assert error(mine.post(f"/cases/{c['id']}/decide", {"approved": False})) == (422, "reasons_required")
    r = mine.post(f"/cases/{c['id']}/decide", {"approved": True, "reasons": ["符合注册条件"]})
    assert r.status_code == 200 and r.get_json()["case"]["status"] == "ready"
    assert error(mine.post(f"/cases/{c['id']}/decide", {"approved": True})) == (409, "invalid_case_transition")
    page = mine.get(f"/cases/{c['id']}").get_json()["case"]
    assert page["applicant_id"] == ID and [h["actor"] for h in page["history"]][-2:] == ["staff:jy.zhang"] * 2
    t = li.post(f"/cases/{c['id']}/issuance-ticket").get_json()["ticket"]
    assert t["queue_id"] == "issuance" and t["number"].startswith("M")
    assert li.post(f"/cases/{c['id']}/hand-over", {"receiver_name": "王小娜"}).get_json()["case"]["status"] == "issued"


def test_supervision_and_absence_roles(app):
    assert error(Staff(app, "jy.zhang").get("/supervision/cases")) == (403, "wrong_role")
    boss = Staff(app, "boss")
    lists = boss.get("/supervision/cases").get_json()
    assert set(lists) >= {"yellow", "red", "paused", "today"} and lists["warning_days"] == 1
    assert error(Staff(app, "jy.zhang").post("/approvers/mz.zhang/absence", {"absent": True})) == \
        (403, "not_yourself")
    assert Staff(app, "mz.zhang").post("/approvers/mz.zhang/absence", {"absent": True}).get_json()["absent"]
    assert boss.post("/approvers/mz.zhang/absence", {"absent": False}).get_json()["absent"] is False


def test_tracker_and_kiosk_lookups_show_no_personal_data(app):
    c = new_case(app)
    token = Staff(app, "li.na").get(f"/cases/{c['id']}").get_json()["case"]["tracker_token"]
    r = app.test_client().get(f"/api/v1/case-tracker/{token}")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and ID not in body and PHONE not in body and "王小娜" not in body
    assert r.get_json()["case"]["applicant"] == "王*娜"
    assert error(app.test_client().post("/api/v1/cases/by-person", json={"id_number": ID})) == \
        (401, "device_token_required")
    kiosk = {"Authorization": f"Bearer {app.config['kiosk_token']}"}
    found = app.test_client().post("/api/v1/cases/by-person", json={"id_number": ID}, headers=kiosk).get_json()
    assert c["number"] in [x["number"] for x in found["cases"]] and ID not in str(found)


def rating_token(app, inv) -> str:
    """The token as only the citizen gets it (pad, notice QR): read from the database, never from the reply."""
    from sqlalchemy import select

    from queue_server.store.cases_schema import evaluation_requests

    assert "token" not in inv and "url" not in inv
    with app.extensions["onewindow"].engine.connect() as conn:
        return conn.execute(select(evaluation_requests.c.token).where(
            evaluation_requests.c.subject_label == inv["subject"])).scalar_one()


def test_ratings_come_only_from_citizens_channels(app):
    c = new_case(app)
    li, mine = Staff(app, "li.na"), Staff(app, "jy.zhang")
    li.post(f"/cases/{c['id']}/accept")
    mine.post(f"/cases/{c['id']}/decide", {"approved": True})
    inv = li.post("/evaluations/invitations", {"case_id": c["id"], "window_id": "w01"}).get_json()
    assert inv["pad"]["station"] == "window-1"
    assert error(li.post(f"/evaluate/{rating_token(app, inv)}", {"level": 5})) == (403, "staff_cannot_rate")
    assert error(li.post("/evaluations/pad", {"station": "window-1", "subject": f"case:{c['number']}",
                                              "level": 5})) == (403, "wrong_role")  # pads only: a device token
    kiosk = {"Authorization": f"Bearer {app.config['kiosk_token']}"}
    assert error(app.test_client().post("/api/v1/evaluations/pad", headers=kiosk, json={
        "station": "window-1", "subject": f"case:{c['number']}", "level": 5})) == (403, "wrong_station")
    form = app.test_client().get(f"/api/v1/evaluate/{rating_token(app, inv)}").get_json()
    assert form["subject"] == c["number"] and not form["rated"]
    pad = {"Authorization": f"Bearer {app.config['device_token']}"}
    r = app.test_client().post("/api/v1/evaluations/pad", headers=pad, json={
        "station": "window-1", "subject": f"case:{c['number']}", "level": 2, "reason": 1, "session": "0a1b2c3d"})
    assert r.status_code == 201 and r.get_json()["followup"]["status"] == "verifying"
    assert error(app.test_client().post(f"/api/v1/evaluate/{rating_token(app, inv)}", json={"level": 5})) == \
        (409, "already_rated")
    fid = r.get_json()["followup"]["id"]
    boss = Staff(app, "boss")
    assert error(li.post(f"/followups/{fid}/steps", {"step": "verify", "note": "x", "substantiated": True})) == \
        (403, "wrong_role")
    step = boss.post(f"/followups/{fid}/steps", {"step": "verify", "note": "属实", "substantiated": True})
    assert step.get_json()["followup"]["status"] == "rectifying"
    assert fid in [f["id"] for f in boss.get("/followups").get_json()["followups"]]
    export = boss.get("/evaluations/export?format=jsonl")
    assert export.mimetype == "application/x-ndjson" and c["number"] in export.get_data(as_text=True)
    assert boss.get("/evaluations/export?format=csv").mimetype == "text/csv"
    assert error(boss.get("/evaluations/export?since=yesterday")) == (400, "bad_parameter")


def test_a_citizen_rates_a_ticket_by_qr(app):
    li = Staff(app, "li.na")
    anon = app.test_client()
    t = anon.post("/api/v1/tickets", json={"queue_id": "comprehensive"}).get_json()["ticket"]
    li.post("/windows/w01/call", {"ticket_id": t["id"]})
    li.post("/windows/w01/start")
    li.post("/windows/w01/finish")
    inv = li.post("/evaluations/invitations", {"ticket_id": t["id"], "start_pad": False}).get_json()
    assert error(anon.post(f"/api/v1/evaluate/{rating_token(app, inv)}", json={"level": 1})) == (422, "reason_required")
    r = anon.post(f"/api/v1/evaluate/{rating_token(app, inv)}", json={"level": 4})
    assert r.status_code == 201 and r.get_json()["channel"] == "qr"


def test_staff_pages_and_the_printable_notice(app):
    c = new_case(app, materials=["e_licence", "original", "original", "missing"])
    anon = app.test_client().get(f"/staff/cases/{c['id']}")
    assert anon.status_code == 302 and "/staff/login" in anon.headers["Location"]
    li = Staff(app, "li.na")
    out = li.post(f"/cases/{c['id']}/accept-with-deficiency", {"undertaking": True}).get_json()
    html = li.get(f"/staff/notices/{out['notice']['id']}").get_data(as_text=True)
    for needed in ("容缺受理通知书", out["notice"]["number"], "@page", "size: A4", "@media print", "申请人（签字）",
                   "近五年继续教育学时证明", "<svg"):
        assert needed in html, needed
    assert ID not in html
    slip = li.get(f"/notices/{out['notice']['id']}/slip").get_json()["document"]
    assert slip["blocks"][-1] == {"type": "cut", "partial": False}
    page = li.get(f"/staff/cases/{c['id']}").get_data(as_text=True)
    assert c["number"] in page and "容缺材料已补齐" in page
    assert "教师资格定期注册" in li.get("/staff/cases/intake").get_data(as_text=True)
    assert li.get("/staff/cases").status_code == 200
    assert li.get("/staff/cases/supervision").status_code == 403
    boss = Staff(app, "boss")
    assert "电子监察" in boss.get("/staff/cases/supervision").get_data(as_text=True)
    # a clerk prints at their own window's station; a supervisor anywhere (issue 9, finding 6)
    assert error(li.post(f"/notices/{out['notice']['id']}/print", {"station": "kiosk-1"})) == (403, "wrong_station")
    sent = li.post(f"/notices/{out['notice']['id']}/print", {"station": "window-1"}).get_json()
    assert sent["command"] == "print"
    assert boss.post(f"/notices/{out['notice']['id']}/print", {"station": "kiosk-1"}).get_json()["command"] == "print"
