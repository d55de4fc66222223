"""Staff login, CSRF, lock-out, roles and window assignment through the real Flask app (in-process)."""

import pytest

from queue_server.app import create_app
from queue_server.extensions import socketio
from queue_server.services import staff as staff_service
from queue_server.settings import Settings

PASSWORD = "correct-horse-1"


@pytest.fixture
def app(tmp_path):
    app = create_app(Settings(database=str(tmp_path / "a.db"), auth_required=True, always_open=True,
                              background_tasks=False, testing=True))
    ctx = app.extensions["onewindow"]
    staff_service.add_user(ctx.engine, ctx.now(), "li.na", "李娜", PASSWORD, ["window_staff"], ["w01"])
    staff_service.add_user(ctx.engine, ctx.now(), "wang", "王芳", PASSWORD, ["approver"], [])
    staff_service.add_user(ctx.engine, ctx.now(), "boss", "赵强", PASSWORD, ["supervisor"], [])
    return app


def login(client, username="li.na", password=PASSWORD):
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    return r


def issue(client):
    return client.post("/api/v1/tickets", json={"queue_id": "comprehensive"}).get_json()["ticket"]


def test_not_logged_in_is_refused(app):
    c = app.test_client()
    issue(c)
    r = c.post("/api/v1/windows/w01/call-next", json={})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "not_logged_in"


def test_logged_in_with_csrf_calls_and_is_recorded(app):
    c = app.test_client()
    t = issue(c)
    token = login(c).get_json()["csrf_token"]
    r = c.post("/api/v1/windows/w01/call-next", json={}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.get_json()["ticket"]["id"] == t["id"]
    from sqlalchemy import select

    from queue_server.store.schema import ticket_transitions

    with app.extensions["onewindow"].engine.connect() as conn:
        actors = [r.actor for r in conn.execute(select(ticket_transitions.c.actor, ticket_transitions.c.action))
                  if r.action == "call"]
    assert actors == ["staff:li.na"]


def test_missing_or_wrong_csrf_token_is_refused(app):
    c = app.test_client()
    issue(c)
    login(c)
    r = c.post("/api/v1/windows/w01/call-next", json={})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf_failed"
    r = c.post("/api/v1/windows/w01/call-next", json={}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403


def test_wrong_window_and_wrong_role(app):
    c = app.test_client()
    token = login(c).get_json()["csrf_token"]
    r = c.post("/api/v1/windows/w02/call-next", json={}, headers={"X-CSRF-Token": token})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "wrong_window"
    c2 = app.test_client()
    token2 = login(c2, "wang").get_json()["csrf_token"]
    r = c2.post("/api/v1/windows/w01/call-next", json={}, headers={"X-CSRF-Token": token2})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "wrong_role"
    c3 = app.test_client()
    token3 = login(c3, "boss").get_json()["csrf_token"]
    assert c3.post("/api/v1/windows/w02/open", json={}, headers={"X-CSRF-Token": token3}).status_code == 200


def test_lock_out_after_repeated_failures(app):
    c = app.test_client()
    for i in range(4):
        r = login(c, password="wrong")
        assert r.status_code == 401 and r.get_json()["error"]["details"]["attempts_left"] == 4 - i
    r = login(c, password="wrong")
    assert r.status_code == 423
    assert login(c).status_code == 423  # even the right password, until the lock expires


def test_disabling_ends_the_session(app):
    c = app.test_client()
    token = login(c).get_json()["csrf_token"]
    staff_service.set_disabled(app.extensions["onewindow"].engine, "li.na", True)
    r = c.post("/api/v1/windows/w01/open", json={}, headers={"X-CSRF-Token": token})
    assert r.status_code == 401
    assert login(c).get_json()["error"]["code"] == "account_disabled"


def test_device_token_for_agent_events_and_commands(app):
    ctx = app.extensions["onewindow"]
    raw = staff_service.add_device_token(ctx.engine, ctx.now(), "kiosk-1")
    good = socketio.test_client(app, auth={"token": raw})
    assert good.is_connected()
    assert good.emit("agent_hello", {"station": "kiosk-1"}, callback=True)["ok"]
    wrong = good.emit("device_health", {"station": "kiosk-2", "device": "printer", "status": "ok"}, callback=True)
    assert wrong["error"]["code"] == "wrong_station"
    anon = socketio.test_client(app)
    r = anon.emit("device_health", {"station": "kiosk-1", "device": "printer", "status": "ok"}, callback=True)
    assert r["error"]["code"] == "device_token_required"
    bad = socketio.test_client(app, auth={"token": "forged"})
    assert not bad.is_connected()
    staff_service.revoke_device_tokens(ctx.engine, ctx.now(), "kiosk-1")
    assert not socketio.test_client(app, auth={"token": raw}).is_connected()
    # REST with the bearer token: the device acts as itself, no CSRF needed (no cookie)
    c = app.test_client()
    r = c.post("/api/v1/stations/kiosk-1/commands", json={"device": "printer", "command": "print", "args": {}},
               headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 401


def test_socket_window_action_needs_the_staff_session(app):
    c = app.test_client()
    issue(c)
    anon = socketio.test_client(app, flask_test_client=c)
    r = anon.emit("window_action", {"window_id": "w01", "action": "call-next"}, callback=True)
    assert r["error"]["code"] == "not_logged_in"
    token = login(c).get_json()["csrf_token"]
    # A socket opened with the login cookie alone (what a page of another origin could do) may not act.
    cookie_only = socketio.test_client(app, flask_test_client=c)
    r = cookie_only.emit("window_action", {"window_id": "w01", "action": "call-next"}, callback=True)
    assert r["error"]["code"] == "csrf_failed"
    staff = socketio.test_client(app, flask_test_client=c, auth={"csrf_token": token})
    r = staff.emit("window_action", {"window_id": "w01", "action": "call-next"}, callback=True)
    assert r["ok"] and r["ticket"]["number"] == "A001"
    r = staff.emit("window_action", {"window_id": "w02", "action": "call-next"}, callback=True)
    assert r["error"]["code"] == "wrong_window"


def test_an_agent_cannot_claim_another_window(app):
    """Finding 4d: the kiosk-1 token claimed w02 in agent_hello and then heard w02's rating requests. The window
    comes from devices.toml: window-1 serves w01, kiosk-1 none."""
    ctx = app.extensions["onewindow"]
    kiosk = socketio.test_client(app, auth={"token": staff_service.add_device_token(ctx.engine, ctx.now(), "kiosk-1")})
    r = kiosk.emit("agent_hello", {"station": "kiosk-1", "window_id": "w02"}, callback=True)
    assert r["ok"] is False and r["error"]["code"] == "wrong_window"
    window = socketio.test_client(app, auth={"token": staff_service.add_device_token(ctx.engine, ctx.now(),
                                                                                      "window-1")})
    r = window.emit("agent_hello", {"station": "window-1", "window_id": "w02"}, callback=True)
    assert r["ok"] is False and r["error"]["code"] == "wrong_window"
    r = window.emit("agent_hello", {"station": "window-1"}, callback=True)
    assert r["ok"] and r["window_id"] == "w01" and "window:w01" in r["rooms"]
    assert kiosk.emit("agent_hello", {"station": "kiosk-1"}, callback=True)["rooms"] == ["station:kiosk-1"]
