"""Issue 9's findings, each reproduced as it was seen (bundled hall, login required, --always-open) and now
refused: priority claims (2), tickets by id (3), kiosk identify and the case tracker's rating token (1),
好差评 integrity (4), staff scope (6), sessions (7) and the CSV export (8), through the real Flask app."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from queue_server.app import create_app
from queue_server.services import devices
from queue_server.services import staff as staff_service
from queue_server.services.context import Actor
from queue_server.settings import Settings
from queue_server.store.schema import ticket_transitions

PASSWORD = "correct-horse-1"
ELDER = {"id_number": "11010519491231002X", "name": "王小娜", "birth_date": "1949-12-31"}


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch):
    """These tests are about who may do what, not password storage: a one-round hash keeps them quick."""
    monkeypatch.setattr(staff_service, "generate_password_hash",
                        functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
    monkeypatch.setattr(staff_service, "_dummy_hash", lambda: generate_password_hash("x", method="pbkdf2:sha256:1"))


@pytest.fixture
def app(tmp_path):
    app = create_app(Settings(database=str(tmp_path / "t.db"), auth_required=True, always_open=True,
                              background_tasks=False, testing=True))
    ctx = app.extensions["onewindow"]
    add = staff_service.add_user
    add(ctx.engine, ctx.now(), "clerk1", "李娜", PASSWORD, ["window_staff"], ["w01"])
    add(ctx.engine, ctx.now(), "clerk2", "王芳", PASSWORD, ["window_staff"], ["w02"])
    add(ctx.engine, ctx.now(), "taxclerk", "赵税", PASSWORD, ["window_staff"], ["w03"])
    add(ctx.engine, ctx.now(), "boss", "赵强", PASSWORD, ["supervisor"], [])
    add(ctx.engine, ctx.now(), "pickup", "孙出件", PASSWORD, ["window_staff"], ["w28"])  # the issuance window
    app.config["kiosk_token"] = staff_service.add_device_token(ctx.engine, ctx.now(), "kiosk-1")
    app.config["kiosk2_token"] = staff_service.add_device_token(ctx.engine, ctx.now(), "kiosk-2")
    return app


class Staff:
    def __init__(self, app, username: str) -> None:  # type: ignore[no-untyped-def]
        self.client = app.test_client()
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.get_json()
        self.csrf = r.get_json()["csrf_token"]

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}")

    def post(self, path: str, payload: dict | None = None) -> Any:
        return self.client.post(f"/api/v1{path}", json=payload or {}, headers={"X-CSRF-Token": self.csrf})


def err(r) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return r.status_code, (r.get_json() or {}).get("error", {}).get("code")


def anon_issue(app, payload: dict) -> Any:  # type: ignore[no-untyped-def]
    return app.test_client().post("/api/v1/tickets", json=payload)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- finding 2: priority is earned, never claimed


@pytest.mark.parametrize("claim", [{"green": True}, {"appointment_code": "anything"}, {"birth_date": "1930-01-01"},
                                   {"legal_reason": "military"}, {"id_number": ELDER["id_number"]}])
def test_anonymous_priority_claims_are_refused_explicitly(app, claim):
    r = anon_issue(app, {"queue_id": "tax", **claim})
    assert err(r) == (403, "priority_not_allowed")
    assert list(claim)[0] in r.get_json()["error"]["details"]["claims"]
    # nothing was issued: a plain ticket is still A... number one of the queue
    assert anon_issue(app, {"queue_id": "tax"}).get_json()["ticket"]["priority"] == "normal"


def test_green_must_be_a_real_boolean(app):
    assert err(anon_issue(app, {"queue_id": "tax", "green": "yes"}))[0] == 422
    boss = Staff(app, "boss")
    assert err(boss.post("/tickets", {"queue_id": "tax", "green": "yes"}))[0] == 422


def test_staff_grant_priority_and_are_recorded_as_granting_it(app):
    boss = Staff(app, "boss")
    r = boss.post("/tickets", {"queue_id": "tax", "green": True})
    assert r.status_code == 201 and r.get_json()["ticket"]["priority"] == "green"
    with app.extensions["onewindow"].engine.connect() as conn:
        detail = conn.execute(select(ticket_transitions.c.detail).where(
            ticket_transitions.c.ticket_id == r.get_json()["ticket"]["id"])).scalar_one()
    assert detail["granted_by"] == "staff:boss"


def test_elderly_only_from_the_calling_kiosks_own_card_read(app):
    ctx = app.extensions["onewindow"]
    devices.record_input(ctx, "kiosk-1", "tap-1", "idcard", "card_read", ELDER, Actor("device", "kiosk-1"))
    # anonymous with a leaked input_id: refused
    assert err(anon_issue(app, {"queue_id": "tax", "card_input_id": "tap-1"})) == (403, "priority_not_allowed")
    # another kiosk's token: that read is not its own
    r = app.test_client().post("/api/v1/tickets", json={"queue_id": "tax", "card_input_id": "tap-1"},
                               headers=bearer(app.config["kiosk2_token"]))
    assert err(r) == (404, "card_input_not_found")
    # the kiosk whose reader read the card: elderly
    r = app.test_client().post("/api/v1/tickets", json={"queue_id": "tax", "card_input_id": "tap-1"},
                               headers=bearer(app.config["kiosk_token"]))
    assert r.status_code == 201 and r.get_json()["ticket"]["priority"] == "elderly"


def test_socket_issue_ticket_follows_the_same_rules(app):
    from queue_server.extensions import socketio

    anon = socketio.test_client(app)
    reply = anon.emit("issue_ticket", {"queue_id": "tax", "green": True}, callback=True)
    assert reply["error"]["code"] == "priority_not_allowed"
    reply = anon.emit("issue_ticket", {"queue_id": "tax", "green": "yes"}, callback=True)
    assert reply["error"]["code"] == "invalid_request"


def test_a_kiosk_legal_answer_is_a_claim_for_staff_to_verify(app):
    r = app.test_client().post("/api/v1/kiosk/tickets", headers=bearer(app.config["kiosk_token"]),
                               json={"station": "kiosk-1", "assisted": "military", "legal_reason": "military"})
    assert r.status_code == 201 and r.get_json()["ticket"]["priority"] == "normal"
    with app.extensions["onewindow"].engine.connect() as conn:
        detail = conn.execute(select(ticket_transitions.c.detail).where(
            ticket_transitions.c.ticket_id == r.get_json()["ticket"]["id"])).scalar_one()
    assert detail["claimed_legal_reason"] == "military" and "granted_by" not in detail


# ---------------------------------------------------------------- finding 3: tickets by id are for staff


def test_a_ticket_by_id_is_staff_only_and_scoped_to_their_windows(app):
    t = anon_issue(app, {"queue_id": "tax"}).get_json()["ticket"]
    assert err(app.test_client().get(f"/api/v1/tickets/{t['id']}"))[0] == 401
    assert err(Staff(app, "clerk1").get(f"/tickets/{t['id']}")) == (403, "not_your_ticket")  # w01 calls no tax
    view = Staff(app, "boss").get(f"/tickets/{t['id']}").get_json()["ticket"]
    assert view["number"] == t["number"] and view["tracker_token"] == t["tracker_token"]


def test_no_public_surface_maps_ids_to_tracker_tokens(app):
    t = anon_issue(app, {"queue_id": "comprehensive"}).get_json()["ticket"]
    c = app.test_client()
    for path in ("/api/v1/snapshot", "/api/v1/windows", "/api/v1/queues", "/api/v1/events?since=0"):
        body = c.get(path).get_data(as_text=True)
        assert t["tracker_token"] not in body, path


# ---------------------------------------------------------------- finding 1 (tail): identify, case tracker


def test_kiosk_identify_needs_that_kiosks_token(app):
    ctx = app.extensions["onewindow"]
    devices.record_input(ctx, "kiosk-1", "tap-9", "idcard", "card_read", ELDER, Actor("device", "kiosk-1"))
    payload = {"station": "kiosk-1", "input_id": "tap-9"}
    assert err(app.test_client().post("/api/v1/kiosk/identify", json=payload))[0] == 401
    r = app.test_client().post("/api/v1/kiosk/identify", json=payload, headers=bearer(app.config["kiosk2_token"]))
    assert err(r) == (403, "wrong_station")
    r = app.test_client().post("/api/v1/kiosk/identify", json={"station": "kiosk-2", "input_id": "tap-9"},
                               headers=bearer(app.config["kiosk2_token"]))
    assert err(r) == (404, "card_input_not_found")  # a read of kiosk-1 is unknown at kiosk-2
    r = app.test_client().post("/api/v1/kiosk/identify", json=payload, headers=bearer(app.config["kiosk_token"]))
    assert r.status_code == 200 and r.get_json()["name_masked"] == "王*娜"


# ---------------------------------------------------------------- finding 4: 好差评 integrity


def served_at_w01(app) -> dict:  # type: ignore[no-untyped-def]
    t = anon_issue(app, {"queue_id": "comprehensive"}).get_json()["ticket"]
    clerk1 = Staff(app, "clerk1")
    for step in ("open", "call-next", "start", "finish"):
        assert clerk1.post(f"/windows/w01/{step}").status_code == 200, step
    return t


def test_an_invitation_never_hands_the_rating_token_to_staff(app):
    t = served_at_w01(app)
    out = Staff(app, "clerk1").post("/evaluations/invitations", {"ticket_id": t["id"], "start_pad": False})
    body = out.get_json()
    assert out.status_code == 200 and "token" not in body and "url" not in body
    assert body["staff"] == "clerk1" and body["window_id"] == "w01"


def test_another_windows_clerk_cannot_invite_or_become_the_rated_one(app):
    t = served_at_w01(app)
    clerk2 = Staff(app, "clerk2")
    assert err(clerk2.post("/evaluations/invitations", {"ticket_id": t["id"], "start_pad": False})) == \
        (403, "wrong_window")
    assert err(clerk2.post("/evaluations/invitations", {"ticket_id": t["id"], "window_id": "w02"})) == \
        (403, "wrong_window")
    # a supervisor may ask; the rated clerk is still who served it
    body = Staff(app, "boss").post("/evaluations/invitations", {"ticket_id": t["id"], "start_pad": False}).get_json()
    assert body["staff"] == "clerk1"


# ---------------------------------------------------------------- finding 6: staff scope


def test_a_clerk_cannot_cancel_or_requeue_another_windows_ticket(app):
    tax = anon_issue(app, {"queue_id": "tax"}).get_json()["ticket"]
    assert err(Staff(app, "clerk1").post(f"/tickets/{tax['id']}/cancel")) == (403, "not_your_ticket")
    mine = anon_issue(app, {"queue_id": "comprehensive"}).get_json()["ticket"]
    assert Staff(app, "clerk1").post(f"/tickets/{mine['id']}/cancel").get_json()["ticket"]["status"] == "cancelled"
    assert Staff(app, "boss").post(f"/tickets/{tax['id']}/cancel").status_code == 200


def test_a_case_is_handled_by_its_clerk_department_or_a_supervisor(app):
    """clerk2 read the whole ID number and phone of a case taken at w01 and could reject or withdraw it."""
    from queue_server.domain.privacy import id_check_char

    id_number = "62300119800101123" + id_check_char("62300119800101123")
    phone = "13893912345"
    clerk1, clerk2 = Staff(app, "clerk1"), Staff(app, "clerk2")
    r = clerk1.post("/cases", {"item_id": "teacher-registration", "applicant_name": "王小娜", "id_number": id_number,
                               "phone": phone, "window_id": "w01",
                               "materials": ["e_licence", "original", "original", "original"]})
    assert r.status_code == 201, r.get_json()
    case = r.get_json()["case"]
    mine = clerk1.get(f"/cases/{case['id']}").get_json()["case"]
    assert mine["applicant_id"] == id_number and mine["applicant_phone"] == phone and mine["tracker_token"]
    assert err(clerk2.get(f"/cases/{case['id']}")) == (403, "not_your_case")
    # the pick-up window finds any case (to hand results out), but sees it masked and without its tracker token
    other = Staff(app, "pickup").get(f"/cases/{case['id']}")
    text = other.get_data(as_text=True)
    assert other.status_code == 200 and id_number not in text and phone not in text
    assert "tracker_token" not in other.get_json()["case"]
    assert err(Staff(app, "pickup").post(f"/cases/{case['id']}/reject", {"reasons": ["材料不全"]})) == \
        (403, "not_your_case")
    assert case["number"] not in [c["number"] for c in clerk2.get("/cases").get_json()["cases"]]
    assert case["number"] in [c["number"] for c in clerk1.get("/cases").get_json()["cases"]]
    assert err(clerk2.post(f"/cases/{case['id']}/reject", {"reasons": ["材料不全"]})) == (403, "not_your_case")
    assert err(clerk2.post(f"/cases/{case['id']}/withdraw")) == (403, "not_your_case")
    assert Staff(app, "boss").get(f"/cases/{case['id']}").get_json()["case"]["applicant_id"] == id_number
    assert clerk1.post(f"/cases/{case['id']}/withdraw").status_code == 200


def test_print_failed_alerts_only_from_that_kiosk(app):
    t = anon_issue(app, {"queue_id": "tax"}).get_json()["ticket"]
    payload = {"station": "kiosk-1", "ticket_id": t["id"], "error": "请到3号窗口领取退款"}
    assert err(app.test_client().post("/api/v1/kiosk/print-failed", json=payload))[0] == 401
    r = app.test_client().post("/api/v1/kiosk/print-failed", json=payload, headers=bearer(app.config["kiosk2_token"]))
    assert err(r) == (403, "wrong_station")
    r = app.test_client().post("/api/v1/kiosk/print-failed", json=payload, headers=bearer(app.config["kiosk_token"]))
    assert r.status_code == 200
    assert err(app.test_client().get("/api/v1/kiosk/alerts"))[0] == 401
    assert Staff(app, "clerk1").get("/kiosk/alerts").status_code == 200


# ---------------------------------------------------------------- finding 7: sessions


def test_logout_revokes_the_session_on_the_server(app):
    clerk = Staff(app, "clerk1")
    saved = clerk.client.get_cookie("session").value
    assert clerk.get("/auth/me").get_json()["staff"]["username"] == "clerk1"
    other = Staff(app, "clerk1")  # the same clerk on the back-office PC
    assert clerk.post("/auth/logout").status_code == 200
    replay = app.test_client()
    replay.set_cookie("session", saved)
    assert replay.get("/api/v1/auth/me").get_json()["staff"] is None
    assert err(replay.post("/api/v1/windows/w01/open", json={}, headers={"X-CSRF-Token": clerk.csrf}))[0] in (401, 403)
    assert other.get("/auth/me").get_json()["staff"]["username"] == "clerk1"  # only that session ended


def test_a_new_password_ends_every_session(app):
    clerk = Staff(app, "clerk1")
    staff_service.set_password(app.extensions["onewindow"].engine, "clerk1", "another-pass-1",
                               app.extensions["onewindow"].now())
    assert clerk.get("/auth/me").get_json()["staff"] is None


def test_login_failures_look_the_same_for_real_and_unknown_users(app):
    def attempt(username: str) -> tuple[int, dict]:
        r = app.test_client().post("/api/v1/auth/login", json={"username": username, "password": "wrong-guess"},
                                   environ_base={"REMOTE_ADDR": f"10.0.0.{len(username)}"})
        return r.status_code, r.get_json()["error"]

    for i in range(4):
        real, ghost = attempt("clerk1"), attempt("nobody9")
        assert real == ghost == (401, {"code": "login_failed", "message": real[1]["message"],
                                       "details": {"attempts_left": 4 - i}})
    (s1, e1), (s2, e2) = attempt("clerk1"), attempt("nobody9")
    assert s1 == s2 == 423 and e1["code"] == e2["code"] == "account_locked"
    assert e1["message"] == e2["message"]


def test_one_client_address_is_throttled_beside_the_account_lock(app):
    c = app.test_client()
    codes = []
    for i in range(staff_service.CLIENT_MAX_FAILURES + 1):
        r = c.post("/api/v1/auth/login", json={"username": f"guess{i}", "password": "x"},
                   environ_base={"REMOTE_ADDR": "192.0.2.7"})
        codes.append(r.status_code)
    assert codes[:-1] == [401] * staff_service.CLIENT_MAX_FAILURES and codes[-1] == 429
    # another address, and the real clerk, are not affected
    ok = app.test_client().post("/api/v1/auth/login", json={"username": "clerk1", "password": PASSWORD},
                                environ_base={"REMOTE_ADDR": "192.0.2.8"})
    assert ok.status_code == 200


def test_users_enable_lifts_a_lock(app):
    ctx = app.extensions["onewindow"]
    for _ in range(5):
        app.test_client().post("/api/v1/auth/login", json={"username": "clerk2", "password": "nope"})
    assert err(app.test_client().post("/api/v1/auth/login", json={"username": "clerk2", "password": PASSWORD})) == \
        (423, "account_locked")
    staff_service.set_disabled(ctx.engine, "clerk2", False, ctx.now())
    assert Staff(app, "clerk2").get("/auth/me").get_json()["staff"]["username"] == "clerk2"


def test_secure_cookies_and_hsts(tmp_path):
    app = create_app(Settings(database=str(tmp_path / "s.db"), always_open=True, background_tasks=False,
                              testing=True, secure_cookies=True))
    ctx = app.extensions["onewindow"]
    staff_service.add_user(ctx.engine, ctx.now(), "clerk1", "李娜", PASSWORD, ["window_staff"], ["w01"])
    r = app.test_client().post("/api/v1/auth/login", json={"username": "clerk1", "password": PASSWORD})
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


# ---------------------------------------------------------------- finding 8: export through the API


def test_the_csv_export_neutralises_a_formula_comment(app):
    t = served_at_w01(app)
    Staff(app, "clerk1").post("/evaluations/invitations", {"ticket_id": t["id"], "start_pad": False})
    from queue_server.store.cases_schema import evaluation_requests

    with app.extensions["onewindow"].engine.connect() as conn:
        token = conn.execute(select(evaluation_requests.c.token)).scalar_one()
    comment = '=HYPERLINK("http://evil.example","点我")'
    r = app.test_client().post(f"/api/v1/evaluate/{token}", json={"level": 2, "indicators": [5], "comment": comment})
    assert r.status_code == 201
    csv_text = Staff(app, "boss").get("/evaluations/export?format=csv").get_data(as_text=True)
    assert "'" + comment.replace('"', '""') in csv_text and ',"=HYPERLINK' not in csv_text


def test_the_cli_enable_lifts_a_lock_and_says_so(tmp_path):
    from click.testing import CliRunner

    from queue_server.commands import cli
    from queue_server.store.db import make_engine, migrate

    db = tmp_path / "cli.db"
    engine = make_engine(str(db))
    migrate(engine)
    now = datetime.now(UTC)
    staff_service.add_user(engine, now, "clerk1", "李娜", PASSWORD, ["window_staff"], ["w01"])
    for _ in range(staff_service.MAX_FAILURES):
        with pytest.raises(staff_service.DomainError):
            staff_service.authenticate(engine, now, "clerk1", "wrong")
    with pytest.raises(staff_service.Locked):
        staff_service.authenticate(engine, now, "clerk1", PASSWORD)
    result = CliRunner().invoke(cli, ["users", "enable", "clerk1", "--database", str(db)])
    assert result.exit_code == 0 and "lock-out lifted" in result.output, result.output
    assert staff_service.authenticate(engine, now, "clerk1", PASSWORD).username == "clerk1"
    engine.dispose()


def test_console_account_and_token_changes_are_audited(tmp_path):
    """A change made with `onewindow users/devices` appears in the staff audit beside the browser's, as cli:<user>."""
    from click.testing import CliRunner

    from queue_server.commands import cli
    from queue_server.store.db import make_engine
    from queue_server.store.supervision_schema import staff_audit

    db = str(tmp_path / "cli.db")
    run = CliRunner().invoke
    steps = [
        ["users", "add", "clerk9", "--name", "李娜", "--role", "window_staff", "--window", "w01", "--password-stdin"],
        ["users", "disable", "clerk9"], ["users", "enable", "clerk9"], ["users", "passwd", "clerk9", "--password-stdin"],
        ["devices", "token", "kiosk-1"], ["devices", "revoke", "kiosk-1"],
    ]
    for args in steps:
        result = run(cli, [*args, "--database", db], input=PASSWORD + "\n")
        assert result.exit_code == 0, (args, result.output)
    engine = make_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(select(staff_audit).order_by(staff_audit.c.id)).mappings().all()
    engine.dispose()
    assert [(r["action"], r["target"]) for r in rows] == [
        ("add", "clerk9"), ("disable", "clerk9"), ("enable", "clerk9"), ("reset_password", "clerk9"),
        ("add_token", "kiosk-1"), ("revoke_tokens", "kiosk-1")]
    assert all(r["actor"].startswith("cli:") for r in rows)
    assert rows[0]["detail"]["roles"] == ["window_staff"] and rows[-1]["detail"] == {"revoked": 1}
    assert PASSWORD not in str([dict(r) for r in rows])


def test_a_refused_console_change_writes_no_audit_line(tmp_path):
    from click.testing import CliRunner

    from queue_server.commands import cli
    from queue_server.store.db import make_engine
    from queue_server.store.supervision_schema import staff_audit

    db = str(tmp_path / "cli.db")
    result = CliRunner().invoke(cli, ["users", "disable", "nobody", "--database", db])
    assert result.exit_code == 2 and "error:" in result.output
    engine = make_engine(db)
    with engine.connect() as conn:
        assert conn.execute(select(staff_audit)).all() == []
    engine.dispose()
