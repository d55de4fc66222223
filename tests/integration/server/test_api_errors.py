"""The REST API's errors against a live server: always JSON {"error": {"code", "message"}}, never HTML, with
the right status; idempotent issuing; and the OpenAPI document."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest_server import Api, Screen, ServerFactory, ServerProcess, write_hall
from tests.support.server import REPO

JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def shared_server(module_servers: ServerFactory) -> ServerProcess:
    hall = write_hall(module_servers.directory)
    return module_servers.start(database=str(module_servers.directory / "hall.db"), config=hall)


@pytest.fixture
def srv(shared_server: ServerProcess, module_servers: ServerFactory, request: pytest.FixtureRequest) -> ServerProcess:
    """One server for the module (the tests use different queues), its log attached to a failed test."""
    request.node._ow_servers = module_servers
    return shared_server


def _raw(srv: ServerProcess, method: str, path: str, data: str | bytes | None = None,
         headers: dict[str, str] | None = None, login: bool = True) -> requests.Response:
    """A raw request (any bytes as the body); by default as the logged-in tester, so the check is the body's."""
    session = requests.Session()
    if login:
        api = Api(srv.api)
        api._login()
        session = api.session
    return session.request(method, srv.api + path, data=data, headers={**JSON_HEADERS, **(headers or {})},
                           timeout=15)


def assert_error(r: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """A JSON error body of the documented shape, the expected status and (if given) code."""
    text = r.text
    assert "<html" not in text.lower() and "traceback" not in text.lower(), text[:300]
    assert r.headers.get("Content-Type", "").startswith("application/json"), (r.status_code, text[:300])
    body = r.json()
    assert r.status_code == status, (r.status_code, body)
    assert set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err.get("code"), str) and re.fullmatch(r"[a-z][a-z0-9_]*", err["code"]), err
    assert isinstance(err.get("message"), str) and len(err["message"]) >= 10, err
    if code is not None:
        assert err["code"] == code, err
    return err


@pytest.mark.timeout(60)
def test_malformed_and_mistyped_requests(srv: ServerProcess) -> None:
    assert_error(_raw(srv, "POST", "/tickets", '{"queue_id": '), 400, "bad_json")
    assert_error(_raw(srv, "POST", "/tickets", b"\xff\xfe{not json"), 400, "bad_json")
    assert_error(_raw(srv, "POST", "/tickets", "[1, 2]"), 400, "bad_json")
    assert_error(_raw(srv, "POST", "/windows/w01/call-next", "{,}"), 400, "bad_json")
    assert_error(_raw(srv, "POST", "/tickets", "queue_id=qa", {"Content-Type": "text/plain"}), 415)

    err = assert_error(_raw(srv, "POST", "/tickets", json.dumps(
        {"queue_id": 5, "green": "maybe", "birth_date": "26/11/1950", "colour": "red"})), 422, "invalid_request")
    fields = {d["field"]: d for d in err["details"]}
    assert set(fields) == {"queue_id", "green", "birth_date", "colour"}, err["details"]
    assert all(d["problem"] for d in err["details"])
    err = assert_error(_raw(srv, "POST", "/windows/w01/call", json.dumps({"ticket_id": "A001"})), 422)
    assert [d["field"] for d in err["details"]] == ["ticket_id"]
    err = assert_error(_raw(srv, "POST", "/windows/w01/hold", json.dumps({"reason": "x" * 101})), 422)
    assert [d["field"] for d in err["details"]] == ["reason"]
    assert_error(_raw(srv, "GET", "/events?since=yesterday"), 400, "bad_parameter")
    assert_error(_raw(srv, "POST", "/tickets", json.dumps({"queue_id": "qa"}), {"X-Actor": "root"}, login=False), 400,
                 "bad_actor")
    assert_error(_raw(srv, "POST", "/windows/w01/open", "{}", {"X-Actor": "staff:mallory"}, login=False), 401,
                 "not_logged_in")
    assert_error(_raw(srv, "POST", "/windows/w01/open", "{}", login=False), 401, "not_logged_in")
    assert_error(_raw(srv, "POST", "/tickets", json.dumps({"queue_id": "qa"}), {"Idempotency-Key": "k" * 101}),
                 400, "bad_idempotency_key")

    # the same over Socket.IO: an ack with ok false, the status and the same error body
    client = Screen(srv.url, "kiosk").connect()
    try:
        reply = client.call("issue_ticket", {"queue_id": ["qa"], "green": "maybe"})
        assert reply["ok"] is False and reply["status"] == 422 and reply["error"]["code"] == "invalid_request"
        assert {d["field"] for d in reply["error"]["details"]} == {"queue_id", "green"}
        reply = client.call("window_action", {"window_id": "w01", "action": "call-next"})
        assert reply["ok"] is False and reply["status"] == 401 and reply["error"]["code"] == "not_logged_in"
        panel = Screen(srv.url, "panel", actor="staff:tester").connect()
        try:
            reply = panel.call("window_action", {"window_id": "w99", "action": "call-next"})
            assert reply["ok"] is False and reply["status"] == 404 and reply["error"]["code"] == "window_not_found"
            reply = panel.call("window_action", {"window_id": "w01", "action": "dance"})
        finally:
            panel.drop()
        assert reply["ok"] is False and reply["status"] == 422 and "call-next" in reply["error"]["message"]
        reply = client.call("subscribe", {"zones": ["nowhere"]})
        assert reply["ok"] is False and reply["status"] == 404 and reply["error"]["code"] == "zone_not_found"
        reply = client.call("subscribe", {"since": -1})
        assert reply["ok"] is False and reply["status"] == 422
    finally:
        client.drop()


