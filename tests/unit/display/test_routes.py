"""The screens' routes through Flask's test client (a real app on a temporary SQLite file)."""

from __future__ import annotations

import json
import re

import pytest

from queue_server.app import create_app
from queue_server.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory):  # type: ignore[no-untyped-def]
    db = tmp_path_factory.mktemp("display") / "x.db"
    app = create_app(Settings(database=str(db), always_open=True, background_tasks=False, testing=True,
                              secret_key="k", person_secret=b"p"))
    with app.test_client() as c:
        yield c


def _screen_data(html: str) -> dict:
    m = re.search(r'<script id="screen-data" type="application/json">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


def test_hall_page_is_self_contained(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/display/hall")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html  # no CDN: the hall has no internet
    assert "/display/static/live.js" in html
    assert "socket.io" not in html  # the public screens follow the live stream (a plain WebSocket), not Socket.IO
    data = _screen_data(html)
    assert data["site"] == "main"
    assert data["voice"] == {"languages": ["zh"], "repeat": 2, "base": "/display/voice/", "fallback": {}}
    assert data["hall"]["notice"]["zh"].startswith("欢迎来到合作市政务服务中心")


def test_hall_page_voice_options(client) -> None:  # type: ignore[no-untyped-def]
    voice = _screen_data(client.get("/display/hall?voice=zh,bo,xx&repeat=9").get_data(as_text=True))["voice"]
    # no Tibetan clips are recorded yet: Tibetan is announced in Chinese, and no Tibetan clip is ever requested
    assert voice["languages"] == ["zh"] and voice["fallback"] == {"bo": "zh"}
    voice = _screen_data(client.get("/display/hall?voice=bo,en").get_data(as_text=True))["voice"]
    assert voice["languages"] == ["zh", "en"] and voice["fallback"] == {"bo": "zh"}
    assert _screen_data(client.get("/display/hall?voice=off").get_data(as_text=True))["voice"]["languages"] == []
    assert client.get("/display/hall?site=nowhere").status_code == 404


def test_window_page(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/display/window/w03")
    assert r.status_code == 200
    data = _screen_data(r.get_data(as_text=True))
    assert data["window"]["number"] == 3 and data["window"]["staff"] is None
    assert client.get("/display/window/w999").status_code == 404


def test_tracker_unknown_token_is_404_and_private(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/t/not-a-token")
    assert r.status_code == 404
    assert r.headers["Referrer-Policy"] == "no-referrer" and r.headers["Cache-Control"] == "no-store"
    assert _screen_data(r.get_data(as_text=True))["token"] is None


def test_tracker_known_token(client) -> None:  # type: ignore[no-untyped-def]
    t = client.post("/api/v1/tickets", json={"queue_id": "comprehensive"}).get_json()["ticket"]
    r = client.get(f"/t/{t['tracker_token']}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert _screen_data(html)["token"] == t["tracker_token"]
    assert "tracker.js" in html
    markup = html.split('<script id="screen-data"')[0]  # the texts' JSON names statuses such as "cancelled"
    for action in ("cancel", "requeue", "call-next"):  # the page cannot act on the ticket
        assert action not in markup


def test_voice_clips_are_served(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/display/voice/zh/qing.wav")
    assert r.status_code == 200 and r.mimetype == "audio/wav" and r.data[:4] == b"RIFF"
    assert client.get("/display/voice/bo/A.wav").data == client.get("/display/voice/zh/A.wav").data  # reused
    assert client.get("/display/voice/bo/qing.wav").status_code == 404  # not recorded yet
    for bad in ("/display/voice/zh/..%2Fhall.wav", "/display/voice/xx/qing.wav", "/display/voice/zh/nope.wav"):
        assert client.get(bad).status_code == 404, bad
    status = client.get("/display/voice/").get_json()
    assert status["default"] == ["zh"] and status["languages"]["zh"]["missing"] == []
    assert client.get("/display/voice/zh/manifest.json").get_json()["clips"]["qing"]["text"] == "请"


def test_index_lists_screens(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/display/").get_data(as_text=True)
    assert "/display/hall?site=main" in html and "/display/window/w01" in html
