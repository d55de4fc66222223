"""Who may call what, and who may see which event: one declared table for every HTTP route and Socket.IO event.

The table is data. ``auth.enforce_route`` checks the *caller* part of every request against it before the view
runs (a route missing from the table is refused: fail closed), and the Socket.IO dispatcher does the same for
events. The *object* part (which window, station, case a caller may touch) is checked generically for the scopes
named here that a URL or payload carries (``window_id``, ``station``) and by the services for the rest (cases by
department and taker, tickets by window). ``tests/unit/server/test_policy_coverage.py`` fails when a route, an
event or an event kind has no entry; ``tests/unit/server/test_policy_matrix.py`` calls every route as every
identity and compares the answer with this table.

Nothing here imports Flask or the database, so services, the CLI and tests can all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Caller(StrEnum):
    """The identities of the trust model (shared/design/architecture.md)."""

    ANONYMOUS = "anonymous"  # a phone, a hall screen, a kiosk page, anyone on the hall's Wi-Fi
    KIOSK = "kiosk"  # a kiosk station: its agent's device token (a station of role "kiosk" in devices.toml)
    DEVICE = "device"  # any device station's agent (token), bound to its station and, for windows, its window
    WINDOW_STAFF = "window_staff"  # staff assigned to windows; object scope: their own windows
    APPROVER = "approver"  # a department's back-office approver; object scope: their departments
    SUPERVISOR = "supervisor"
    TECHNICIAN = "technician"
    ADMIN = "admin"


class Scope(StrEnum):
    """Which objects a caller may touch, beyond being allowed to call at all."""

    ANY = "any"  # nothing caller-specific (public data, or the whole hall for the roles allowed)
    OWN_WINDOW = "own_window"  # the URL's window_id: window staff only their own windows (supervisor, admin: any)
    OWN_STATION = "own_station"  # the station named in the URL/body: a device token only its own station;
    #                              window staff only their window's station; supervisor, technician, admin: any
    OWN_CASE = "own_case"  # cases the clerk took or that sit in the approver's departments (supervisor: any)
    OWN_TICKET = "own_ticket"  # a ticket of the clerk's windows/queues (supervisor: any)
    HOLDER = "holder"  # whoever holds the secret token in the URL (tracker, case QR, rating link)
    SELF = "self"  # the caller's own session


A = Caller
EVERYONE = frozenset(Caller)
STAFF = frozenset({A.WINDOW_STAFF, A.APPROVER, A.SUPERVISOR, A.TECHNICIAN, A.ADMIN})
WINDOW = frozenset({A.WINDOW_STAFF, A.SUPERVISOR, A.ADMIN})
CASE_STAFF = frozenset({A.WINDOW_STAFF, A.APPROVER, A.SUPERVISOR, A.ADMIN})
BACK_OFFICE = frozenset({A.APPROVER, A.SUPERVISOR, A.ADMIN})
SUPERVISION = frozenset({A.SUPERVISOR, A.ADMIN})
TECH = frozenset({A.SUPERVISOR, A.TECHNICIAN, A.ADMIN})
KIOSK_ONLY = frozenset({A.KIOSK})
DEVICES = frozenset({A.DEVICE, A.KIOSK})


@dataclass(frozen=True)
class Rule:
    who: frozenset[Caller]
    scope: Scope
    touches: str  # what it reads or changes, for people: the README table is built from this
    # (code, message) for callers it refuses, where a generic "wrong role" would not tell them why
    refusal: tuple[str, str] | None = None
    also: Scope | None = None  # a second object the call touches (a case's notice printed at a station)

    @property
    def scopes(self) -> tuple[Scope, ...]:
        return (self.scope,) if self.also is None else (self.scope, self.also)

    @property
    def public(self) -> bool:
        return A.ANONYMOUS in self.who


def rule(who: frozenset[Caller], scope: Scope, touches: str, refusal: tuple[str, str] | None = None,
         also: Scope | None = None) -> Rule:
    return Rule(who, scope, touches, refusal, also)


_PUBLIC_PAGE = rule(EVERYONE, Scope.ANY, "a page shell or static file; its data comes through the API")
_STATIC = rule(EVERYONE, Scope.ANY, "static files")

ROUTES: dict[str, Rule] = {
    # ------------------------------------------------------------------ meta and hall (public data only)
    "api.health": rule(EVERYONE, Scope.ANY, "liveness and the service day"),
    "api.openapi": rule(EVERYONE, Scope.ANY, "the API description"),
    "api.hall": rule(EVERYONE, Scope.ANY, "the hall's public configuration"),
    "api.items": rule(EVERYONE, Scope.ANY, "the public service catalogue"),
    "api.queues": rule(EVERYONE, Scope.ANY, "waiting counts and estimated waits"),
    "api.snapshot": rule(EVERYONE, Scope.ANY, "what a hall screen shows: numbers, windows, counts"),
    "live.stream": rule(EVERYONE, Scope.ANY, "the public live stream (WebSocket): public events of the hall or of "
                                             "one zone, window or queue, as they are committed"),
    "api.events": rule(EVERYONE, Scope.ANY, "missed events: public projections for anyone; staff: the staff "
                                            "log; a device: its own station's events"),
    # ------------------------------------------------------------------ tickets
    "api.issue": rule(EVERYONE, Scope.ANY, "takes a normal ticket; priority only when the caller may grant it"),
    "api.get_ticket": rule(WINDOW, Scope.OWN_TICKET, "one ticket, staff view"),
    "api.track": rule(EVERYONE, Scope.HOLDER, "the tracker's own ticket, by its secret token"),
    "api.requeue": rule(WINDOW, Scope.OWN_TICKET, "puts a missed ticket of the clerk's windows back in line"),
    "api.cancel": rule(WINDOW, Scope.OWN_TICKET, "cancels a waiting ticket of the clerk's queues"),
    # ------------------------------------------------------------------ windows
    "api.list_windows": rule(EVERYONE, Scope.ANY, "every window's state and current number"),
    "api.held": rule(WINDOW, Scope.OWN_WINDOW, "the window's held tickets"),
    "api.window_card_read": rule(WINDOW, Scope.OWN_WINDOW, "the ID card just read at the window's own reader, "
                                                           "whole, for its intake form (once)"),
    "api.waiting": rule(WINDOW, Scope.OWN_WINDOW, "the window's waiting lists"),
    "api.request_evaluation": rule(WINDOW, Scope.OWN_WINDOW, "asks the window's own pad for a rating of the "
                                                             "service the window just finished"),
    **{f"api.window_{a}": rule(WINDOW, Scope.OWN_WINDOW, f"window action {a.replace('_', '-')} on the window")
       for a in ("open", "call_next", "call", "recall", "start", "finish", "no_show", "hold", "call_back",
                 "transfer", "pause", "resume", "close")},
    # ------------------------------------------------------------------ device stations
    "api.stations": rule(STAFF, Scope.ANY, "every station's device health"),
    "api.station_command": rule(WINDOW | {A.TECHNICIAN}, Scope.OWN_STATION,
                                "a command to a station's device (window staff: their window's station)"),
    # ------------------------------------------------------------------ staff login
    "api.login": rule(EVERYONE, Scope.SELF, "logs in; throttled per account and per client address"),
    "api.logout": rule(EVERYONE, Scope.SELF, "ends the caller's own session (revoked on the server)"),
    "api.me": rule(EVERYONE, Scope.SELF, "the caller's own login and CSRF token"),
    # ------------------------------------------------------------------ kiosk
    "api.kiosk_enroll": rule(EVERYONE, Scope.SELF, "enrols the caller's browser as the kiosk whose device token "
                                                   "it shows"),
    "api.kiosk_config": rule(EVERYONE, Scope.ANY, "tiles, flows and public item data"),
    "api.kiosk_search": rule(EVERYONE, Scope.ANY, "public item search"),
    "api.kiosk_guide": rule(EVERYONE, Scope.ANY, "an item's public guide"),
    "api.kiosk_destination": rule(EVERYONE, Scope.ANY, "where a guided flow leads"),
    "api.kiosk_status": rule(EVERYONE, Scope.ANY, "whether a kiosk can print now (no personal data)"),
    "api.kiosk_identify": rule(KIOSK_ONLY | STAFF, Scope.OWN_STATION,
                               "a card read at the kiosk's own station: masked greeting and tickets"),
    "api.kiosk_ticket": rule(KIOSK_ONLY, Scope.OWN_STATION, "takes a ticket at the kiosk and prints it there"),
    "api.kiosk_checkin": rule(KIOSK_ONLY, Scope.OWN_STATION, "checks in a valid, unused appointment code at the "
                                                             "kiosk"),
    "api.kiosk_print_checklist": rule(KIOSK_ONLY, Scope.OWN_STATION, "prints a public checklist at the kiosk"),
    "api.kiosk_print_failed": rule(KIOSK_ONLY, Scope.OWN_STATION, "raises an alert for the kiosk's own station"),
    "api.kiosk_alerts": rule(STAFF, Scope.ANY, "kiosk alerts"),
    "api.kiosk_book": rule(WINDOW, Scope.ANY, "books an appointment (staff, or a booking system's staff login)"),
    "api.kiosk_appointment": rule(WINDOW, Scope.ANY, "one appointment and its check-in window"),
    "api.kiosk_cancel_appointment": rule(WINDOW, Scope.ANY, "cancels a booked appointment"),
    # ------------------------------------------------------------------ cases
    "api.case_intake": rule(CASE_STAFF, Scope.OWN_WINDOW, "records an application at the clerk's window (approvers: "
                                                          "online filings of their departments)"),
    "api.case_list": rule(CASE_STAFF, Scope.OWN_CASE, "cases the caller handles; personal data masked"),
    "api.case_get": rule(CASE_STAFF, Scope.OWN_CASE, "one case; whole ID and phone only for its handlers"),
    "api.case_by_number": rule(CASE_STAFF, Scope.OWN_CASE, "one case by number"),
    "api.case_supervision": rule(SUPERVISION, Scope.ANY, "yellow and red case lists"),
    "api.approver_absence": rule(BACK_OFFICE, Scope.SELF, "marks the caller (supervisor: anyone) absent/back"),
    "api.notice_get": rule(CASE_STAFF, Scope.OWN_CASE, "a notice of a case the caller handles"),
    "api.notice_slip": rule(CASE_STAFF, Scope.OWN_CASE, "a notice's slip document"),
    "api.notice_print": rule(CASE_STAFF, Scope.OWN_STATION, "prints a notice of a case the caller handles at the "
                                                            "clerk's own station", also=Scope.OWN_CASE),
    "api.case_tracker": rule(EVERYONE, Scope.HOLDER, "a case's progress, by the QR token on its notice"),
    "api.case_tracker_ticket": rule(EVERYONE, Scope.HOLDER, "a pick-up ticket for the case whose token is held"),
    "api.cases_by_person": rule(KIOSK_ONLY | STAFF, Scope.OWN_STATION, "a person's cases after a card read"),
    **{f"api.case_{a}": rule(CASE_STAFF, Scope.OWN_CASE, f"window step {a.replace('_', '-')} of a case the caller "
                                                          "handles")
       for a in ("accept", "accept_with_deficiency", "request_correction", "resubmit", "reject", "decide_now",
                 "supply")},
    **{f"api.case_{a}": rule(WINDOW, Scope.OWN_CASE, f"issuance step {a.replace('_', '-')} of a case the caller "
                                                     "handles")
       for a in ("withdraw", "issuance_ticket", "hand_over", "courier")},
    **{f"api.case_{a}": rule(BACK_OFFICE, Scope.OWN_CASE, f"back-office step {a} for the approver's departments")
       for a in ("decide", "suspend", "resume")},
    "api.case_reassign": rule(SUPERVISION, Scope.ANY, "hands a case to another approver of its department"),
    # ------------------------------------------------------------------ evaluations (好差评)
    "api.evaluation_invite": rule(WINDOW, Scope.OWN_TICKET, "opens a rating of a service the clerk's window gave; "
                                                            "the token goes to the citizen only"),
    "api.evaluation_form": rule(EVERYONE, Scope.HOLDER, "the rating page's content, by its token"),
    "api.evaluation_rate": rule(EVERYONE - STAFF, Scope.HOLDER, "the citizen rates (never from a staff session)",
                                refusal=("staff_cannot_rate", "staff may not rate on a citizen's behalf; the citizen "
                                         "rates on the evaluator pad or their own phone / 工作人员不得代为评价")),
    "api.evaluation_pad": rule(frozenset({A.DEVICE}), Scope.OWN_STATION,
                               "a pad rating from the window station's own agent"),
    "api.evaluation_export": rule(SUPERVISION, Scope.ANY, "ratings for the provincial system"),
    "api.followup_list": rule(SUPERVISION, Scope.ANY, "差评 follow-ups"),
    "api.followup_get": rule(SUPERVISION, Scope.ANY, "one follow-up"),
    "api.followup_step": rule(SUPERVISION, Scope.ANY, "a follow-up step"),
    # ------------------------------------------------------------------ pages
    "pages.index": _PUBLIC_PAGE,
    "static": _STATIC,
    "kiosk.page": _PUBLIC_PAGE,
    "kiosk.qr_svg": rule(EVERYONE, Scope.ANY, "a QR image of a given text"),
    "kiosk.static": _STATIC,
    "kiosk.version": _PUBLIC_PAGE,
    "display.index": _PUBLIC_PAGE,
    "display.hall": _PUBLIC_PAGE,
    "display.window": _PUBLIC_PAGE,
    "display.tracker": rule(EVERYONE, Scope.HOLDER, "the tracker page of the ticket whose token is held"),
    "display.citizen_case": rule(EVERYONE, Scope.HOLDER, "the case page of the case whose token is held"),
    "display.citizen_case_status": rule(EVERYONE, Scope.HOLDER, "the case status of the token held"),
    "display.citizen_evaluate": rule(EVERYONE, Scope.HOLDER, "the rating page of the token held"),
    "display.staff_photo": rule(EVERYONE, Scope.ANY, "the on-duty photo shown on the window-top screen"),
    "display.static": _STATIC,
    "display.version": _PUBLIC_PAGE,
    "display.hours": rule(EVERYONE, Scope.ANY, "whether tickets are issued now and when next (public hours)"),
    "display.voice_base": _STATIC,
    "display.voice_clip": _STATIC,
    "display.voice_manifest": _STATIC,
    "backoffice.static": _STATIC,
    "backoffice.login_page": _PUBLIC_PAGE,
    "backoffice.home": rule(STAFF, Scope.SELF, "the staff home: links to the caller's own pages"),
    "backoffice.case_for_ticket": rule(WINDOW, Scope.OWN_TICKET, "where a called ticket of the clerk's window "
                                       "leads: its case to hand over, its case, or intake"),
    "backoffice.panel_page": rule(WINDOW, Scope.OWN_WINDOW, "the window panel (only the clerk's own windows)"),
    "backoffice.cases_page": rule(CASE_STAFF, Scope.OWN_CASE, "the case list"),
    "backoffice.intake_page": rule(WINDOW, Scope.ANY, "the intake form"),
    "backoffice.case_page": rule(CASE_STAFF, Scope.OWN_CASE, "one case"),
    "backoffice.supervision_page": rule(SUPERVISION, Scope.ANY, "supervision of cases and follow-ups"),
    "backoffice.notice_page": rule(CASE_STAFF, Scope.OWN_CASE, "a printable notice"),
    # ------------------------------------------------------------------ supervisor and technician (issue 13)
    "backoffice.overview_page": rule(SUPERVISION, Scope.ANY, "the live hall overview (wall screen)"),
    "backoffice.overview_data": rule(SUPERVISION, Scope.ANY, "windows, queues, station marks and open alerts"),
    "backoffice.alerts_page": rule(SUPERVISION, Scope.ANY, "the 电子监察 alert log"),
    "backoffice.alerts_data": rule(TECH, Scope.ANY, "alerts (open or all)"),
    "backoffice.alert_ack": rule(TECH, Scope.ANY, "acknowledges an alert with a note, recorded with the actor"),
    "backoffice.reports_page": rule(SUPERVISION, Scope.ANY, "statistics and reports"),
    "backoffice.reports_data": rule(SUPERVISION, Scope.ANY, "aggregate ticket, case, rating, appointment figures"),
    "backoffice.reports_export": rule(SUPERVISION, Scope.ANY, "a report's tables as CSV or XLSX"),
    "backoffice.assessment_page": rule(SUPERVISION, Scope.ANY, "the monthly staff assessment (printable A4)"),
    "backoffice.assessment_export": rule(SUPERVISION, Scope.ANY, "the monthly staff assessment as XLSX"),
    "backoffice.devices_page": rule(TECH, Scope.ANY, "device health of every station"),
    "backoffice.devices_data": rule(TECH, Scope.ANY, "device health, last commands, fault history, kiosk alerts"),
    "backoffice.device_test": rule(TECH, Scope.OWN_STATION, "a test print or test LED text at a station"),
    "backoffice.kiosk_alert_ack": rule(TECH, Scope.ANY, "acknowledges a kiosk alert with a note"),
    "backoffice.admin_page": rule(SUPERVISION, Scope.ANY, "staff administration"),
    "backoffice.admin_data": rule(SUPERVISION, Scope.ANY, "staff accounts (no passwords) and the audit log"),
    "backoffice.admin_add": rule(SUPERVISION, Scope.ANY, "adds a member of staff; the password is shown once"),
    "backoffice.admin_assign": rule(SUPERVISION, Scope.ANY, "sets a member of staff's roles and windows "
                                                           "(admin role: admins only)"),
    "backoffice.admin_state": rule(SUPERVISION, Scope.ANY, "disables, enables, unlocks, resets a password"),
    "backoffice.admin_revoke": rule(SUPERVISION, Scope.ANY, "revokes a station's device tokens"),
}

# Socket.IO events a client may send. "connect" and "disconnect" are the transport's own and always allowed.
EVENTS: dict[str, Rule] = {
    "subscribe": rule(EVERYONE, Scope.ANY, "joins public rooms; the staff room for staff; a station's room for "
                                           "that station only; a ticket's room by its token"),
    "resync": rule(EVERYONE, Scope.ANY, "events missed in the rooms already joined"),
    "issue_ticket": rule(EVERYONE, Scope.ANY, "as POST /tickets"),
    "window_action": rule(WINDOW, Scope.OWN_WINDOW, "a window action on the clerk's own window"),
    "agent_hello": rule(DEVICES, Scope.OWN_STATION, "the agent joins its own station's room (and its configured "
                                                    "window's); the window comes from devices.toml"),
    "device_health": rule(DEVICES, Scope.OWN_STATION, "a health report for its own station"),
    "device_input": rule(DEVICES, Scope.OWN_STATION, "a card read, scan or rating at its own station"),
    "command_result": rule(DEVICES, Scope.OWN_STATION, "the result of a command sent to its own station"),
}


class Audience(StrEnum):
    """Who receives an event kind (and in which form)."""

    PUBLIC = "public"  # the hall room (every screen) and the rooms named by the event: a public projection
    STAFF = "staff"  # the staff room only (logged-in staff)
    STATION = "station"  # the station's room with the whole payload; the staff room with a redacted projection


AUDIENCES: dict[str, Audience] = {
    **{k: Audience.PUBLIC for k in (
        "ticket_issued", "ticket_called", "ticket_recalled", "ticket_started", "ticket_finished", "ticket_no_show",
        "ticket_held", "ticket_transferred", "ticket_requeued", "ticket_cancelled", "window_state", "queue_stats",
        "day_rolled_over")},
    # Cases and ratings: their rooms (department, case, window) are joined by staff only; the hall room never.
    **{k: Audience.STAFF for k in (
        "case_received", "case_updated", "evaluation_recorded", "kiosk_alert",
        "alert_raised", "alert_closed", "alert_acknowledged",
        "storage_health")},  # the database is read-only/full/down, and when it came back (services/storage_health)
    **{k: Audience.STATION for k in ("device_health", "device_input", "device_command", "command_result")},
}

# Fields of a station event that the staff room may see; everything else (a print job's document, say) stays
# with the station that needs it.
STATION_EVENT_STAFF_FIELDS: dict[str, tuple[str, ...]] = {
    "device_health": ("station", "device", "status", "detail", "updated_at", "reported_by"),
    "device_input": ("station", "device", "kind", "input_id"),
    "device_command": ("command_id", "station", "device", "command", "by"),
    "command_result": ("command_id", "station", "ok", "error"),
}


def audience_of(kind: str) -> Audience:
    """The audience of an event kind; an undeclared kind is staff-only (fail closed) and the coverage test
    names it."""
    return AUDIENCES.get(kind, Audience.STAFF)


def _who(r: Rule) -> str:
    if r.public:
        return "anyone" if r.who == EVERYONE else "anyone but " + ", ".join(sorted(c.value for c in EVERYONE - r.who))
    return ", ".join(c.value for c in Caller if c in r.who)


def markdown_table(routes: list[tuple[str, str, str]]) -> str:
    """The README's "Who can do what" table: (endpoint, methods, path) of every route, then every event and every
    event kind's audience. Static files and page shells are summarised in one line."""
    lines = ["| request | who may call | scope | what it touches |", "|---|---|---|---|"]
    shells = []
    for endpoint, methods, path in sorted(routes, key=lambda r: (r[2], r[1])):
        r = ROUTES[endpoint]
        if r in (_PUBLIC_PAGE, _STATIC):
            shells.append(f"`{path}`")
            continue
        lines.append(f"| `{methods} {path}` | {_who(r)} | {' + '.join(s.value for s in r.scopes)} | {r.touches} |")
    lines.append(f"| page shells and static files ({len(shells)}) | anyone | any | no data of their own |")
    lines += ["", "| Socket.IO event | who may send | scope | what it touches |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {_who(r)} | {r.scope.value} | {r.touches} |" for name, r in EVENTS.items()]
    lines += ["", "| audience | event kinds |", "|---|---|"]
    for aud in Audience:
        kinds = ", ".join(f"`{k}`" for k, a in AUDIENCES.items() if a is aud)
        lines.append(f"| {aud.value} | {kinds} |")
    return "\n".join(lines) + "\n"
