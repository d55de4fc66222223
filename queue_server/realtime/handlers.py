"""Socket.IO: rooms per hall, zone, window, queue, ticket, station and staff; subscribe with resync; kiosk,
window and agent messages.

Every event is a module-level function registered with ``@event(name, Model)``: the decorator checks the
caller against the declared policy (``queue_server/policy.py``), validates the payload with the same pydantic
models as REST, and turns errors into the same ``{"error": {code, message}}`` replies. Handlers only parse,
authorise and call a service; the service publishes the events after it commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request, session
from flask_socketio import SocketIO, join_room, rooms
from flask_wtf.csrf import validate_csrf
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from wtforms import ValidationError as CSRFError

from devices.contract.messages import AgentHello, CommandResult, DeviceHealth, DeviceInput

from ..api.bounds import INT4_MAX
from ..api.errors import error_reply
from ..api.schemas import IssueTicketMessage
from ..api.window_actions import WINDOW_ACTIONS
from ..auth import (
    Forbidden,
    Identity,
    allowed,
    auth_required,
    identity_from_session,
    identity_from_token,
    refuse,
    require_own_station,
    require_window,
    ticket_grants,
)
from ..domain.errors import DomainError, InvalidInput, NotFound
from ..policy import EVENTS
from ..services import devices, evaluations, queries, tickets
from ..services.context import Actor, HallContext
from ..services.events import hall_room, staff_room
from ..services.tickets import IssueRequest

log = logging.getLogger("onewindow.realtime")
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Identity, Any], dict[str, Any]]
HANDLERS: dict[str, Callable[..., dict[str, Any]]] = {}

# Events that change state: a socket opened with a login cookie may send them only if it proved, when it
# connected, that it knows the page's CSRF token (a page of another origin cannot read it).
STATE_CHANGING = frozenset({"issue_ticket", "window_action"})


# ---------------------------------------------------------------------------------------------- messages


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Subscription(_Msg):
    hall: bool = True
    staff: bool = Field(default=False, description="the staff room: logged-in staff only")
    station: str | None = Field(default=None, max_length=40, description="a station's room: that station only")
    zones: list[str] = Field(default=[], max_length=50)
    windows: list[str] = Field(default=[], max_length=100)
    queues: list[str] = Field(default=[], max_length=100)
    ticket_token: str | None = Field(default=None, max_length=64)
    since: int | None = Field(default=None, ge=0, le=INT4_MAX, description="last event seq seen; omit for a snapshot")


class Resync(_Msg):
    since: int = Field(ge=0, le=INT4_MAX)


class WindowActionMsg(BaseModel):
    model_config = ConfigDict(extra="allow")  # the action's own fields, validated by the action's model
    window_id: str = Field(max_length=40)
    action: str = Field(max_length=40)


# The agents' messages (agent_hello, device_health, device_input, command_result) are the wire contract's:
# devices.contract.messages, the same models the agent builds them with.


# ---------------------------------------------------------------------------------------------- the dispatcher


def _ctx() -> HallContext:
    return current_app.extensions["onewindow"]


def socket_identity() -> Identity:
    """Who opened this connection: a device token given at connect, else the login cookie (re-checked on every
    message, so a logout or a disabled account ends it), else an anonymous client."""
    station = session.get("ow_station")
    if station:
        return Identity(Actor("device", station), station=station)
    ident = identity_from_session(session)
    if ident.actor.kind == "citizen" and session.get("ow_actor"):
        return Identity(Actor(*session["ow_actor"].split(":", 1)))
    return ident


def _reply_error(exc: Exception) -> dict[str, Any]:
    status, body = error_reply(exc)  # the edge's one code -> status table (a storage fault is a 503 there)
    return {"ok": False, "status": status, **body}


def event(name: str, model: type[M] | None = None) -> Callable[[Callable[[Identity, M], dict[str, Any]]],
                                                                Callable[[Identity, M], dict[str, Any]]]:
    """Register a handler: policy check, payload validation, one error mapping. The handler gets the caller and
    the validated message and returns the reply's fields."""
    rule = EVENTS[name]  # a KeyError here is a handler without a declared policy: fails at import

    def register(fn: Callable[[Identity, M], dict[str, Any]]) -> Callable[[Identity, M], dict[str, Any]]:
        def dispatch(data: Any = None) -> dict[str, Any]:
            try:
                ident = socket_identity()
                if auth_required():
                    if not allowed(rule, ident):
                        raise refuse(rule, ident, f"the event {name}")
                    if name in STATE_CHANGING and ident.via_session and not session.get("ow_csrf"):
                        raise Forbidden("connect with auth {csrf_token: …} (the page's CSRF token) to send "
                                        f"{name} with a login cookie", code="csrf_failed")
                if data is None:
                    data = {}
                if not isinstance(data, dict):
                    raise InvalidInput(f"the {name} message must be a JSON object, not {type(data).__name__}",
                                       code="bad_message")
                msg: Any = model.model_validate(data) if model is not None else data  # no model: the dict
                return {"ok": True, **fn(ident, msg)}
            except (DomainError, ValidationError) as exc:
                return _reply_error(exc)
            except Exception as exc:  # a storage fault: 503; a bug: logged with its traceback, a 500
                return _reply_error(exc)

        dispatch.__name__ = f"on_{name}"
        HANDLERS[name] = dispatch
        return fn

    return register


