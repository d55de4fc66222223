"""An ID card read at a window's own reader fills that window's intake form: whole for its clerk, once, and
nowhere else (not in events, not for another window, not from a kiosk's reader)."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from werkzeug.security import generate_password_hash

from queue_server.app import create_app
from queue_server.extensions import socketio
from queue_server.services import staff as staff_service
from queue_server.settings import Settings

PASSWORD = "correct-horse-1"
ID, NAME = "11010519491231002X", "王小娜"
DEVICES = """
sim_runtime_file = "sim-hall.json"
[stations.kiosk-1]
role = "kiosk"
idcard = { url = "sim://" }
[stations.window-1]
role = "window"
window_id = "w01"
idcard = { url = "sim://" }
evaluator = { url = "sim://" }
[stations.window-2]
role = "window"
window_id = "w02"
led = { url = "sim://", address = 2 }
"""


@pytest.fixture
def app(tmp_path):
    devices = tmp_path / "devices.toml"
    devices.write_text(DEVICES, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(staff_service, "generate_password_hash",
                   functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
        app = create_app(Settings(database=str(tmp_path / "w.db"), devices_path=str(devices), always_open=True,
                                  background_tasks=False, testing=True, sqlite_synchronous="OFF",
                                  clock_start=datetime(2026, 11, 26, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))))
        ctx = app.extensions["onewindow"]
        for name, windows in (("clerk", ["w01"]), ("clerk2", ["w02"])):
            staff_service.add_user(ctx.engine, ctx.now(), name, name, PASSWORD, ["window_staff"], windows)
        yield app


def login(app, who):
    c = app.test_client()
    token = c.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD}).get_json()["csrf_token"]
    return lambda path: c.post(f"/api/v1{path}", json={}, headers={"X-CSRF-Token": token})


def read_card(app, station, input_id):
    ctx = app.extensions["onewindow"]
    agent = socketio.test_client(app, auth={"token": staff_service.add_device_token(ctx.engine, ctx.now(), station)})
    r = agent.emit("device_input", {"station": station, "device": "idcard", "input_id": input_id,
                                    "kind": "card_read", "data": {"id_number": ID, "name": NAME}}, callback=True)
    assert r["ok"], r
    return r


def test_the_windows_clerk_takes_the_card_just_read_once(app):
    reply = read_card(app, "window-1", "w-1")
    assert NAME not in json.dumps(reply, ensure_ascii=False) and ID not in json.dumps(reply)
    clerk = login(app, "clerk")
    r = clerk("/windows/w01/card-read")
    assert r.status_code == 200
    card = r.get_json()["card"]
    assert (card["name"], card["id_number"], card["name_masked"]) == (NAME, ID, "王*娜")
    again = clerk("/windows/w01/card-read")
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "no_card_read"
    # nothing whole stays in the store or went into the event log
    ctx = app.extensions["onewindow"]
    with ctx.engine.connect() as conn:
        stored = json.dumps([list(r) for r in conn.exec_driver_sql("SELECT * FROM device_inputs")],
                            ensure_ascii=False, default=str)
        logged = json.dumps([list(r) for r in conn.exec_driver_sql("SELECT payload FROM events")],
                            ensure_ascii=False, default=str)
    assert NAME not in stored and ID not in stored and NAME not in logged and ID not in logged


def test_another_window_a_kiosk_reader_and_an_old_read_give_nothing(app):
    read_card(app, "window-1", "w-2")
    other = login(app, "clerk2")
    assert other("/windows/w01/card-read").status_code == 403  # another window's clerk
    assert other("/windows/w02/card-read").get_json()["error"]["code"] == "no_card_reader"
    read_card(app, "kiosk-1", "k-1")  # a kiosk's reader keeps nothing whole
    ctx = app.extensions["onewindow"]
    with ctx.engine.connect() as conn:
        kiosk_row = conn.exec_driver_sql("SELECT data FROM device_inputs WHERE input_id = 'k-1'").scalar_one()
    assert ID not in str(kiosk_row)
    ctx.clock.advance(timedelta(minutes=3))  # type: ignore[attr-defined]
    late = login(app, "clerk")("/windows/w01/card-read")
    assert late.status_code == 404 and late.get_json()["error"]["code"] == "no_card_read"


def test_a_new_read_replaces_the_last_one(app):
    read_card(app, "window-1", "w-3")
    read_card(app, "window-1", "w-4")
    ctx = app.extensions["onewindow"]
    with ctx.engine.connect() as conn:
        whole = [r[0] for r in conn.exec_driver_sql("SELECT input_id FROM device_inputs WHERE data LIKE '%whole%'")]
    assert whole == ["w-4"]
