"""One error table: domain/service/store errors carry a code only, the edge maps code -> status for REST and
Socket.IO alike, and an unexpected exception is a logged 500 (never disguised as 503)."""

from __future__ import annotations

import importlib
import logging
import pkgutil

import pytest
from pydantic import BaseModel, ValidationError

import queue_server
from queue_server.api.errors import STATUS_BY_CODE, ApiError, error_reply, status_for
from queue_server.domain.errors import CalendarUnknown, DomainError, InvalidInput, NotFound
from queue_server.store.db import HallBusy, StorageUnavailable


def _all_error_classes() -> list[type[DomainError]]:
    for mod in pkgutil.walk_packages(queue_server.__path__, "queue_server."):
        if ".migrations" not in mod.name:
            importlib.import_module(mod.name)
    found, todo = [], [DomainError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_no_error_class_below_the_edge_carries_an_http_status_and_every_code_is_in_the_table() -> None:
    classes = _all_error_classes()
    assert len(classes) >= 15
    for cls in classes:
        assert "status" not in vars(cls), f"{cls.__module__}.{cls.__name__} carries an HTTP status"
        assert cls.code in STATUS_BY_CODE, f"{cls.__module__}.{cls.__name__}: code {cls.code!r} not in the table"


@pytest.mark.parametrize(("exc", "status"), [
    (NotFound("ticket 7 does not exist", code="ticket_not_found"), 404),  # a specific code takes its class's
    (InvalidInput("bad", code="bad_station"), 422),
    (HallBusy("busy"), 503),
    (StorageUnavailable("disk_full", "full"), 503),
    (CalendarUnknown("no 2027", details={"year": 2027}), 409),
    (DomainError("conflict"), 409),
])
def test_status_comes_from_the_table(exc: DomainError, status: int) -> None:
    assert status_for(exc) == status
    got, body = error_reply(exc)
    assert got == status and body["error"]["code"] == exc.code


def test_calendar_missing_is_not_a_retry() -> None:
    status, body = error_reply(CalendarUnknown("no holiday calendar for 2027: add ... config/calendar.yaml"))
    assert status == 409 and body["error"]["code"] == "calendar_missing"
    assert "config/calendar.yaml" in body["error"]["message"]


def test_hints_with_urls_are_added_by_the_edge_only() -> None:
    _, body = error_reply(NotFound("queue 'zz' does not exist", code="queue_not_found"))
    assert body["error"]["message"] == "queue 'zz' does not exist; see GET /api/v1/queues"


def test_validation_and_edge_errors(caplog: pytest.LogCaptureFixture) -> None:
    class M(BaseModel):
        n: int

    with pytest.raises(ValidationError) as v:
        M.model_validate({"n": "x"})
    status, body = error_reply(v.value)
    assert status == 422 and body["error"]["details"][0]["field"] == "n"
    assert error_reply(ApiError(415, "unsupported_media_type", "send JSON"))[0] == 415


def test_an_unexpected_exception_is_a_logged_500_not_a_503(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="onewindow.api"):
        status, body = error_reply(KeyError("boom"))
    assert status == 500 and body["error"]["code"] == "internal_error"
    assert any(r.exc_info and isinstance(r.exc_info[1], KeyError) for r in caplog.records)


def test_database_errors_are_classified_not_500() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    def op(message: str) -> OperationalError:
        return OperationalError("INSERT ...", {}, sqlite3.OperationalError(message))

    assert error_reply(op("database is locked"))[0] == 503
    assert error_reply(op("database is locked"))[1]["error"]["code"] == "busy"
    for message, problem in (("attempt to write a readonly database", "read_only"),
                             ("database or disk is full", "disk_full"), ("disk I/O error", "io_error")):
        status, body = error_reply(op(message))
        assert (status, body["error"]["code"], body["error"]["details"]["problem"]) == \
            (503, "storage_unavailable", problem)
    assert error_reply(op("no such table: tickets"))[0] == 500  # a bug, not a fault to wait out


def test_staff_pages_map_refusals_through_the_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The staff pages render refusals as pages; their status comes from the table too (no 500 for want of a
    status attribute on the error)."""
    from queue_server.app import create_app
    from queue_server.services import staff as staff_service
    from queue_server.settings import Settings

    app = create_app(Settings(database=str(tmp_path / "a.db"), background_tasks=False, testing=True))
    ctx = app.extensions["onewindow"]
    staff_service.add_user(ctx.engine, ctx.now(), "clerk", "李娜", "correct-horse-1", ["window_staff"], ["w01"])
    c = app.test_client()
    for path in ("/staff/overview", "/staff/devices"):
        r = c.get(path)
        assert r.status_code in (302, 401), (path, r.status_code)
    assert c.post("/api/v1/auth/login", json={"username": "clerk", "password": "correct-horse-1"}).status_code == 200
    for path in ("/staff/overview", "/staff/devices"):  # supervisor/technician pages, refused to a clerk
        r = c.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert "<html" in r.get_data(as_text=True).lower()