def _actor(ident: Identity, default_kind: str = "citizen") -> Actor:
    if ident.staff is not None or ident.station is not None or session.get("ow_actor"):
        return ident.actor
    return Actor(default_kind, "anonymous")


def _known(kind: str, ident: str, known: set[str]) -> str:
    if ident not in known:
        raise NotFound(f"{kind} {ident!r} does not exist", code=f"{kind}_not_found")
    return ident


# ---------------------------------------------------------------------------------------------- connection


def on_connect(auth: Any = None) -> bool:
    auth = auth if isinstance(auth, dict) else {}
    token = auth.get("token")
    if token:
        try:
            ident = identity_from_token(str(token)[:200])
        except DomainError:
            return False  # refuse: a token that is not (or no longer) valid
        assert ident is not None
        session["ow_station"] = ident.station
        return True
    if identity_from_session(session).via_session:
        try:
            validate_csrf(str(auth.get("csrf_token") or ""))
            session["ow_csrf"] = True
        except CSRFError:
            session["ow_csrf"] = False  # may read its rooms; may not change anything
        return True
    actor = auth.get("actor")
    if actor is not None:
        import re

        if current_app.extensions["onewindow.settings"].auth_required or not (
                isinstance(actor, str) and re.match(r"^(staff|device|kiosk|citizen|system):[\w.@-]{1,60}$", actor)):
            return False  # naming oneself is only for halls that run without required login
        session["ow_actor"] = actor
    return True


def on_disconnect(*_args: Any) -> None:
    station = session.get("ow_hello")
    if station:
        try:
            devices.report_health(_ctx(), station, "agent", "offline", _agent_detail(station), Actor("device", station))
        except DomainError:  # the database may be going away with the process; the next hello corrects it
            log.warning("could not record agent %s going offline", station)


def _agent_detail(station: str) -> dict[str, Any]:
    window = _ctx().station_window(station)
    return {"window_id": window} if window else {}


def _joined() -> set[str]:
    # Flask-SocketIO puts the connection's sid on the request; Flask's Request type does not know it.
    return {r for r in rooms() if r != request.sid}  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- screens and pages


@event("subscribe", Subscription)
def subscribe(ident: Identity, sub: Subscription) -> dict[str, Any]:
    c = _ctx()
    wanted: list[str] = []
    if sub.hall:
        wanted.append(hall_room(c.hall_id))
    if sub.staff:
        if ident.staff is None and auth_required():
            raise Forbidden("the staff room is for logged-in staff", code="staff_only")
        wanted.append(staff_room(c.hall_id))
    if sub.station is not None:
        if auth_required() and ident.station != sub.station:
            raise Forbidden(f"only station {sub.station}'s own device token may join its room",
                            code="wrong_station")
        wanted.append(devices.station_room(devices.check_station(sub.station)))
    zones, windows, queues = ({z.id for z in c.config.zones}, {w.id for w in c.config.windows},
                              {q.id for q in c.config.queues})
    wanted += [f"zone:{_known('zone', z, zones)}" for z in sub.zones]
    wanted += [f"window:{_known('window', w, windows)}" for w in sub.windows]
    wanted += [f"queue:{_known('queue', q, queues)}" for q in sub.queues]
    tracked = None
    if sub.ticket_token:
        tracked = tickets.track(c, sub.ticket_token)
        wanted += [f"ticket:{tracked['id']}", f"queue:{tracked['queue_id']}"]
    for r in wanted:
        join_room(r)
    reply: dict[str, Any] = {"rooms": wanted}
    if tracked is not None:
        reply["ticket"] = tracked
    if sub.since is not None:
        missed = queries.missed_events(c, sub.since, set(wanted))
        if missed["complete"] and not missed["reset"]:
            return {**reply, "seq": missed["seq"], "events": missed["events"]}
    if sub.hall:
        snap = queries.snapshot(c)
        return {**reply, "seq": snap["seq"], "snapshot": snap}
    return {**reply, "seq": queries.missed_events(c, 0, set(), limit=0)["seq"], "events": []}