@pytest.mark.timeout(60)
def test_unknown_ids_and_impossible_transitions(srv: ServerProcess) -> None:
    api = Api(srv.api)
    assert_error(_raw(srv, "GET", "/tickets/999999"), 404, "ticket_not_found")
    assert_error(_raw(srv, "POST", "/tickets/999999/cancel", "{}"), 404, "ticket_not_found")
    assert_error(_raw(srv, "POST", "/windows/w99/call-next", "{}"), 404, "window_not_found")
    assert_error(_raw(srv, "GET", "/windows/w99/held"), 404, "window_not_found")
    assert_error(_raw(srv, "POST", "/tickets", json.dumps({"queue_id": "nope"})), 404, "queue_not_found")
    assert_error(_raw(srv, "POST", "/tickets", json.dumps({"item_id": "nope"})), 404, "item_not_found")
    assert_error(_raw(srv, "GET", "/track/no-such-token"), 404, "tracker_not_found")
    assert_error(_raw(srv, "GET", "/no/such/route"), 404)
    assert_error(_raw(srv, "GET", "/tickets/abc"), 404)
    assert_error(_raw(srv, "DELETE", "/tickets"), 405)
    # outside /api/v1 too: no HTML error pages
    r = requests.get(srv.url + "/no-such-page", timeout=10)
    assert r.status_code == 404 and "traceback" not in r.text.lower()

    # finish without a current ticket
    err = assert_error(_raw(srv, "POST", "/windows/w02/finish", "{}"), 409, "no_current_ticket")
    assert "window 2" in err["message"]
    t = api.issue("qa")
    api.issue("qa")
    assert api.post("/windows/w01/call-next")["ticket"]["id"] == t["id"]
    # call-next while the called visitor has not started
    assert_error(_raw(srv, "POST", "/windows/w01/call-next", "{}"), 409, "current_ticket_pending")
    # another window cannot call a ticket that is already called
    assert_error(_raw(srv, "POST", "/windows/w02/call", json.dumps({"ticket_id": t["id"]})), 409)
    # recall up to the limit (max_recalls: 2 in the test hall), then refused
    api.post("/windows/w01/recall")
    api.post("/windows/w01/recall")
    err = assert_error(_raw(srv, "POST", "/windows/w01/recall", "{}"), 409, "recall_limit")
    assert "2" in err["message"]
    # start twice
    api.post("/windows/w01/start")
    err = assert_error(_raw(srv, "POST", "/windows/w01/start", "{}"), 409, "invalid_transition")
    assert "serving" in err["message"] and err["details"]["allowed_actions"], err
    # cancel and re-queue what cannot be
    assert_error(_raw(srv, "POST", f"/tickets/{t['id']}/cancel", "{}"), 409, "invalid_transition")
    assert_error(_raw(srv, "POST", f"/tickets/{t['id']}/requeue", "{}"), 409, "invalid_transition")
    api.post("/windows/w01/finish")
    assert_error(_raw(srv, "POST", "/windows/w01/finish", "{}"), 409, "no_current_ticket")
    # a paused window calls nobody
    api.post("/windows/w03/open")
    api.post("/windows/w03/pause", {"reason": "会议"})
    assert_error(_raw(srv, "POST", "/windows/w03/call-next", "{}"), 409, "window_paused")
    assert_error(_raw(srv, "POST", "/windows/w03/pause", "{}"), 409, "window_not_open")
    assert_error(_raw(srv, "POST", "/windows/w02/resume", "{}"), 409, "window_not_paused")
    api.close()


