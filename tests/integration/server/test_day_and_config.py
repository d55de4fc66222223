"""The service day: roll-over on restart the next morning, business hours; and `onewindow check-config`."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest_server import TEST_HALL_YAML, Api, Screen, ServerFactory, write_hall
from tests.support.server import ONEWINDOW, free_port


@pytest.mark.timeout(90)
def test_day_rollover_and_business_hours(servers: ServerFactory, hall_yaml: Path, tmp_path: Path) -> None:
    db = tmp_path / "hall.db"
    # Thursday afternoon
    srv = servers.start(database=str(db), config=hall_yaml, clock="2026-11-26T16:00")
    api = Api(srv.api)
    old = [api.issue("qa"), api.issue("qa"), api.issue("qa"), api.issue("qb"), api.issue("solo")]
    assert [t["number"] for t in old] == ["A001", "A002", "A003", "B001", "C001"]
    api.post("/windows/w01/call-next")
    api.post("/windows/w01/start")
    api.post("/windows/w02/call-next")
    api.post("/windows/w03/call-next")
    api.post("/windows/w03/hold")
    api.post("/windows/w09/call-next")
    api.post("/windows/w09/start")
    api.post("/windows/w09/finish")  # C001 is done: it stays done
    states = {t["id"]: api.get(f"/tickets/{t['id']}")["ticket"]["status"] for t in old}
    assert sorted(states.values()) == ["called", "done", "held", "serving", "waiting"], states
    head = api.head_seq()
    srv.stop()

    # Friday morning, same database
    srv = servers.restart(srv, clock="2026-11-27T09:30")
    api = Api(srv.api)
    assert api.get("/health")["service_day"] == "2026-11-27"
    for t in old:
        now = api.get(f"/tickets/{t['id']}")["ticket"]
        assert now["status"] == ("done" if states[t["id"]] == "done" else "closed"), (t["number"], now)
        assert now["service_day"] == "2026-11-26"
    with sqlite3.connect(db) as conn:
        reasons = dict(conn.execute("SELECT id, close_reason FROM tickets WHERE service_day = '2026-11-26' "
                                    "AND status = 'closed'").fetchall())
        closes = conn.execute("SELECT ticket_id, actor, detail FROM ticket_transitions WHERE action = 'close'"
                              ).fetchall()
    assert len(reasons) == 4 and all(r and len(r) > 5 for r in reasons.values()), reasons
    assert sorted(c[0] for c in closes) == sorted(reasons) and all(c[1].startswith("system:") for c in closes)
    events = api.get(f"/events?since={head}")["events"]
    rolled = [e for e in events if e["type"] == "day_rolled_over"]
    assert len(rolled) == 1, events
    assert rolled[0]["payload"]["previous"] == "2026-11-26" and rolled[0]["payload"]["service_day"] == "2026-11-27"
    assert rolled[0]["payload"]["closed_tickets"] == 4
    windows = {w["window_id"]: w for w in api.get("/windows")["windows"]}
    assert all(w["status"] == "closed" and w["current"] is None for w in windows.values())
    assert api.get("/windows/w03/held")["tickets"] == []
    assert all(q["waiting"] == 0 for q in api.get("/queues")["queues"])
    # today's numbering starts again at 001, and yesterday's waiting ticket is never called
    fresh = [api.issue("qa"), api.issue("qb")]
    assert [(t["number"], t["service_day"]) for t in fresh] == [("A001", "2026-11-27"), ("B001", "2026-11-27")]
    called = api.post("/windows/w01/call-next")["ticket"]
    assert called["id"] == fresh[0]["id"]
    called_b = api.post("/windows/w02/call-next")["ticket"]
    assert called_b["id"] == fresh[1]["id"]
    assert api.post("/windows/w03/call-next")["ticket"] is None
    srv.stop()

    # Friday 13:00, the midday break, without --always-open: issuing refused with the next opening time
    srv = servers.restart(srv, clock="2026-11-27T13:00")
    api = Api(srv.api)
    status, body = api.request("POST", "/tickets", json={"queue_id": "qa"})
    assert status == 409 and body["error"]["code"] == "closed", body
    assert body["error"]["details"]["next_open"] == "2026-11-27T14:30:00+08:00", body
    assert "14:30" in body["error"]["message"]
    kiosk = Screen(srv.url, "kiosk").connect()
    try:
        reply = kiosk.call("issue_ticket", {"queue_id": "qb"})
        assert reply["ok"] is False and reply["status"] == 409 and reply["error"]["code"] == "closed"
    finally:
        kiosk.drop()
    # same service day: the restart rolled nothing over
    assert api.get(f"/tickets/{called['id']}")["ticket"]["status"] == "called"
    srv.stop()

    # Saturday: closed all day, next opening Monday morning; Friday's open tickets are closed
    srv = servers.restart(srv, clock="2026-11-28T10:00")
    api = Api(srv.api)
    status, body = api.request("POST", "/tickets", json={"queue_id": "qa"})
    assert status == 409 and body["error"]["code"] == "closed", body
    assert body["error"]["details"]["next_open"] == "2026-11-30T09:00:00+08:00", body
    assert api.get(f"/tickets/{called['id']}")["ticket"]["status"] == "closed"


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ONEWINDOW), "check-config", str(path)], capture_output=True, text=True, timeout=60)


def _broken(tmp_path: Path, name: str, *edits: str) -> Path:
    """The test hall with some edits applied: 'unknown_queue', 'bad_prefix', 'missing_zone'."""
    text = TEST_HALL_YAML.format(hall_id="brokenhall")
    replacements = {
        "unknown_queue": ("{id: w02, number: 2, name: {zh: 2号窗口}, zone: zmain, queues: [{queue: qa}",
                          "{id: w02, number: 2, name: {zh: 2号窗口}, zone: zmain, queues: [{queue: qz}"),
        "bad_prefix": ("{id: qb, prefix: B,", "{id: qb, prefix: b2,"),
        "missing_zone": ("{id: solo, prefix: C, name: {zh: 丙类}, zone: zsolo}", "{id: solo, prefix: C, name: {zh: 丙类}}"),
    }
    for e in edits:
        old, new = replacements[e]
        assert old in text, e
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _assert_user_error(out: subprocess.CompletedProcess[str]) -> str:
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "Traceback" not in text and 'File "' not in text, text
    return text


@pytest.mark.timeout(60)
def test_check_config_names_each_error(tmp_path: Path) -> None:
    good = _check(write_hall(tmp_path))
    assert good.returncode == 0 and "OK" in good.stdout, good

    text = _assert_user_error(_check(_broken(tmp_path, "a.yaml", "unknown_queue")))
    line = next(x for x in text.splitlines() if "qz" in x)
    assert "w02" in line and "qa" in line, f"names the window, the bad queue and the allowed ones: {line}"
    text = _assert_user_error(_check(_broken(tmp_path, "b.yaml", "bad_prefix")))
    assert 'id "qb"' in text and "prefix" in text and "b2" in text, text
    text = _assert_user_error(_check(_broken(tmp_path, "c.yaml", "missing_zone")))
    assert 'id "solo"' in text and "zone" in text and "missing" in text, text

    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("hall:\n  id: x\n  name: {zh: [unclosed\nqueues:\n  - a\n", encoding="utf-8")
    text = _assert_user_error(_check(syntax))
    assert "syntax.yaml" in text and "YAML syntax error" in text and "line" in text, text
    missing = _assert_user_error(_check(tmp_path / "nope.yaml"))
    assert "not found" in missing

    # serve refuses a broken file before listening, with the same report
    port = free_port()
    out = subprocess.run([str(ONEWINDOW), "serve", "--port", str(port), "--config",
                          str(_broken(tmp_path, "d.yaml", "bad_prefix")), "--database", str(tmp_path / "x.db")],
                         capture_output=True, text=True, timeout=60)
    text = _assert_user_error(out)
    assert 'id "qb"' in text and "prefix" in text, text


@pytest.mark.timeout(60)
def test_check_config_reports_every_error_at_once(tmp_path: Path) -> None:
    out = _check(_broken(tmp_path, "all.yaml", "unknown_queue", "bad_prefix", "missing_zone"))
    text = _assert_user_error(out)
    assert 'id "qb"' in text and "b2" in text, text
    assert 'id "solo"' in text and "missing" in text, text
    assert "w02" in text and "qz" in text, text
    assert text.count("\n  - ") >= 3, text
