"""Role × action × object: every route and every Socket.IO event, called as every identity, answers as the
declared policy (queue_server/policy.py) says — refused (401/403, or a page's redirect to the login) exactly
where the policy refuses.

The expected answer comes from the policy table and the objects' owners (window w01 is clerk's, w02 clerk2's;
station window-1 serves w01; the case was taken at w01 in the education department); the actual answer from
the real app. Admitted calls may still fail for other reasons (an empty body is a 422, a missing object a 404):
only the refusal is compared. Counts of cells and disagreements are printed for SECURITY.md.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from werkzeug.security import generate_password_hash

from queue_server.app import create_app
from queue_server.extensions import socketio
from queue_server.policy import EVENTS, ROUTES, Caller, Scope
from queue_server.services import staff as staff_service
from queue_server.settings import Settings

PASSWORD = "correct-horse-1"
TZ = ZoneInfo("Asia/Shanghai")
ID = "11010519491231002X"

# name -> (roles, windows, departments); None for token and anonymous identities
STAFF = {
    "clerk": (["window_staff"], ["w01"], []),
    "clerk2": (["window_staff"], ["w02"], []),
    "approver": (["approver"], [], ["education"]),
    "approver2": (["approver"], [], ["civil-affairs"]),
    "supervisor": (["supervisor"], [], []),
    "technician": (["technician"], [], []),
    "admin": (["admin"], [], []),
}
TOKENS = {"kiosk": "kiosk-1", "device": "window-1"}  # identity -> its station (devices.toml: kiosk-1, window-1→w01)
IDENTITIES = ["anonymous", *TOKENS, *STAFF]


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # cheap hashes: this is about who may, not password storage
        mp.setattr(staff_service, "generate_password_hash",
                   functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
        db = tmp_path_factory.mktemp("matrix") / "m.db"
        app = create_app(Settings(database=str(db), auth_required=True, always_open=True, background_tasks=False,
                                  testing=True, sqlite_synchronous="OFF",
                                  clock_start=datetime(2026, 11, 26, 9, 30, tzinfo=TZ)))
        ctx = app.extensions["onewindow"]
        for name, (roles, windows, depts) in STAFF.items():
            staff_service.add_user(ctx.engine, ctx.now(), name, name, PASSWORD, roles, windows, depts)
        tokens = {who: staff_service.add_device_token(ctx.engine, ctx.now(), st) for who, st in TOKENS.items()}
        h = Hall(app, tokens)
        h.seed()
        yield h
        ctx.engine.dispose()


class Hall:
    """The app, one client per identity (logged in again after a logout), and the objects the calls touch."""

    def __init__(self, app: Any, tokens: dict[str, str]) -> None:
        self.app, self.tokens = app, tokens
        self.clients: dict[str, tuple[Any, dict[str, str]]] = {}
        self.objects: dict[str, Any] = {}

    def client(self, who: str) -> tuple[Any, dict[str, str]]:
        if who not in self.clients:
            c = self.app.test_client()
            headers: dict[str, str] = {}
            if who in self.tokens:
                headers["Authorization"] = f"Bearer {self.tokens[who]}"
            elif who in STAFF:
                r = c.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD})
                assert r.status_code == 200, r.get_json()
                headers["X-CSRF-Token"] = r.get_json()["csrf_token"]
            self.clients[who] = (c, headers)
        return self.clients[who]

    def call(self, who: str, method: str, path: str, body: Any = None) -> Any:
        c, headers = self.client(who)
        r = c.open(path, method=method, json=body if method != "GET" else None, headers=headers)
        if path.endswith("/auth/logout"):
            self.clients.pop(who, None)  # the session is gone: log in afresh for the next call
        return r

    def seed(self) -> None:
        """A ticket called and served at w01, a case taken there with a notice, an appointment."""
        clerk = "clerk"
        t = self.call("anonymous", "POST", "/api/v1/tickets", {"queue_id": "comprehensive"}).get_json()["ticket"]
        tracked = self.call("clerk", "GET", f"/api/v1/tickets/{t['id']}").get_json()
        self.objects["ticket_token"] = (tracked.get("ticket") or {}).get("tracker_token", "nope")
        for action in ("open", "call-next", "start"):
            self.call(clerk, "POST", f"/api/v1/windows/w01/{action}", {})
        self.objects["ticket_id"] = t["id"]
        case = self.call(clerk, "POST", "/api/v1/cases", {
            "item_id": "teacher-registration", "applicant_name": "王小娜", "id_number": ID, "phone": "13812342345",
            "window_id": "w01", "ticket_id": t["id"],
            "materials": ["e_licence", "original", "original", "original"]}).get_json()["case"]
        self.objects["case_id"] = case["id"]
        accepted = self.call(clerk, "POST", f"/api/v1/cases/{case['id']}/accept", {}).get_json()
        self.objects["notice_id"] = accepted["notice"]["id"]
        self.objects["case_token"] = self.call("supervisor", "GET", f"/api/v1/cases/{case['id']}").get_json()[
            "case"]["tracker_token"]
        appt = self.call("supervisor", "POST", "/api/v1/kiosk/appointments", {
            "queue_id": "comprehensive", "slot_at": "2026-11-26T10:00:00"}).get_json()
        self.objects["code"] = appt.get("appointment", appt).get("code", "nope")


# ---------------------------------------------------------------------------------------------- expectations


def owns_window(who: str, window: str) -> bool:
    return who in ("supervisor", "admin") or (who in STAFF and window in STAFF[who][1])


def owns_station(who: str, station: str) -> bool:
    if who in TOKENS:
        return TOKENS[who] == station
    if who in ("supervisor", "technician", "admin"):
        return True
    return who in STAFF and station == "window-1" and "w01" in STAFF[who][1]


def owns_case(who: str) -> bool:
    """The case was taken by clerk at w01 and sits in the education department."""
    return who in ("supervisor", "admin", "clerk") or (who in STAFF and "education" in STAFF[who][2])


def owns_ticket(who: str) -> bool:
    """The ticket was called and is being served at w01."""
    return owns_window(who, "w01")


def callers(who: str) -> set[Caller]:
    if who == "anonymous":
        return {Caller.ANONYMOUS}
    if who == "kiosk":
        return {Caller.KIOSK, Caller.DEVICE}
    if who == "device":
        return {Caller.DEVICE}
    return {Caller(r) for r in STAFF[who][0]}


def expect_admitted(rule: Any, who: str, args: dict[str, str]) -> bool:
    if not rule.who & callers(who):
        return False
    return all(scope_admits(scope, who, args) for scope in rule.scopes)


def scope_admits(scope: Scope, who: str, args: dict[str, str]) -> bool:
    if scope is Scope.SELF and "username" in args:
        return who in ("supervisor", "admin") or who == args["username"]
    if scope is Scope.OWN_WINDOW and "window_id" in args:
        return owns_window(who, args["window_id"])
    if scope is Scope.OWN_STATION and "station" in args:
        return owns_station(who, args["station"])
    if scope is Scope.OWN_CASE and args.keys() & {"case_id", "notice_id", "number"}:
        return owns_case(who)
    if scope is Scope.OWN_TICKET and "ticket_id" in args:
        return owns_ticket(who)
    return True


def refused(r: Any) -> bool:
    if r.status_code in (401, 403):
        return True
    return r.status_code == 302 and "/staff/login" in r.headers.get("Location", "")


# ---------------------------------------------------------------------------------------------- routes

ARG_VALUES = {
    "window_id": ["w01", "w02"], "station": ["window-1", "kiosk-1"], "username": ["approver"],
    "item_id": ["teacher-registration"], "lang": ["zh"], "clip": ["ding"], "filename": ["nope.css"],
    "number": ["HZ-20261126-0001"], "followup_id": ["1"],
}


def route_cases(h: Hall) -> list[tuple[str, str, str, dict[str, str]]]:
    """(endpoint, method, path, args) for every route and every object variant of it."""
    values = {**ARG_VALUES, "ticket_id": [str(h.objects["ticket_id"])], "case_id": [str(h.objects["case_id"])],
              "notice_id": [str(h.objects["notice_id"])], "code": [h.objects["code"]],
              "token": [h.objects["ticket_token"]]}
    out = []
    for rule in h.app.url_map.iter_rules():
        names = re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule.rule)
        combos: list[dict[str, str]] = [{}]
        for n in names:
            combos = [{**c, n: v} for c in combos for v in values.get(n, ["x"])]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for args in combos:
                path = rule.rule
                for n, v in args.items():
                    path = re.sub(rf"<(?:[a-z]+:)?{n}>", v, path)
                out.append((rule.endpoint, method, path, args))
    return out


def test_every_route_as_every_identity_answers_as_declared(hall: Hall) -> None:
    cells, wrong, errors = 0, [], []
    for endpoint, method, path, args in route_cases(hall):
        rule = ROUTES[endpoint]
        for who in IDENTITIES:
            r = hall.call(who, method, path, {} if method != "GET" else None)
            cells += 1
            if r.status_code >= 500:
                errors.append(f"{who} {method} {path} -> {r.status_code}")
            if refused(r) == expect_admitted(rule, who, args):
                wrong.append(f"{who:10} {method} {path}: {r.status_code} {r.get_data(as_text=True)[:120]!r} "
                             f"(policy: {'admit' if expect_admitted(rule, who, args) else 'refuse'})")
    print(f"\nroute matrix: {cells} cells ({len(route_cases(hall))} requests x {len(IDENTITIES)} identities), "
          f"{len(wrong)} disagree with the policy, {len(errors)} server errors")
    assert errors == []
    assert wrong == [], "\n".join(wrong)


# ---------------------------------------------------------------------------------------------- objects in bodies


@pytest.mark.parametrize(("who", "method", "path", "body", "admitted"), [
    # a kiosk acts only for its own station
    ("kiosk", "POST", "/api/v1/kiosk/print-failed", {"station": "kiosk-2", "ticket_id": 1}, False),
    ("anonymous", "POST", "/api/v1/kiosk/print-failed", {"station": "kiosk-1", "ticket_id": 1}, False),
    # window staff print and command only at their own window's station
    ("clerk2", "POST", "/api/v1/stations/window-1/commands", {"device": "led", "command": "clear"}, False),
    ("clerk", "POST", "/api/v1/stations/window-1/commands", {"device": "led", "command": "clear"}, True),
    ("technician", "POST", "/api/v1/stations/window-1/commands", {"device": "led", "command": "clear"}, True),
    ("kiosk", "POST", "/api/v1/stations/window-1/commands", {"device": "led", "command": "clear"}, False),
])
def test_objects_named_in_the_body_are_the_callers_own(hall: Hall, who, method, path, body, admitted) -> None:
    r = hall.call(who, method, path, body)
    assert r.status_code < 500
    assert refused(r) != admitted, (r.status_code, r.get_json())


# ---------------------------------------------------------------------------------------------- Socket.IO


def socket_for(hall: Hall, who: str) -> Any:
    if who in hall.tokens:
        return socketio.test_client(hall.app, auth={"token": hall.tokens[who]})
    if who in STAFF:
        c, headers = hall.client(who)
        return socketio.test_client(hall.app, flask_test_client=c, auth={"csrf_token": headers["X-CSRF-Token"]})
    return socketio.test_client(hall.app)


def event_cases() -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(event, payload, the objects it names) — each declared event, with own and other objects."""
    return [
        ("subscribe", {"hall": True}, {}),
        ("resync", {"since": 0}, {}),
        ("issue_ticket", {"queue_id": "comprehensive"}, {}),
        ("window_action", {"window_id": "w01", "action": "recall"}, {"window_id": "w01"}),
        ("window_action", {"window_id": "w02", "action": "recall"}, {"window_id": "w02"}),
        ("agent_hello", {"station": "window-1"}, {"station": "window-1"}),
        ("agent_hello", {"station": "kiosk-1"}, {"station": "kiosk-1"}),
        ("device_health", {"station": "window-1", "device": "led", "status": "ok"}, {"station": "window-1"}),
        ("device_health", {"station": "kiosk-1", "device": "printer", "status": "ok"}, {"station": "kiosk-1"}),
        ("device_input", {"station": "kiosk-1", "device": "scanner", "input_id": "m-1", "kind": "code_scanned",
                          "data": {"code": "x"}}, {"station": "kiosk-1"}),
        ("command_result", {"station": "window-1", "command_id": "c-1", "ok": True}, {"station": "window-1"}),
    ]


