"""Storage faults: a database that cannot be written answers 503 storage_unavailable (never 500), tells staff
once (event ``storage_health`` + GET /health), records the fault and its end when writes work again; start-up on
a bad database is one line naming the problem, exit 2, no traceback.

How the faults are made, as root (file modes do not stop root): disk full with SQLite's ``PRAGMA
max_page_count`` (the real SQLITE_FULL path); read-only with ``PRAGMA query_only`` at run time and ``?mode=ro``
(and ``chattr +i`` where the filesystem allows it) at start — SQLITE_READONLY, the error an immutable file
gives; PostgreSQL down by refusing connections to the test database (ALLOW_CONNECTIONS false + terminating its
sessions)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from queue_server.app import create_app
from queue_server.settings import Settings
from tests.conftest_server import ONEWINDOW, PG_ADMIN_URL, fresh_pg_database


def _app(database: str) -> Flask:
    return create_app(Settings(database=database, auth_required=False, always_open=True, background_tasks=False,
                               testing=True, secret_key="k", person_secret=secrets.token_bytes(8)))


def _recording(app: Flask) -> list[dict[str, Any]]:
    ctx = app.extensions["onewindow"]
    seen: list[dict[str, Any]] = []
    original = ctx.publisher.publish
    ctx.publisher.publish = lambda evs: (seen.extend(evs), original(evs))  # type: ignore[method-assign]
    return seen


def _issue(client: Any, app: Flask) -> Any:
    return client.post("/api/v1/tickets", json={"queue_id": app.extensions["onewindow"].config.queues[0].id})


def _fault_then_recover(app: Flask, pragma: str, problem: str) -> None:
    ctx = app.extensions["onewindow"]
    c = app.test_client()
    seen = _recording(app)
    assert _issue(c, app).status_code == 201

    def fault(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.execute(pragma)

    event.listen(ctx.engine, "connect", fault)
    ctx.engine.dispose()  # every new connection has the fault
    # The pages the file already has (free ones, the WAL's) may hold a few more tickets before it is "full".
    before = 0
    while _issue(c, app).status_code == 201:
        before += 1
        assert before < 500, "the fault never showed"
    for _ in range(3):
        r = _issue(c, app)
        assert r.status_code == 503, r.get_json()
        err = r.get_json()["error"]
        assert err["code"] == "storage_unavailable" and err["details"]["problem"] == problem
        assert "staff have been alerted" in err["message"] and r.headers["Retry-After"]
    alerts = [e for e in seen if e["type"] == "storage_health"]
    assert len(alerts) == 1, alerts  # told once, not once per request
    assert alerts[0]["payload"]["status"] == "unavailable" and alerts[0]["payload"]["problem"] == problem
    health = c.get("/api/v1/health").get_json()["storage"]
    assert health["status"] == "unavailable" and health["problem"] == problem

    event.remove(ctx.engine, "connect", fault)
    ctx.engine.dispose()
    assert _issue(c, app).status_code == 201
    assert c.get("/api/v1/health").get_json()["storage"]["status"] == "ok"
    log = c.get(f"/api/v1/events?since=0&rooms=staff:{ctx.hall_id}").get_json()["events"]
    record = [e for e in log if e["type"] == "storage_health"]
    assert len(record) == 1 and record[0]["payload"]["problem"] == problem
    assert record[0]["payload"]["since"] and record[0]["payload"]["until"]


def test_disk_full_is_503_and_recovers(tmp_path: Path) -> None:
    app = _app(str(tmp_path / "a.db"))
    # No page beyond those the file has: the next insert that needs a page fails with SQLITE_FULL.
    with app.extensions["onewindow"].engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    _fault_then_recover(app, f"PRAGMA max_page_count = {pages}", "disk_full")


def test_read_only_database_is_503_and_recovers(tmp_path: Path) -> None:
    _fault_then_recover(_app(str(tmp_path / "a.db")), "PRAGMA query_only = 1", "read_only")


@pytest.mark.postgres
def test_postgres_down_is_503_and_recovers() -> None:
    import psycopg

    with fresh_pg_database() as url:
        app = _app(url)
        ctx = app.extensions["onewindow"]
        c = app.test_client()
        name = url.rsplit("/", 1)[1]
        assert _issue(c, app).status_code == 201
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            try:
                r = _issue(c, app)
                assert r.status_code == 503, r.get_json()
                assert r.get_json()["error"]["details"]["problem"] == "unreachable"
                assert c.get("/api/v1/tickets/1").status_code == 503  # reads too
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert _issue(c, app).status_code == 201
        ctx.engine.dispose()


@pytest.mark.postgres
def test_postgres_restart_costs_no_write() -> None:
    """Pooled connections are not pinged on every checkout: when the server drops them all (a restart), the next
    window action still succeeds (its first round trip finds the connection dead and retries on a fresh one), and
    so does everything after it, reads included."""
    import psycopg

    with fresh_pg_database() as url:
        app = _app(url)
        ctx = app.extensions["onewindow"]
        c = app.test_client()
        name = url.rsplit("/", 1)[1]
        assert _issue(c, app).status_code == 201
        window = ctx.config.windows[0].id
        assert c.post(f"/api/v1/windows/{window}/open").status_code == 200
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                                   (name,)).fetchone()
        assert killed and killed[0] >= 1
        r = c.post(f"/api/v1/windows/{window}/call-next")
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["ticket"] is not None
        assert c.get(f"/api/v1/tickets/{r.get_json()['ticket']['id']}").status_code == 200
        assert _issue(c, app).status_code == 201
        ctx.engine.dispose()


def _serve(database: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ONEWINDOW), "serve", "--async-mode", "threading", "--port", "0", "--database",
                           database], capture_output=True, text=True, timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL)


def _one_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("database error: cannot use the database"), lines
    for w in words:
        assert w in lines[0], lines


@pytest.fixture
def good_db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "good.db"
    _app(str(path)).extensions["onewindow"].engine.dispose()
    yield path
    subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_start_on_a_damaged_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database, it is a note left on the disk" * 10)
    _one_line(_serve(str(bad), tmp_path), "damaged", str(bad))


def test_start_on_a_read_only_database(tmp_path: Path, good_db: Path) -> None:
    _one_line(_serve(f"sqlite:///file:{good_db}?mode=ro&uri=true", tmp_path), "read-only")


def test_start_on_an_immutable_file(tmp_path: Path, good_db: Path) -> None:
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(good_db)]).returncode != 0:
        pytest.skip("chattr +i is not available on this filesystem (the ?mode=ro test covers SQLITE_READONLY)")
    _one_line(_serve(str(good_db), tmp_path), "read-only")


def test_start_with_postgres_down(tmp_path: Path) -> None:
    _one_line(_serve("postgresql://postgres@127.0.0.1:1/none", tmp_path), "cannot be reached")