@pytest.mark.timeout(60)
def test_idempotency_key(srv: ServerProcess) -> None:
    headers = {"Idempotency-Key": "kiosk-3:2026-11-26:0042"}
    body = json.dumps({"queue_id": "solo", "source": "kiosk-3"})
    first = _raw(srv, "POST", "/tickets", body, headers)
    assert first.status_code == 201 and first.json()["created"] is True
    number = first.json()["ticket"]["number"]
    again = _raw(srv, "POST", "/tickets", body, headers)
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False and again.json()["reason"] == "idempotent_replay"
    assert again.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    assert again.json()["ticket"]["number"] == number
    err = assert_error(_raw(srv, "POST", "/tickets", json.dumps({"queue_id": "qb", "source": "kiosk-3"}), headers),
                       409, "idempotency_key_reused")
    assert "Idempotency-Key" in err["message"]
    # the same key over Socket.IO is the same ticket too
    client = Screen(srv.url, "kiosk").connect()
    try:
        reply = client.call("issue_ticket", {"queue_id": "solo", "source": "kiosk-3",
                                             "idempotency_key": headers["Idempotency-Key"]})
        assert reply["ok"] and reply["created"] is False and reply["ticket"]["id"] == first.json()["ticket"]["id"]
    finally:
        client.drop()
    # exactly one ticket was made: the next one follows it
    nxt = Api(srv.api).issue("solo")
    assert nxt["number"] == f"C{int(number[1:]) + 1:03d}"


_ROUTES_SCRIPT = """
import json, sys
from queue_server.app import create_app
from queue_server.settings import Settings
app = create_app(Settings(database=sys.argv[1], config_path=sys.argv[2], background_tasks=False))
rules = [(r.rule, sorted(r.methods - {"HEAD", "OPTIONS"})) for r in app.url_map.iter_rules()
         if r.rule.startswith("/api/v1/")]
print(json.dumps(rules))
"""


def _app_routes(tmp_path: Path, hall_yaml: Path) -> set[tuple[str, str]]:
    """Every (path, method) the real application serves under /api/v1, in OpenAPI spelling."""
    out = subprocess.run([sys.executable, "-c", _ROUTES_SCRIPT, str(tmp_path / "routes.db"), str(hall_yaml)],
                         capture_output=True, text=True, timeout=60, cwd=REPO,
                         env={"ONEWINDOW_VAR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-3000:]
    routes = set()
    for rule, methods in json.loads(out.stdout.strip().splitlines()[-1]):
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.removeprefix("/api/v1"))
        routes |= {(path, m.lower()) for m in methods}
    return routes


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


@pytest.mark.timeout(60)
def test_openapi_document_is_valid_and_lists_every_route(srv: ServerProcess, tmp_path: Path,
                                                         hall_yaml: Path) -> None:
    doc = Api(srv.api).get("/openapi.json")
    try:  # the real validator when the venv has it
        from openapi_spec_validator import validate  # type: ignore[import-not-found]
    except ImportError:
        validate = None
    if validate is not None:
        validate(doc)
    assert re.fullmatch(r"3\.[01]\.\d+", doc["openapi"]), doc["openapi"]
    assert doc["info"]["title"] and doc["info"]["version"]
    schemas = doc.get("components", {}).get("schemas", {})
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    documented = set()
    methods = {"get", "post", "put", "patch", "delete"}
    for path, item in doc["paths"].items():
        assert path.startswith("/") and "<" not in path, path
        names = set(re.findall(r"{([^}]+)}", path))
        for method, op in item.items():
            assert method in methods, (path, method)
            documented.add((path, method))
            assert op["responses"] and all(re.fullmatch(r"[1-5]\d\d|default", c) for c in op["responses"]), path
            assert all(r.get("description") for r in op["responses"].values()), path
            params = op.get("parameters", [])
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == names, (path, method, declared)
            assert all(p["required"] for p in params if p["in"] == "path")
            assert all(p["in"] in ("path", "query", "header", "cookie") and "schema" in p for p in params)
            if "requestBody" in op:
                assert "application/json" in op["requestBody"]["content"], path
    routes = _app_routes(tmp_path, hall_yaml)
    assert routes - documented == set(), f"served but not documented: {sorted(routes - documented)}"
    assert documented - routes == set(), f"documented but not served: {sorted(documented - routes)}"


@pytest.mark.timeout(30)
def test_openapi_paths_resolve_on_the_server(srv: ServerProcess) -> None:
    doc = Api(srv.api).get("/openapi.json")
    base = (doc.get("servers") or [{"url": "/"}])[0]["url"].rstrip("/")
    r = requests.get(f"{srv.url}{base}/health", timeout=10)
    assert r.status_code == 200, f"GET {base}/health (as documented) -> {r.status_code}"
