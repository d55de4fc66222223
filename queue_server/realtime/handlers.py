"""Socket.IO: rooms per hall, zone, window, queue and ticket; subscribe with resync; kiosk and window actions.

Handlers only parse, name the actor and call a service; the service publishes the events after it commits.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import current_app, request, session
from flask_socketio import SocketIO, join_room, rooms
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..api.errors import domain_error_response, error_body, validation_details
from ..api.routes import WINDOW_ACTIONS
from ..api.schemas import IssueTicketBody
from ..auth import (
    Identity,
    auth_required,
    identity_from_token,
    require_station,
    require_window,
    staff_from_session,
)
from ..domain.errors import DomainError, InvalidInput, NotFound
from ..services import devices, evaluations, queries, tickets
from ..services.context import Actor, HallContext
from ..services.tickets import IssueRequest

log = logging.getLogger("onewindow.realtime")
_ACTOR_RE = re.compile(r"^(staff|device|kiosk|citizen|system):[\w.@-]{1,60}$")


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hall: bool = True
    zones: list[str] = []
    windows: list[str] = []
    queues: list[str] = []
    ticket_token: str | None = Field(default=None, max_length=64)
    since: int | None = Field(default=None, ge=0, description="last event seq seen; omit for a fresh snapshot")


class Resync(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: int = Field(ge=0)


class WindowActionMsg(BaseModel):
    model_config = ConfigDict(extra="allow")
    window_id: str
    action: str


class AgentHello(BaseModel):
    model_config = ConfigDict(extra="forbid")
    station: str
    window_id: str | None = None
    since: int | None = Field(default=None, ge=0)
    devices: dict[str, str] = {}


class DeviceHealthMsg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    station: str
    device: str
    status: str
    detail: dict[str, Any] | None = None


class DeviceInputMsg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    station: str
    device: str
    input_id: str
    kind: str
    data: dict[str, Any] = {}


class CommandResultMsg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    station: str
    command_id: str
    ok: bool
    error: str | None = None
    result: dict[str, Any] | None = None


def _ctx() -> HallContext:
    return current_app.extensions["onewindow"]


def _actor() -> Actor:
    raw = session.get("actor")
    if raw:
        kind, _, ident = raw.partition(":")
        return Actor(kind, ident)
    return Actor("citizen", "anonymous")


def _staff():  # type: ignore[no-untyped-def]
    """The member of staff whose login cookie opened this connection, re-checked on every action."""
    return staff_from_session({"staff_id": session.get("staff_id"), "session_version": session.get("staff_v")})


def _station() -> str | None:
    return session.get("station_token")


def _fail(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, DomainError):
        body, status = domain_error_response(exc)
        return {"ok": False, "status": status, **body}
    if isinstance(exc, ValidationError):
        return {"ok": False, "status": 422, **error_body("invalid_request", "invalid fields; see details",
                                                         validation_details(exc))}
    log.exception("unexpected error in a Socket.IO handler")
    return {"ok": False, "status": 500, **error_body("internal_error", "an unexpected error occurred")}


def _client_rooms() -> set[str]:
    return {r for r in rooms() if r != request.sid}  # type: ignore[attr-defined]


def register(socketio: SocketIO) -> None:
    def on_connect(auth: dict | None = None) -> bool:
        auth = auth if isinstance(auth, dict) else {}
        token = auth.get("token")
        if token:
            try:
                ident = identity_from_token(str(token))
            except DomainError:
                return False  # refuse: a token that is not (or no longer) valid
            session["station_token"] = ident.station
            session["actor"] = str(ident.actor)
            return True
        member = staff_from_session(session)
        if member is not None:
            session["staff_id"], session["staff_v"] = member.id, member.session_version
            session["actor"] = f"staff:{member.username}"
            return True
        actor = auth.get("actor")
        if actor is not None and (current_app.extensions["onewindow.settings"].auth_required
                                  or not (isinstance(actor, str) and _ACTOR_RE.match(actor))):
            return False  # naming oneself is only for halls that run without required login
        session["actor"] = actor
        return True

    def on_subscribe(data: Any = None) -> dict[str, Any]:
        try:
            sub = Subscription.model_validate(data or {})
            c = _ctx()
            wanted: list[str] = []
            if sub.hall:
                wanted.append(f"hall:{c.hall_id}")
            for zone in sub.zones:
                if zone not in {z.id for z in c.config.zones}:
                    _unknown("zone", zone)
                wanted.append(f"zone:{zone}")
            for w in sub.windows:
                if w not in {x.id for x in c.config.windows}:
                    _unknown("window", w)
                wanted.append(f"window:{w}")
            for q in sub.queues:
                if q not in {x.id for x in c.config.queues}:
                    _unknown("queue", q)
                wanted.append(f"queue:{q}")
            tracked = None
            if sub.ticket_token:
                tracked = tickets.track(c, sub.ticket_token)
                wanted += [f"ticket:{tracked['id']}", f"queue:{tracked['queue_id']}"]
            for r in wanted:
                join_room(r)
            reply: dict[str, Any] = {"ok": True, "rooms": wanted}
            if tracked is not None:
                reply["ticket"] = tracked
            if sub.since is not None:
                missed = queries.missed_events(c, sub.since, set(wanted))
                if missed["complete"] and not missed["reset"]:
                    reply.update(seq=missed["seq"], events=missed["events"])
                    return reply
            if sub.hall:
                snap = queries.snapshot(c)
                reply.update(seq=snap["seq"], snapshot=snap)
            else:
                missed = queries.missed_events(c, 0, set(wanted), limit=0)
                reply.update(seq=missed["seq"], events=[])
            return reply
        except Exception as exc:  # every failure goes back to the caller as a clear error
            return _fail(exc)

    def on_resync(data: Any = None) -> dict[str, Any]:
        try:
            r = Resync.model_validate(data or {})
            missed = queries.missed_events(_ctx(), r.since, _client_rooms())
            return {"ok": True, **missed}
        except Exception as exc:
            return _fail(exc)

    def on_issue_ticket(data: Any = None) -> dict[str, Any]:
        try:
            payload = dict(data or {})
            key = payload.pop("idempotency_key", None)
            b = IssueTicketBody.model_validate(payload)
            actor = _actor() if session.get("actor") else Actor("kiosk", "anonymous")
            result = tickets.issue_ticket(_ctx(), IssueRequest(**b.model_dump()), actor, key)
            return {"ok": True, "ticket": result.ticket, "created": result.created, "reason": result.reason}
        except Exception as exc:
            return _fail(exc)

    def on_window_action(data: Any = None) -> dict[str, Any]:
        try:
            msg = WindowActionMsg.model_validate(data or {})
            if auth_required():
                require_window(_staff(), msg.window_id)
            if msg.action not in WINDOW_ACTIONS:
                raise InvalidInput(f"unknown action {msg.action!r}; allowed: {', '.join(WINDOW_ACTIONS)}",
                                  code="unknown_action")
            _summary, model, call = WINDOW_ACTIONS[msg.action]
            extra = {k: v for k, v in (data or {}).items() if k not in ("window_id", "action")}
            return {"ok": True, **call(_ctx(), msg.window_id, _actor(), model.model_validate(extra))}
        except Exception as exc:
            return _fail(exc)

    def on_agent_hello(data: Any = None) -> dict[str, Any]:
        """A device agent announces its station; it joins the station's room (and its window's)."""
        try:
            hello = AgentHello.model_validate(data or {})
            if auth_required():
                require_station(Identity(_actor(), station=_station()), hello.station)
            devices.check_station(hello.station)
            join_room(devices.station_room(hello.station))
            joined = [devices.station_room(hello.station)]
            if hello.window_id:
                if hello.window_id not in {w.id for w in _ctx().config.windows}:
                    _unknown("window", hello.window_id)
                join_room(f"window:{hello.window_id}")
                joined.append(f"window:{hello.window_id}")
            session["station"] = hello.station
            devices.report_health(_ctx(), hello.station, "agent", "ok",
                                  {"window_id": hello.window_id} if hello.window_id else {}, _actor())
            reply: dict[str, Any] = {"ok": True, "rooms": joined}
            if hello.since is not None:
                reply.update(queries.missed_events(_ctx(), hello.since, set(joined)))
            else:
                reply["seq"] = queries.missed_events(_ctx(), 0, set(), limit=0)["seq"]
            return reply
        except Exception as exc:
            return _fail(exc)

    def on_device_health(data: Any = None) -> dict[str, Any]:
        try:
            msg = DeviceHealthMsg.model_validate(data or {})
            if auth_required():
                require_station(Identity(_actor(), station=_station()), msg.station)
            return {"ok": True, **devices.report_health(_ctx(), msg.station, msg.device, msg.status, msg.detail,
                                                        _actor())}
        except Exception as exc:
            return _fail(exc)

    def on_device_input(data: Any = None) -> dict[str, Any]:
        try:
            msg = DeviceInputMsg.model_validate(data or {})
            if auth_required():
                require_station(Identity(_actor(), station=_station()), msg.station)
            taken = devices.record_input(_ctx(), msg.station, msg.input_id, msg.device, msg.kind, msg.data,
                                         _actor())
            reply: dict[str, Any] = {"ok": True, **taken}
            if msg.kind == "rating_given" and not taken["duplicate"]:
                try:
                    reply["evaluation"] = evaluations.rate_from_device_input(_ctx(), msg.station, msg.data, _actor())
                except DomainError as exc:
                    # A permanent refusal (unknown subject, rated already): the input is taken, not to be resent.
                    reply["rating_rejected"] = {"code": exc.code, "message": exc.message}
            return reply
        except Exception as exc:
            return _fail(exc)

    def on_command_result(data: Any = None) -> dict[str, Any]:
        try:
            msg = CommandResultMsg.model_validate(data or {})
            if auth_required():
                require_station(Identity(_actor(), station=_station()), msg.station)
            recorded = devices.record_command_result(_ctx(), msg.station, msg.command_id, msg.ok, msg.error,
                                                     msg.result, _actor())
            return {"ok": True, **recorded}  # "ok" acknowledges the record; the command's own ok is inside
        except Exception as exc:
            return _fail(exc)

    def on_disconnect(*_args: Any) -> None:
        station = session.get("station")
        if station:
            try:
                prior = [d for d in devices.stations_health(_ctx()) if d["station"] == station and d["device"] == "agent"]
                detail = prior[0]["detail"] if prior else {}
                devices.report_health(_ctx(), station, "agent", "offline", detail, _actor())
            except Exception:  # the process may be shutting down; the next hello corrects it
                log.warning("could not record agent %s going offline", station)

    socketio.on_event("disconnect", on_disconnect)
    socketio.on_event("agent_hello", on_agent_hello)
    socketio.on_event("device_health", on_device_health)
    socketio.on_event("device_input", on_device_input)
    socketio.on_event("command_result", on_command_result)
    socketio.on_event("connect", on_connect)
    socketio.on_event("subscribe", on_subscribe)
    socketio.on_event("resync", on_resync)
    socketio.on_event("issue_ticket", on_issue_ticket)
    socketio.on_event("window_action", on_window_action)


def _unknown(kind: str, ident: str) -> None:
    raise NotFound(f"{kind} {ident!r} does not exist", code=f"{kind}_not_found")
