"""Who may open the supervisor's and technician's pages and act there (in-process app, real policy)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from queue_server.app import create_app
from queue_server.services import staff as staff_service
from queue_server.settings import Settings

PASSWORD = "correct-horse-1"


@pytest.fixture
def app(tmp_path):  # type: ignore[no-untyped-def]
    app = create_app(Settings(database=str(tmp_path / "a.db"), auth_required=True, always_open=True,
                              background_tasks=False, testing=True))
    ctx = app.extensions["onewindow"]
    for user, roles, windows in [("li.na", ["window_staff"], ["w01"]), ("boss", ["supervisor"], []),
                                 ("tech", ["technician"], []), ("root", ["admin"], [])]:
        staff_service.add_user(ctx.engine, ctx.now(), user, user, PASSWORD, roles, windows)
    return app


def client(app, user: str | None):  # type: ignore[no-untyped-def]
    c = app.test_client()
    if user:
        r = c.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
        c.environ_base["HTTP_X_CSRF_TOKEN"] = r.get_json()["csrf_token"]
    return c


def test_pages_by_role(app) -> None:  # type: ignore[no-untyped-def]
    anon, clerk, boss, tech = (client(app, u) for u in (None, "li.na", "boss", "tech"))
    r = anon.get("/staff/overview")
    assert r.status_code == 302 and "/staff/login" in r.headers["Location"]
    assert clerk.get("/staff/overview/data").status_code == 403
    assert clerk.get("/staff/devices/data").status_code == 403
    assert clerk.get("/staff/admin/data").status_code == 403
    assert tech.get("/staff/devices/data").status_code == 200
    assert tech.get("/staff/reports/data").status_code == 403
    for url in ("/staff/overview/data", "/staff/reports/data?period=week&by=window", "/staff/admin/data",
                "/staff/devices/data"):
        assert boss.get(url).status_code == 200, url


def test_admin_rules_match_the_cli_and_are_audited(app) -> None:  # type: ignore[no-untyped-def]
    boss, root = client(app, "boss"), client(app, "root")
    r = boss.post("/staff/admin/users", json={"username": "Bad Name", "display_name": "x", "roles": ["window_staff"]})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_username"  # the CLI's own rule
    r = boss.post("/staff/admin/users", json={"username": "zhou", "display_name": "周", "roles": ["window_staff"],
                                              "windows": ["w99"]})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_window"
    r = boss.post("/staff/admin/users", json={"username": "zhou", "display_name": "周", "roles": ["window_staff"],
                                              "windows": ["w02"]})
    assert r.status_code == 201 and len(r.get_json()["password"]) >= 8
    assert boss.post("/staff/admin/users/zhou/roles", json={"roles": ["admin"]}).status_code == 422
    assert boss.post("/staff/admin/users/root/state", json={"action": "disable"}).status_code == 422
    r = boss.post("/staff/admin/users/zhou/roles", json={"roles": ["approver"], "departments": ["no-such"]})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_department"
    dept = app.extensions["onewindow"].config.departments[0].id
    r = boss.post("/staff/admin/users/zhou/roles", json={"roles": ["approver"], "departments": [dept]})
    assert r.status_code == 200 and r.get_json()["staff"]["departments"] == [dept]
    assert root.post("/staff/admin/users/zhou/roles", json={"roles": ["admin"], "windows": []}).status_code == 200
    pw = boss.post("/staff/admin/users/li.na/state", json={"action": "reset_password"}).get_json()["password"]
    def login(password: str) -> int:
        return app.test_client().post("/api/v1/auth/login", json={"username": "li.na", "password": password}).status_code

    assert login(PASSWORD) == 401 and login(pw) == 200  # the old password is gone, the new one works
    # without the CSRF token a cookie request changes nothing
    bare = app.test_client()
    bare.post("/api/v1/auth/login", json={"username": "boss", "password": PASSWORD})
    assert bare.post("/staff/admin/users/li.na/state", json={"action": "disable"}).status_code == 403
    audit = boss.get("/staff/admin/data").get_json()["audit"]
    assert [(a["actor"], a["action"], a["target"]) for a in reversed(audit)] == [
        ("staff:boss", "add", "zhou"), ("staff:boss", "assign", "zhou"), ("staff:root", "assign", "zhou"),
        ("staff:boss", "reset_password", "li.na")]


def test_bad_report_parameters_are_clear_errors_and_exports_are_files(app) -> None:  # type: ignore[no-untyped-def]
    boss = client(app, "boss")
    for query, code in [("period=century", "bad_period"), ("period=range&start=2026-02-01", "bad_range"),
                        ("day=yesterday", "bad_date"), ("by=planet", "bad_group")]:
        r = boss.get(f"/staff/reports/data?{query}")
        assert r.status_code == 422 and r.get_json()["error"]["code"] == code, query
    r = boss.get("/staff/reports/export?format=csv")  # every table at once does not fit one CSV
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_table"
    r = boss.get("/staff/reports/export?format=xlsx&period=month")
    wb = load_workbook(io.BytesIO(r.data))
    assert r.status_code == 200 and {"每日取号与办结", "预约到场"} <= set(wb.sheetnames)
    r = boss.get("/staff/assessment/export?month=2026-11")
    assert r.status_code == 200 and r.data[:2] == b"PK"


def test_the_device_board_lists_the_stations_loaded_at_start(app) -> None:  # type: ignore[no-untyped-def]
    """Every station of the devices file the server started with, with its role, description and device kinds,
    even before any agent has reported (taken from the loaded configuration, not re-read per request)."""
    board = client(app, "tech").get("/staff/devices/data").get_json()
    by_name = {s["station"]: s for s in board["stations"]}
    configured = app.extensions["onewindow"].stations
    assert set(by_name) == set(configured)
    kiosk = by_name["kiosk-1"]
    assert kiosk["role"] == "kiosk" and kiosk["description"] == "self-service kiosk 1, entrance hall"
    assert [d["device"] for d in kiosk["devices"]] == ["camera", "idcard", "printer", "scanner"]
    assert {d["status"] for d in kiosk["devices"]} == {"unknown"}
    assert by_name["window-1"]["role"] == "window"
