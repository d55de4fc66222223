"""REST handlers: parse, name the actor, call one service, return JSON."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, jsonify, request, session
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from pydantic import BaseModel

from ..auth import (
    Identity,
    auth_required,
    check_csrf,
    csrf_token,
    current_identity,
    require_staff,
    require_window,
    ticket_grants,
)
from ..domain.hall import ItemKind
from ..services import devices, evaluations, queries, tickets, window_card, window_views
from ..services import staff as staff_service
from ..services.context import Actor, HallContext
from ..services.events import hall_room, staff_room
from ..services.tickets import IssueRequest
from . import bp
from .bounds import INT4_MAX, int_arg
from .errors import ApiError, register_error_handlers
from .openapi import build, document
from .schemas import (
    IDEMPOTENCY_KEY_MAX,
    DeviceCommandBody,
    EmptyBody,
    IssueTicketBody,
    LoginBody,
)
from .window_actions import WINDOW_ACTIONS

B = TypeVar("B", bound=BaseModel)
_ACTOR_RE = re.compile(r"^(staff|device|kiosk|citizen|system):[\w.@-]{1,60}$")


@bp.record_once
def _errors(state: BlueprintSetupState) -> None:
    register_error_handlers(state.app)


def ctx() -> HallContext:
    return current_app.extensions["onewindow"]


@bp.before_request
def _csrf() -> None:
    if auth_required():
        check_csrf()


SELF_NAMED_KINDS = ("kiosk", "citizen")


def current_actor(default_kind: str = "staff") -> Actor:
    """Who is acting: the logged-in member of staff or the device token's station. An anonymous caller may name
    itself in X-Actor (kind:id) for the record — a kiosk page says which kiosk it is — but where login is
    required only as a kiosk or a citizen: a name grants nothing."""
    ident = current_identity()
    if ident.staff is not None or ident.station is not None:
        return ident.actor
    raw = request.headers.get("X-Actor")
    if raw is None:
        return ident.actor if auth_required() else Actor(default_kind, "anonymous")
    if not _ACTOR_RE.match(raw):
        raise ApiError(400, "bad_actor", "X-Actor must look like kiosk:kiosk-1")
    kind, _, name = raw.partition(":")
    if auth_required() and kind not in SELF_NAMED_KINDS:
        raise ApiError(401, "not_logged_in", f"a {kind} must log in (staff) or send its device token, not name "
                       "itself in X-Actor")
    return Actor(kind, name)


def body(model: type[B]) -> B:
    if request.content_length and request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = request.get_data(cache=True)
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = request.get_json(force=True)
        except Exception:
            raise ApiError(400, "bad_json", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "the request body must be a JSON object")
    return model.model_validate(data)


# ---------------------------------------------------------------- hall, queues, items

document("/health", "get", "liveness and the current service day", tag="meta")


@bp.get("/health")
def health() -> ResponseReturnValue:
    c = ctx()
    queue = current_app.extensions.get("onewindow.message_queue")  # only with several processes (Redis)
    return {"status": "ok", "hall_id": c.hall_id, "service_day": c.today().isoformat(),
            "sample_data": c.config.sample_data, "storage": c.storage.view(),
            "message_queue": queue.view() if queue is not None else None}


document("/hall", "get", "the hall's public configuration: sites, zones, queues, windows")


@bp.get("/hall")
def hall() -> ResponseReturnValue:
    cfg = ctx().config
    return {
        "hall": cfg.hall.model_dump(mode="json"),
        "sample_data": cfg.sample_data,
        "hours": cfg.hours.model_dump(mode="json"),
        "sites": [s.model_dump(mode="json") for s in cfg.sites],
        "zones": [z.model_dump(mode="json") for z in cfg.zones],
        "queues": [q.model_dump(mode="json") for q in cfg.queues],
        "windows": [w.model_dump(mode="json") for w in cfg.windows],
        "departments": [d.model_dump(mode="json") for d in cfg.departments],
    }


document("/items", "get", "service items, optionally filtered by text (q) or queue",
         params=[{"name": "q", "in": "query", "schema": {"type": "string"}},
                 {"name": "queue", "in": "query", "schema": {"type": "string"}}])


@bp.get("/items")
def items() -> ResponseReturnValue:
    cfg = ctx().config
    q = (request.args.get("q") or "").strip()
    queue = request.args.get("queue")
    out = [
        i.model_dump(mode="json")
        for i in cfg.items
        if (not q or q in i.name or q == i.id) and (not queue or i.queue == queue)
    ]
    return {"items": out, "count": len(out), "immediate_kinds": [k.value for k in ItemKind]}


document("/queues", "get", "waiting counts and estimated waits per queue")


@bp.get("/queues")
def queues() -> ResponseReturnValue:
    return {"queues": queries.snapshot(ctx())["queues"]}


document("/snapshot", "get", "everything a hall screen shows, with the event sequence it is current to")


@bp.get("/snapshot")
def snapshot() -> ResponseReturnValue:
    return queries.snapshot(ctx())


document("/events", "get", "events after a sequence number, for the rooms given (comma separated)",
         params=[{"name": "since", "in": "query", "required": True,
                  "schema": {"type": "integer", "minimum": 0, "maximum": INT4_MAX}},
                 {"name": "rooms", "in": "query", "schema": {"type": "string"}}])


@bp.get("/events")
def events() -> ResponseReturnValue:
    c = ctx()
    since = int_arg("since", None, minimum=0, maximum=INT4_MAX, what="the last event sequence number seen")
    ident = current_identity()
    default = staff_room(c.hall_id) if ident.staff is not None else hall_room(c.hall_id)
    rooms = {r for r in (request.args.get("rooms") or "").split(",") if r} or {default}
    if auth_required():
        for room in rooms:
            check_room(c, ident, room)
    return queries.missed_events(c, since, rooms)


_PUBLIC_ROOM_KINDS = ("hall", "zone", "window", "queue")


def check_room(c: HallContext, ident: Identity, room: str) -> None:
    """Which event rooms a caller may read: public rooms anyone; the staff room staff; a station's room only
    that station (its agent or its enrolled kiosk browser)."""
    kind, _, name = room.partition(":")
    if kind in _PUBLIC_ROOM_KINDS:
        return
    if room == staff_room(c.hall_id) and ident.staff is not None:
        return
    if kind == "station" and ident.station == name:
        return
    raise ApiError(403, "room_forbidden", f"the room {room!r} is not yours to read; public rooms are hall:, zone:, "
                   "window:, queue:; staff read the staff room; a station its own station: room")


# ---------------------------------------------------------------- tickets

document("/tickets", "post", "issue a ticket (send Idempotency-Key so a retry never makes two)",
         body=IssueTicketBody, tag="tickets",
         params=[{"name": "Idempotency-Key", "in": "header",
                  "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX}}],
         responses={"201": "issued", "200": "an existing ticket (retry, or this person already has one)"})


@bp.post("/tickets")
def issue() -> ResponseReturnValue:
    b = body(IssueTicketBody)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 100):
        raise ApiError(400, "bad_idempotency_key", "Idempotency-Key must be 1 to 100 characters")
    result = tickets.issue_ticket(ctx(), IssueRequest(**b.model_dump()), current_actor("kiosk"), key,
                                  ticket_grants(current_identity()))
    out = {"ticket": result.ticket, "created": result.created, "reason": result.reason}
    return jsonify(out), 201 if result.created else 200


document("/tickets/<id:ticket_id>", "get", "one ticket (staff view; the holder reads /track/<token>)",
         tag="tickets")


@bp.get("/tickets/<id:ticket_id>")
def get_ticket(ticket_id: int) -> ResponseReturnValue:
    return {"ticket": tickets.get_ticket_view(ctx(), ticket_id)}


document("/track/<token>", "get", "the phone tracker's view of one ticket (its own position only)", tag="tickets")


@bp.get("/track/<token>")
def track(token: str) -> ResponseReturnValue:
    return {"ticket": tickets.track(ctx(), token)}


document("/tickets/<id:ticket_id>/requeue", "post", "put a missed (过号) ticket back in line", body=EmptyBody,
         tag="tickets")


@bp.post("/tickets/<id:ticket_id>/requeue")
def requeue(ticket_id: int) -> ResponseReturnValue:
    if auth_required():
        require_staff(current_identity().staff, "window_staff", "supervisor")
    body(EmptyBody)
    return {"ticket": tickets.requeue(ctx(), ticket_id, current_actor())}


document("/tickets/<id:ticket_id>/cancel", "post", "cancel a waiting ticket", body=EmptyBody, tag="tickets")


@bp.post("/tickets/<id:ticket_id>/cancel")
def cancel(ticket_id: int) -> ResponseReturnValue:
    if auth_required():
        require_staff(current_identity().staff, "window_staff", "supervisor")
    body(EmptyBody)
    return {"ticket": tickets.cancel(ctx(), ticket_id, current_actor())}


# ---------------------------------------------------------------- windows

document("/windows", "get", "every window with its state and current ticket", tag="windows")


@bp.get("/windows")
def list_windows() -> ResponseReturnValue:
    return {"windows": window_views.windows_overview(ctx())}


document("/windows/<window_id>/held", "get", "tickets this window has put on hold", tag="windows")


@bp.get("/windows/<window_id>/held")
def held(window_id: str) -> ResponseReturnValue:
    return {"tickets": window_views.held_tickets(ctx(), window_id)}


document("/windows/<window_id>/waiting", "get", "per queue of the window: counts and the next few tickets",
         tag="windows", params=[{"name": "limit", "in": "query",
                                 "schema": {"type": "integer", "minimum": 1, "maximum": 50}}])


@bp.get("/windows/<window_id>/waiting")
def waiting(window_id: str) -> ResponseReturnValue:
    if auth_required():
        require_window(current_identity().staff, window_id)
    limit = int_arg("limit", 5, minimum=1, maximum=50, what="how many tickets per queue")
    return {"queues": window_views.waiting_for_window(ctx(), window_id, limit)}


document("/windows/<window_id>/request-evaluation", "post",
         "ask the citizen to rate the service just finished, on the window's evaluator pad", body=EmptyBody,
         tag="windows")


@bp.post("/windows/<window_id>/request-evaluation")
def request_evaluation(window_id: str) -> ResponseReturnValue:
    if auth_required():
        require_window(current_identity().staff, window_id)
    body(EmptyBody)
    c = ctx()
    ticket = window_views.last_served(c, window_id)
    if ticket is None:
        raise ApiError(409, "nothing_to_evaluate", "finish a service at this window first")
    if devices.window_station(c, window_id) is None:
        raise ApiError(409, "no_evaluator", f"no device agent serves window {window_id}; is its PC running?")
    # The pad shows (and the rating records) who served the ticket, from its transitions: not the caller.
    out = evaluations.invite_for_ticket(c, ticket["id"], current_actor(), window_id, start_pad=True)
    return out["pad"]


document("/windows/<window_id>/card-read", "post",
         "the ID card just read at the window's own reader, whole, for its intake form (taken once, within 2 "
         "minutes of the read)", body=EmptyBody, tag="windows")


@bp.post("/windows/<window_id>/card-read")
def window_card_read(window_id: str) -> ResponseReturnValue:
    body(EmptyBody)
    return {"card": window_card.take_card(ctx(), window_id, current_actor())}


def _window_action(name: str, summary: str, model: type[BaseModel],
                   call: Callable[[HallContext, str, Actor, Any], dict[str, Any]]) -> None:
    path = f"/windows/<window_id>/{name}"
    document(path, "post", summary, body=model, tag="windows")

    def handler(window_id: str) -> ResponseReturnValue:
        if auth_required():
            require_window(current_identity().staff, window_id)
        b = body(model)
        return call(ctx(), window_id, current_actor(), b)

    handler.__name__ = f"window_{name.replace('-', '_')}"
    bp.add_url_rule(path, view_func=handler, methods=["POST"])


for _name, (_summary, _model, _call) in WINDOW_ACTIONS.items():
    _window_action(_name, _summary, _model, _call)


# ---------------------------------------------------------------- device stations

document("/stations", "get", "the last health report of every device at every station", tag="devices")


@bp.get("/stations")
def stations() -> ResponseReturnValue:
    return {"devices": devices.stations_health(ctx())}


document("/stations/<station>/commands", "post", "send a command to a station's device through its agent",
         body=DeviceCommandBody, tag="devices")


@bp.post("/stations/<station>/commands")
def station_command(station: str) -> ResponseReturnValue:
    if auth_required():
        require_staff(current_identity().staff, "window_staff", "supervisor", "technician")
    b = body(DeviceCommandBody)
    return devices.send_command(ctx(), station, b.device, b.command, b.args, current_actor())


# ---------------------------------------------------------------- staff login

document("/auth/login", "post", "log in a member of staff; returns the CSRF token for later requests",
         body=LoginBody, tag="auth")


@bp.post("/auth/login")
def login() -> ResponseReturnValue:
    b = body(LoginBody)
    c = ctx()
    client = request.remote_addr  # behind a reverse proxy, configure it to pass the address (see SECURITY.md)
    member = staff_service.authenticate(c.engine, c.now(), b.username, b.password,
                                        current_app.extensions["onewindow.login_guard"], client)
    session.clear()
    session["staff_id"] = member.id
    session["session_version"] = member.session_version
    session["sid"] = staff_service.open_session(c.engine, c.now(), member, client)
    session.permanent = False
    return {"staff": member.public(), "csrf_token": csrf_token()}


document("/auth/logout", "post", "log out", body=EmptyBody, tag="auth")


@bp.post("/auth/logout")
def logout() -> ResponseReturnValue:
    sid = session.get("sid")
    if sid:  # revoked on the server: a saved copy of the cookie no longer logs anyone in
        staff_service.revoke_session(ctx().engine, ctx().now(), str(sid))
    session.clear()
    return {"ok": True}


document("/auth/me", "get", "the logged-in member of staff and a CSRF token", tag="auth")


@bp.get("/auth/me")
def me() -> ResponseReturnValue:
    member = current_identity().staff
    return {"staff": member.public() if member else None, "csrf_token": csrf_token()}


# ---------------------------------------------------------------- the document itself

document("/openapi.json", "get", "this document", tag="meta")


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return build("OneWindow queue server", "1.0.0")
