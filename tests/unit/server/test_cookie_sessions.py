"""Verified-once cookie sessions: what Flask's own would accept and refuse, the same, however often a cookie
comes back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask, session

from queue_server import cookie_sessions
from queue_server.cookie_sessions import VerifiedCookieSessions


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-secret"
    app.session_interface = VerifiedCookieSessions()

    @app.post("/login/<name>")
    def login(name: str) -> dict:
        session["who"] = name
        session["roles"] = ["clerk"]
        return {}

    @app.get("/me")
    def me() -> dict:
        return {"who": session.get("who"), "roles": session.get("roles")}

    @app.post("/meddle")
    def meddle() -> dict:  # changes this request's session in place, and does not save it
        session["roles"].append("admin")
        session.modified = False
        return {}

    return app


def _cookie(client) -> str:  # type: ignore[no-untyped-def]
    c = client.get_cookie("session")
    assert c is not None
    return str(c.value)


def test_a_verified_cookie_is_remembered_and_each_request_gets_its_own_copy(app: Flask) -> None:
    client = app.test_client()
    client.post("/login/li")
    for _ in range(3):
        assert client.get("/me").json == {"who": "li", "roles": ["clerk"]}
        client.post("/meddle")
    assert len(app.session_interface._seen) == 1  # type: ignore[attr-defined]


def test_an_altered_cookie_is_refused_even_after_the_genuine_one_was_remembered(app: Flask) -> None:
    client = app.test_client()
    client.post("/login/li")
    genuine = _cookie(client)
    assert client.get("/me").json["who"] == "li"
    payload, _, rest = genuine.partition(".")
    other = app.test_client()
    other.post("/login/wang")
    for forged in (payload + "." + rest[:-2] + ("AA" if rest[-2:] != "AA" else "BB"),
                   _cookie(other).partition(".")[0] + "." + rest, "garbage"):
        intruder = app.test_client()
        intruder.set_cookie("session", forged)
        assert intruder.get("/me").json == {"who": None, "roles": None}
    assert genuine in app.session_interface._seen  # type: ignore[attr-defined]


def test_a_remembered_cookie_expires_with_its_signature(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    app.permanent_session_lifetime = timedelta(seconds=60)
    client = app.test_client()
    client.post("/login/li")
    assert client.get("/me").json["who"] == "li"  # remembered now
    real = cookie_sessions.time.time
    monkeypatch.setattr(cookie_sessions.time, "time", lambda: real() + 61)
    import itsdangerous.timed
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + 61)
    assert client.get("/me").json["who"] is None


def test_remembered_cookies_are_bounded(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cookie_sessions, "REMEMBERED", 3)
    clients = [app.test_client() for _ in range(5)]
    for i, client in enumerate(clients):
        client.post(f"/login/u{i}")
        client.get("/me")
    seen = app.session_interface._seen  # type: ignore[attr-defined]
    assert len(seen) == 3 and _cookie(clients[-1]) in seen and _cookie(clients[0]) not in seen
    assert clients[0].get("/me").json["who"] == "u0"  # verified again, not lost
