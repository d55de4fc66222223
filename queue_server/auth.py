"""Who is asking: a member of staff (login session + CSRF token), a device agent (bearer token), or a citizen.

Handlers call ``request_actor()`` to record who acted and ``require_*`` to refuse what the actor may not do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import ValidationError as CSRFError

from .domain.errors import DomainError
from .policy import ROUTES, Caller, Rule, Scope
from .services import ownership
from .services import staff as staff_service
from .services.context import Actor, HallContext
from .services.staff import StaffMember
from .services.tickets import Grants

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
log = logging.getLogger("onewindow.auth")


class Unauthorized(DomainError):
    code = "not_logged_in"


class Forbidden(DomainError):
    code = "forbidden"


@dataclass(frozen=True)
class Identity:
    actor: Actor
    staff: StaffMember | None = None
    station: str | None = None  # a device agent's station
    via_session: bool = False


def _ctx() -> HallContext:
    return current_app.extensions["onewindow"]


def staff_from_session(data: Any) -> StaffMember | None:
    """The logged-in member of staff, if the session is still valid: its server-side row not revoked (logout),
    the account not disabled, the password not changed since."""
    staff_id = data.get("staff_id") if data else None
    sid = data.get("sid") if data else None
    if staff_id is None or not sid:
        return None
    try:
        member = staff_service.session_member(_ctx().engine, str(sid), int(staff_id))
    except (TypeError, ValueError):
        return None
    if member is None or member.disabled or member.session_version != data.get("session_version"):
        return None
    return member


def identity_from_token(raw: str | None) -> Identity | None:
    if not raw:
        return None
    station = staff_service.station_for_token(_ctx().engine, raw)
    if station is None:
        raise Unauthorized("unknown or revoked device token; create one with `onewindow devices token STATION`",
                           code="bad_device_token")
    return Identity(Actor("device", station), station=station)


def current_identity() -> Identity:
    """Resolved once per request: bearer token, else login session, else an anonymous citizen."""
    if "identity" in g:
        return g.identity
    header = request.headers.get("Authorization", "")
    ident = identity_from_token(header[7:].strip()) if header.lower().startswith("bearer ") else None
    if ident is None:
        ident = identity_from_session(session)
    g.identity = ident
    return ident


def identity_from_session(data: Any) -> Identity:
    """A login cookie's identity: a member of staff, a kiosk browser enrolled with its station's token, or an
    anonymous citizen. Used by REST requests and by Socket.IO connections alike."""
    member = staff_from_session(data)
    if member is not None:
        return Identity(Actor("staff", member.username), staff=member, via_session=True)
    station = kiosk_from_session(data)
    if station is not None:
        return Identity(Actor("kiosk", station), station=station, via_session=True)
    return Identity(Actor("citizen", "anonymous"))


def kiosk_from_session(data: Any) -> str | None:
    """The station a kiosk browser enrolled as, while the token it enrolled with is not revoked."""
    station, hashed = (data.get("kiosk_station"), data.get("kiosk_token")) if data else (None, None)
    if not station or not hashed:
        return None
    return station if staff_service.station_for_token_hash(_ctx().engine, str(hashed)) == station else None


def enroll_kiosk(raw_token: str) -> str:
    """Make this browser session the kiosk station whose token it shows (the kiosk PC's Chromium, once)."""
    ident = identity_from_token(raw_token)
    assert ident is not None and ident.station is not None
    if Caller.KIOSK not in callers_of(ident):
        raise Forbidden(f"station {ident.station} is not a kiosk in devices.toml", code="not_a_kiosk")
    session.clear()
    session["kiosk_station"] = ident.station
    session["kiosk_token"] = staff_service.token_hash(raw_token)
    session.permanent = True  # a kiosk stays enrolled across reboots of its browser
    return ident.station


def csrf_token() -> str:
    return generate_csrf()


def check_csrf() -> None:
    """State-changing requests made with a login cookie must carry the page's CSRF token."""
    if request.method not in UNSAFE:
        return
    ident = current_identity()
    if not ident.via_session:
        return
    token = request.headers.get("X-CSRF-Token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token)
    except CSRFError:
        raise Forbidden("missing or stale CSRF token; reload the page and try again", code="csrf_failed") from None


def auth_required() -> bool:
    return bool(current_app.extensions["onewindow.settings"].auth_required)


def require_staff(member: StaffMember | None, *roles: str) -> StaffMember:
    if member is None:
        raise Unauthorized("log in first / 请先登录")
    if roles and not member.has(*roles, "admin"):
        raise Forbidden(f"this needs the role {' or '.join(roles)}; you have {', '.join(member.roles)}",
                        code="wrong_role")
    return member


def require_window(member: StaffMember | None, window_id: str) -> StaffMember:
    """Window actions: staff assigned to that window, or a supervisor."""
    member = require_staff(member, "window_staff", "supervisor")
    if member.has("supervisor", "admin") or window_id in member.windows:
        return member
    raise Forbidden(f"you are not assigned to window {window_id}; your windows: {', '.join(member.windows) or 'none'}",
                    code="wrong_window")


def ticket_grants(ident: Identity) -> Grants:
    """What this caller may grant on a ticket it takes: staff any class; a station (agent token or enrolled kiosk
    browser) the elderly class of its own reader's card reads; anyone else nothing (see tickets.Grants). Without
    required login (a development hall) the self-named X-Actor is believed, as everywhere else."""
    if not auth_required():
        return Grants.of(ident.actor)
    return Grants(staff=ident.staff is not None, station=ident.station)


def is_hall_wide(member: StaffMember) -> bool:
    """Supervisors (and admins) act on every window, station and case of the hall."""
    return member.has("supervisor", "admin")


def handles_case(member: StaffMember | None, taker: str | None, window_id: str | None, department_id: str) -> bool:
    """Who handles a case: the clerk who took it or staff of its window, its department's approvers (and staff
    assigned to that department), supervisors. Without required login (member None) everyone."""
    if member is None or is_hall_wide(member) or department_id in member.departments:
        return True
    return member.has("window_staff") and (taker == member.username or (window_id or "") in member.windows)


def require_case_handler(member: StaffMember | None, number: str, taker: str | None, window_id: str | None,
                         department_id: str) -> None:
    if not handles_case(member, taker, window_id, department_id):
        raise Forbidden(f"办件 {number} was taken at window {window_id or '(online)'}; only its clerk, its "
                        "department or a supervisor may act on it", code="not_your_case")


def require_station(ident: Identity, station: str) -> None:
    """Agent events: the device token's own station only."""
    if ident.station is None:
        raise Unauthorized("device messages need a device token", code="device_token_required")
    if ident.station != station:
        raise Forbidden(f"this token belongs to station {ident.station}, not {station}", code="wrong_station")


# ---------------------------------------------------------------------------------------------- the declared policy


def callers_of(ident: Identity) -> frozenset[Caller]:
    """The policy identities this caller has: staff by their roles, a device token by its station's role."""
    if ident.staff is not None:
        return frozenset(Caller(r) for r in ident.staff.roles if r in Caller.__members__.values())
    if ident.station is not None:
        stations = _ctx().stations
        binding = stations.get(ident.station) if stations is not None else None
        # Without a devices file stations are unbound: a token may act as a kiosk, never for a window.
        kiosk = binding.role == "kiosk" if binding is not None else stations is None
        return frozenset({Caller.DEVICE, Caller.KIOSK} if kiosk else {Caller.DEVICE})
    return frozenset({Caller.ANONYMOUS})


def allowed(rule: Rule, ident: Identity) -> bool:
    return bool(rule.who & callers_of(ident))


def refuse(rule: Rule, ident: Identity, what: str) -> DomainError:
    """The error for a caller the rule does not admit: 401 for an anonymous caller, 403 otherwise."""
    roles = ", ".join(sorted(c.value for c in rule.who))
    if rule.refusal is not None:
        return Forbidden(rule.refusal[1], code=rule.refusal[0])
    if callers_of(ident) == {Caller.ANONYMOUS}:
        if rule.who & {Caller.DEVICE, Caller.KIOSK}:
            return Unauthorized(f"{what} needs a device token (a station's agent)", code="device_token_required")
        return Unauthorized(f"{what} needs a login or a device token (allowed: {roles}) / 请先登录")
    return Forbidden(f"{what} is for {roles}; you are {', '.join(sorted(c.value for c in callers_of(ident)))}",
                     code="wrong_role")


def require_own_station(ident: Identity, station: str) -> None:
    """A station's devices: its own agent; staff of the window the station serves; supervisor, technician,
    admin any station."""
    if ident.station is not None:
        if ident.station != station:
            raise Forbidden(f"this token belongs to station {ident.station}, not {station}", code="wrong_station")
        return
    member = ident.staff
    if member is None:
        raise Unauthorized("station commands need a login or the station's device token", code="not_logged_in")
    if member.has("supervisor", "technician", "admin"):
        return
    window = _ctx().station_window(station)
    if window is None or window not in member.windows:
        raise Forbidden(f"station {station} does not serve your windows ({', '.join(member.windows) or 'none'})",
                        code="wrong_station")


def enforce_route() -> ResponseReturnValue | None:
    """Before every request: the endpoint's declared rule admits the caller, and the window or station in the
    URL is theirs. An endpoint missing from the table is refused (the coverage test names it)."""
    if not auth_required() or request.endpoint is None:
        return None
    rule = ROUTES.get(request.endpoint)
    ident = current_identity()
    if rule is None:
        log.error("no access rule declared for endpoint %s; refused", request.endpoint)
        raise Forbidden(f"{request.endpoint} has no declared access rule", code="no_policy")
    if not allowed(rule, ident):
        if request.endpoint.startswith("backoffice.") and ident.actor.kind == "citizen":
            return redirect(url_for("backoffice.login_page", next=request.full_path))
        raise refuse(rule, ident, f"{request.method} {request.path}")
    for scope in rule.scopes:
        check_scope(scope, ident, request.view_args or {})
    return None


def check_scope(scope: Scope, ident: Identity, args: dict[str, Any]) -> None:
    """The object scope of a rule, for the object the URL (or, for a station, the body) names."""
    if scope is Scope.OWN_WINDOW and "window_id" in args:
        require_window(ident.staff, str(args["window_id"]))
    elif scope is Scope.OWN_STATION and "station" in args:
        require_own_station(ident, str(args["station"]))
    elif scope is Scope.OWN_STATION and request.method in UNSAFE:
        # Kiosk and print routes name their station in the body: the caller's own (or a window's clerk's).
        data = request.get_json(silent=True, cache=True)
        station = data.get("station") if isinstance(data, dict) else None
        if isinstance(station, str):
            require_own_station(ident, station)
    elif scope is Scope.OWN_CASE and args.keys() & {"case_id", "notice_id", "number"}:
        require_own_case(ident.staff, ownership.case_owner(
            _ctx(), case_id=args.get("case_id"), notice_id=args.get("notice_id"), number=args.get("number")))
    elif scope is Scope.OWN_TICKET and "ticket_id" in args:
        require_own_ticket(ident.staff, ownership.ticket_windows(_ctx(), int(args["ticket_id"])))


def require_own_case(member: StaffMember | None, owner: ownership.CaseOwner | None) -> None:
    """Cases: those taken at the clerk's windows or sitting in the caller's departments; the issuance windows'
    staff any case (they hand results out); supervisors and admins every case. An unknown case is the
    handler's 404."""
    if owner is None or member is None or member.has("supervisor", "admin"):
        return
    if owner.department_id in member.departments or (owner.window_id and owner.window_id in member.windows):
        return
    if member.has("window_staff"):
        from .services.cases.settings import issuance_queue

        queue = issuance_queue(_ctx())
        if queue is not None and set(member.windows) & ownership.issuance_windows(_ctx(), queue):
            return
    if not member.has("window_staff"):
        raise Forbidden(f"this case belongs to department {owner.department_id}; you decide for "
                        f"{', '.join(member.departments) or 'no department'}", code="wrong_department")
    raise Forbidden("this case was taken at another window and belongs to another department; ask its window or "
                    "department (or a supervisor)", code="not_your_case")


def require_own_ticket(member: StaffMember | None, windows: set[str] | None) -> None:
    """Tickets: those of the clerk's windows (serving, holding, sent to, or waiting in a queue they call)."""
    if windows is None or member is None or member.has("supervisor", "admin"):
        return
    if windows & set(member.windows):
        return
    raise Forbidden(f"this ticket belongs to window {', '.join(sorted(windows))}, not yours "
                    f"({', '.join(member.windows) or 'none'})", code="not_your_ticket")