@event("resync", Resync)
def resync(ident: Identity, r: Resync) -> dict[str, Any]:
    return queries.missed_events(_ctx(), r.since, _joined())


# ---------------------------------------------------------------------------------------------- kiosk and windows


@event("issue_ticket", IssueTicketMessage)
def issue_ticket(ident: Identity, msg: IssueTicketMessage) -> dict[str, Any]:
    fields = msg.model_dump(exclude={"idempotency_key"})
    result = tickets.issue_ticket(_ctx(), IssueRequest(**fields), _actor(ident, "kiosk"), msg.idempotency_key,
                                  ticket_grants(ident))
    return {"ticket": result.ticket, "created": result.created, "reason": result.reason}


@event("window_action", WindowActionMsg)
def window_action(ident: Identity, msg: WindowActionMsg) -> dict[str, Any]:
    if auth_required():
        require_window(ident.staff, msg.window_id)
    if msg.action not in WINDOW_ACTIONS:
        raise InvalidInput(f"unknown action {msg.action!r}; allowed: {', '.join(WINDOW_ACTIONS)}",
                           code="unknown_action")
    _summary, model, call = WINDOW_ACTIONS[msg.action]
    return call(_ctx(), msg.window_id, _actor(ident, "staff"), model.model_validate(msg.model_extra or {}))


# ---------------------------------------------------------------------------------------------- device agents


def _own_station(ident: Identity, station: str) -> str:
    devices.check_station(station)
    if auth_required():
        require_own_station(ident, station)
    return station


@event("agent_hello", AgentHello)
def agent_hello(ident: Identity, hello: AgentHello) -> dict[str, Any]:
    """The agent joins its station's room and the window devices.toml binds the station to; it cannot choose
    another window."""
    c = _ctx()
    station = _own_station(ident, hello.station)
    window = c.station_window(station)
    if hello.window_id is not None and hello.window_id != window:
        raise Forbidden(f"station {station} serves window {window or 'none'} in devices.toml, not "
                        f"{hello.window_id}; change the devices file to move it", code="wrong_window")
    joined = [devices.station_room(station)] + ([f"window:{window}"] if window else [])
    for r in joined:
        join_room(r)
    session["ow_hello"] = station
    detail = {**_agent_detail(station), **({"version": hello.version} if hello.version else {})}
    devices.report_health(c, station, "agent", "ok", detail, _actor(ident, "device"))
    reply: dict[str, Any] = {"rooms": joined, "window_id": window}
    if hello.since is not None:
        return {**reply, **queries.missed_events(c, hello.since, set(joined))}
    return {**reply, "seq": queries.missed_events(c, 0, set(), limit=0)["seq"]}


@event("device_health", DeviceHealth)
def device_health(ident: Identity, msg: DeviceHealth) -> dict[str, Any]:
    station = _own_station(ident, msg.station)
    return devices.report_health(_ctx(), station, msg.device, msg.status, msg.detail, _actor(ident, "device"))


@event("device_input", DeviceInput)
def device_input(ident: Identity, msg: DeviceInput) -> dict[str, Any]:
    station = _own_station(ident, msg.station)
    actor = _actor(ident, "device")
    taken = devices.record_input(_ctx(), station, msg.input_id, msg.device, msg.kind, msg.data, actor)
    reply: dict[str, Any] = dict(taken)
    if msg.kind == "rating_given" and not taken["duplicate"]:
        try:
            reply["evaluation"] = evaluations.rate_from_device_input(_ctx(), station, msg.data, actor)
        except DomainError as exc:
            # A permanent refusal (unknown subject, rated already): the input is taken, not to be resent.
            reply["rating_rejected"] = {"code": exc.code, "message": exc.message}
    return reply


@event("command_result", CommandResult)
def command_result(ident: Identity, msg: CommandResult) -> dict[str, Any]:
    station = _own_station(ident, msg.station)
    # "ok" in the reply acknowledges the record; the command's own ok is inside
    return devices.record_command_result(_ctx(), station, msg.command_id, msg.ok, msg.error, msg.result,
                                         _actor(ident, "device"))


def register(socketio: SocketIO) -> None:
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    for name, handler in HANDLERS.items():
        socketio.on_event(name, handler)
