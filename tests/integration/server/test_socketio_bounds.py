"""Socket.IO payloads at the edge, against a live server on SQLite and PostgreSQL: a non-object issue_ticket,
an object-valued or 5,000-character idempotency key, a cursor past int4 — each a clear 422, never a 500, and no
traceback in the server's log (it was 119 tracebacks in one generated run, and a 500 on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest_server import Screen, ServerFactory, ServerProcess, fresh_pg_database, write_hall


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def srv(request: pytest.FixtureRequest, servers: ServerFactory) -> Iterator[ServerProcess]:
    hall = write_hall(servers.directory)
    if request.param == "sqlite":
        yield servers.start(database=str(servers.directory / "s.db"), config=hall, always_open=True)
    else:
        with fresh_pg_database() as url:
            env = {"ONEWINDOW_SECRET_KEY": "k" * 32, "ONEWINDOW_PERSON_SECRET": "p" * 32}
            yield servers.start(database=url, config=hall, always_open=True, env=env)
            servers.stop_all()


@pytest.mark.timeout(120)
def test_bad_issue_ticket_payloads_are_422(srv: ServerProcess) -> None:
    kiosk = Screen(srv.url, "kiosk").connect()
    try:
        for bad in ("a string", [1, 2], 7, {"queue_id": "qa", "idempotency_key": {"a": 1}},
                    {"queue_id": "qa", "idempotency_key": "k" * 5000}, {"queue_id": "q" * 5000}):
            reply = kiosk.call("issue_ticket", bad)
            assert reply["ok"] is False and reply["status"] == 422, (bad if not isinstance(bad, dict) else "dict",
                                                                     reply)
        ok = kiosk.call("issue_ticket", {"queue_id": "qa", "idempotency_key": "k" * 100})
        again = kiosk.call("issue_ticket", {"queue_id": "qa", "idempotency_key": "k" * 100})
        assert ok["ok"] and again["ok"] and ok["ticket"]["id"] == again["ticket"]["id"], (ok, again)
        for since in (2**31, 2**63, -1):
            reply = kiosk.call("subscribe", {"hall": True, "since": since})
            assert reply["ok"] is False and reply["status"] == 422, reply
    finally:
        kiosk.drop()
    log = srv.log_text()
    assert "Traceback" not in log and "internal_error" not in log, log[-3000:]
