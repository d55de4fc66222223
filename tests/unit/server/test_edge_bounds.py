"""Bounds at the edge, on SQLite AND PostgreSQL: every id and cursor a request can carry is refused with a clear
404/400/422 when the database could not hold it (it used to be a 500: OverflowError on SQLite past 2**63,
NumericValueOutOfRange on PostgreSQL past 2**31), and string lengths are the same on both databases."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from pydantic import ValidationError

from queue_server.api.bounds import INT4_MAX
from queue_server.api.openapi import OPERATIONS
from queue_server.api.schemas import IssueTicketMessage
from queue_server.app import create_app
from queue_server.settings import Settings
from tests.conftest_server import fresh_pg_database

HUGE = [2**31, 2**63, 10**30]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    """auth_required=False: no login stands between the request and the database, so every bound is reached."""
    def build(database: str) -> Flask:
        return create_app(Settings(database=database, auth_required=False, always_open=True, background_tasks=False,
                                   testing=True, secret_key="k", person_secret=secrets.token_bytes(8)))
    if request.param == "sqlite":
        built = build(str(tmp_path / "a.db"))
        yield built
        built.extensions["onewindow"].engine.dispose()
    else:
        with fresh_pg_database() as url:
            built = build(url)
            yield built
            built.extensions["onewindow"].engine.dispose()


def _id_rules(app: Flask) -> list[tuple[str, str, str]]:
    """(rule, method, argument) for every rule with a bounded integer id."""
    out = []
    for rule in app.url_map.iter_rules():
        ids = [n for n, conv in rule._converters.items() if type(conv).__name__ == "IdConverter"]
        if ids:
            out.append((rule.rule, "POST" if "POST" in (rule.methods or ()) else "GET", ids[0]))
    return out


def _error(r: Any) -> tuple[int, str]:
    body = r.get_json()
    assert body and "error" in body, (r.status_code, r.get_data(as_text=True)[:200])
    return r.status_code, body["error"]["code"]


def test_every_integer_id_in_a_url_is_bounded(app: Flask) -> None:
    rules = _id_rules(app)
    # The API, the back-office pages: every rule with an integer id uses the bounded converter.
    assert {"/api/v1/tickets/<id:ticket_id>", "/api/v1/cases/<id:case_id>/accept",
            "/api/v1/notices/<id:notice_id>", "/api/v1/followups/<id:followup_id>",
            "/staff/cases/<id:case_id>"} <= {r for r, _m, _n in rules}
    assert not [r for r in app.url_map.iter_rules() if "<int:" in r.rule]
    c = app.test_client()
    for rule, method, name in rules:
        for value in [*HUGE, 0]:
            url = rule.replace(f"<id:{name}>", str(value))
            r = c.open(url, method=method, json={} if method == "POST" else None)
            if not rule.startswith("/api/"):  # a staff page answers with a page of its own
                assert r.status_code == 404, (url, r.status_code)
                continue
            assert _error(r) == (404, "not_found"), (url, r.get_json())
            assert "2147483647" in r.get_json()["error"]["message"]
        # The largest id both databases hold is looked up normally: some 4xx, never a 500.
        url = rule.replace(f"<id:{name}>", str(INT4_MAX))
        r = c.open(url, method=method, json={} if method == "POST" else None)
        assert 400 <= r.status_code < 500, (url, r.status_code, r.get_data(as_text=True)[:200])


@pytest.mark.parametrize("url", ["/api/v1/events?since={}", "/api/v1/kiosk/alerts?since={}",
                                 "/api/v1/windows/w01/waiting?limit={}"])
def test_cursors_out_of_range_are_400(app: Flask, url: str) -> None:
    c = app.test_client()
    for bad in [*HUGE, -1, -(2**63) - 1, "٣", " 7", "1_0", "1e3"]:
        status, code = _error(c.get(url.format(bad)))
        assert (status, code) == (400, "bad_parameter"), (url, bad)
    assert c.get(url.format(1)).status_code == 200


def test_ids_in_bodies_are_bounded(app: Flask) -> None:
    c = app.test_client()
    for path, field in [("/api/v1/windows/w01/call", "ticket_id"), ("/api/v1/windows/w01/call-back", "ticket_id"),
                        ("/api/v1/windows/w01/transfer", "ticket_id")]:
        for value in HUGE:
            r = c.post(path, json={field: value})
            status, code = _error(r)
            assert (status, code) == (422, "invalid_request"), (path, value, r.get_json())
            assert r.get_json()["error"]["details"][0]["field"] == field
        r = c.post(path, json={field: INT4_MAX})
        assert 400 <= r.status_code < 500, (path, r.get_json())
    r = c.post("/api/v1/kiosk/print-failed", json={"station": "kiosk-1", "ticket_id": 2**63})
    assert _error(r) == (422, "invalid_request")


def _fill(schema: dict[str, Any], defs: dict[str, Any], text: str, number: int) -> dict[str, Any]:
    """A body with every string field set to ``text`` and every integer field to ``number``."""
    out: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf", [prop])
        types = {o.get("type") for o in options}
        if "string" in types and "format" not in options[0] and "enum" not in options[0] \
                and "const" not in options[0]:
            out[name] = text
        elif "integer" in types:
            out[name] = number
        elif "array" in types:
            item = next(o for o in options if o.get("type") == "array").get("items", {})
            out[name] = [text] if item.get("type") == "string" else [number]
    return out


def test_long_strings_and_huge_numbers_in_every_body_never_reach_the_database_as_errors(app: Flask) -> None:
    """Every documented body, every string 5,000 characters and every integer 2**63: a 4xx on both databases."""
    c = app.test_client()
    doc = c.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    seen = 0
    for op in OPERATIONS:
        if op.body is None:
            continue
        schema = schemas[op.body.__name__]
        path = op.path
        for conv_name in ("ticket_id", "case_id", "notice_id", "followup_id"):
            path = path.replace(f"<id:{conv_name}>", "1")
        path = path.replace("<window_id>", "w01").replace("<station>", "kiosk-1").replace("<username>", "li.na")
        path = path.replace("<token>", "t0k3n").replace("<code>", "ABC123")
        for text, number in (("x" * 5000, 2**63), ("x" * 5000, 1), ("1", 2**31)):
            r = c.open("/api/v1" + path, method=op.method.upper(), json=_fill(schema, schemas, text, number))
            assert r.status_code < 500, (op.method, path, r.status_code, r.get_data(as_text=True)[:300])
            seen += 1
    assert seen > 60


def test_idempotency_key_is_bounded_on_rest_and_socketio_alike(app: Flask) -> None:
    c = app.test_client()
    queue = app.extensions["onewindow"].config.queues[0].id
    r = c.post("/api/v1/tickets", json={"queue_id": queue}, headers={"Idempotency-Key": "k" * 101})
    assert _error(r) == (400, "bad_idempotency_key")
    r = c.post("/api/v1/tickets", json={"queue_id": queue}, headers={"Idempotency-Key": "k" * 100})
    assert r.status_code == 201
    # The Socket.IO payload model: the same bound, and a non-object payload is a validation error, not a 500.
    assert IssueTicketMessage.model_validate({"queue_id": queue, "idempotency_key": "k" * 100}).idempotency_key
    for bad in ({"queue_id": queue, "idempotency_key": "k" * 5000}, {"idempotency_key": {"a": 1}}, "a string",
                [1, 2], 7, {"queue_id": "x" * 41}):
        with pytest.raises(ValidationError):
            IssueTicketMessage.model_validate(bad)


def test_405_carries_allow_and_a_json_body(app: Flask) -> None:
    c = app.test_client()
    r = c.delete("/api/v1/tickets")
    assert _error(r) == (405, "method_not_allowed")
    assert "POST" in {m.strip() for m in r.headers["Allow"].split(",")}
    r = c.put("/api/v1/tickets/1")
    assert r.status_code == 405 and {"GET", "HEAD"} <= {m.strip() for m in r.headers["Allow"].split(",")}