def test_every_event_as_every_identity_answers_as_declared(hall: Hall) -> None:
    assert {e for e, _, _ in event_cases()} == set(EVENTS)
    cells, wrong = 0, []
    for who in IDENTITIES:
        sock = socket_for(hall, who)
        assert sock.is_connected(), who
        for name, payload, args in event_cases():
            reply = sock.emit(name, payload, callback=True)
            cells += 1
            assert reply["ok"] or reply["status"] < 500, (who, name, reply)
            was_refused = not reply["ok"] and reply["status"] in (401, 403)
            expected = expect_admitted(EVENTS[name], who, args)
            if was_refused == expected:
                wrong.append(f"{who:10} {name} {args}: {reply.get('error')} (policy: "
                             f"{'admit' if expected else 'refuse'})")
        sock.disconnect()
    print(f"\nevent matrix: {cells} cells ({len(event_cases())} messages x {len(IDENTITIES)} identities), "
          f"{len(wrong)} disagree with the policy")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize(("who", "sub", "admitted"), [
    ("anonymous", {"hall": True, "staff": True}, False),
    ("clerk", {"hall": False, "staff": True}, True),
    ("device", {"hall": False, "station": "kiosk-1"}, False),
    ("kiosk", {"hall": False, "station": "kiosk-1"}, True),
    ("clerk", {"hall": False, "station": "kiosk-1"}, False),
])
def test_private_rooms_are_joined_only_by_their_owners(hall: Hall, who, sub, admitted) -> None:
    sock = socket_for(hall, who)
    reply = sock.emit("subscribe", sub, callback=True)
    assert reply["ok"] is admitted, reply
    sock.disconnect()


def test_a_notice_prints_only_for_a_case_the_clerk_handles_at_their_own_station(hall: Hall) -> None:
    """The notice carries the applicant's full name: its case and the station must both be the caller's."""
    path = f"/api/v1/notices/{hall.objects['notice_id']}/print"
    assert refused(hall.call("clerk2", "POST", path, {"station": "window-2"}))  # own station, another's case
    assert refused(hall.call("clerk", "POST", path, {"station": "window-2"}))  # own case, another's station
    assert not refused(hall.call("clerk", "POST", path, {"station": "window-1"}))
    assert not refused(hall.call("supervisor", "POST", path, {"station": "kiosk-1"}))
