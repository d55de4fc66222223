"""REST handlers of the case module (intake, back office, issuance, evaluations): parse, authorise, call one service.

Who may call each route (the roles) and which case, window or station they may touch is the declared policy's
(policy.py), checked by ``auth.enforce_route`` before a handler runs. The handlers add only what is finer than the
policy: approvers are limited to their departments (passed to the service, which checks it inside its
transaction), the window a body names must be the clerk's, a window step is for the case's own handlers, approvers
mark only themselves absent, and ratings are refused from any staff session even without required login.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from ..auth import Forbidden, auth_required, current_identity, handles_case, require_case_handler
from ..domain.evaluations import Channel, StaffCannotRate
from ..services import evaluations as evaluation_service
from ..services.cases import back_office, intake, issuance, notices, outcomes, queues, views
from ..services.staff import StaffMember
from . import bp
from .bounds import DbId
from .errors import ApiError
from .openapi import document
from .routes import body, ctx, current_actor
from .schemas import EmptyBody


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntakeBody(Body):
    item_id: str = Field(min_length=1, max_length=40)
    applicant_name: str = Field(min_length=1, max_length=80)
    id_number: str = Field(max_length=18, description="validated; kept whole in the case file, masked everywhere else")
    phone: str | None = Field(default=None, max_length=20)
    materials: list[str] = Field(description="one mark per checklist entry: original | copy | missing | e_licence")
    ticket_id: DbId | None = Field(default=None, description="the ticket being served at the window")
    window_id: str | None = Field(default=None, max_length=40)
    source: Literal["window", "online"] = "window"


class DeficiencyBody(Body):
    undertaking: bool = Field(description="the applicant signed the 容缺 undertaking")
    supply_by: date | None = Field(default=None, description="deadline for the missing materials; at most the "
                                   "promised deadline")


class MaterialsBody(Body):
    materials: list[str]


class RejectBody(Body):
    reasons: list[str] = Field(min_length=1)
    legal_basis: str | None = Field(default=None, max_length=200)


class DecideBody(Body):
    approved: bool
    reasons: list[str] = Field(default=[], description="审批意见; required when denying")
    legal_basis: str | None = Field(default=None, max_length=200)


class SuspendBody(Body):
    procedure: Literal["hearing", "testing", "expert_review", "other"]
    reason: str = Field(min_length=1, max_length=200)


class ReassignBody(Body):
    username: str = Field(min_length=1, max_length=40)


class AbsenceBody(Body):
    absent: bool
    reason: str | None = Field(default=None, max_length=100)


class HandOverBody(Body):
    receiver_name: str = Field(min_length=1, max_length=80)
    proxy: bool = False
    window_id: str | None = Field(default=None, max_length=40)


class CourierBody(Body):
    carrier: str = Field(min_length=1, max_length=40)
    tracking_number: str = Field(min_length=6, max_length=40)


class WithdrawBody(Body):
    reason: str = Field(default="申请人撤回", max_length=200)


class PrintBody(Body):
    station: str = Field(min_length=1, max_length=40, description="the station whose printer prints the 80 mm slip, e.g. kiosk-1")


class PersonBody(Body):
    id_number: str = Field(max_length=18)


class InviteBody(Body):
    ticket_id: DbId | None = None
    case_id: DbId | None = None
    window_id: str | None = Field(default=None, max_length=40)
    start_pad: bool = True


class RateBody(Body):
    level: int = Field(ge=1, le=5, description="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意")
    indicators: list[int] = Field(default=[], description="fixed indicator codes; required for levels 1 and 2")
    comment: str | None = Field(default=None, max_length=500)


class PadRatingBody(Body):
    station: str = Field(min_length=1, max_length=40)
    subject: str = Field(max_length=40, description="the ticket or case number the pad was started with")
    level: int = Field(ge=1, le=5)
    reason: int | None = None
    session: str | None = Field(default=None, max_length=8)


class FollowUpStepBody(Body):
    step: Literal["verify", "rectify", "reply", "return_visit"]
    note: str = Field(min_length=1, max_length=1000)
    substantiated: bool | None = None
    satisfied: bool | None = None


# ---------------------------------------------------------------- authorisation helpers


def _staff() -> StaffMember | None:
    """The calling member of staff, whose role the route's policy has already admitted (every route using this
    admits staff only); None without required login, when nothing is restricted."""
    return current_identity().staff if auth_required() else None


def _scope(member: StaffMember | None, back_office: bool = False) -> list[str] | None:
    """Departments an approver may act for; None: no restriction (supervisors, and window staff at the window)."""
    if member is None or member.has("supervisor", "admin"):
        return None
    if not back_office and member.has("window_staff"):
        return None
    return list(member.departments)


def _handler(member: StaffMember | None, case_id: int) -> None:
    """Refuse a member of staff who does not handle the case (see auth.handles_case). Finer than the policy's
    own_case, which also admits the issuance windows' clerks to every case (they hand results out): they may
    collect and hand over any case, but not take another window's case's other steps or read its notices."""
    if member is not None:
        h = views.case_handlers(ctx(), case_id)
        require_case_handler(member, h.number, h.taker, h.window_id, h.department_id)


def _case_view(member: StaffMember | None, case_id: int) -> dict[str, Any]:
    """The case page: whole ID number and phone for those who handle it, masked for another clerk (who may
    need to find it, e.g. at the pick-up window)."""
    h = views.case_handlers(ctx(), case_id)
    whole = handles_case(member, h.taker, h.window_id, h.department_id)
    return views.get_case(ctx(), case_id, _scope(member), whole_id=whole)


# Window-stage steps anyone at a window may take for any case: collecting the result is not the intake clerk's.
_ANY_WINDOW_STEPS = ("issuance-ticket", "hand-over", "courier")


def _window_member(window_id: str | None) -> StaffMember | None:
    """The caller, who must be assigned to the window the body names: the policy's own_window sees only a
    window in the URL."""
    member = _staff()
    if member is not None and window_id and member.has("window_staff") and not member.has("supervisor", "admin") \
            and window_id not in member.windows:
        raise Forbidden(f"you are not assigned to window {window_id}", code="wrong_window")
    return member


# ---------------------------------------------------------------- intake and the window's outcomes

document("/cases", "post", "收件: record an application from the served ticket or an online filing",
         body=IntakeBody, tag="cases", responses={"201": "recorded"})


@bp.post("/cases")
def case_intake() -> ResponseReturnValue:
    b = body(IntakeBody)
    member = _window_member(b.window_id)
    # Finer than the policy (which admits approvers for their online filings): window intake is window work.
    if member is not None and b.source == "window" and not member.has("window_staff", "supervisor", "admin"):
        raise Forbidden("intake at a window needs the role window_staff", code="wrong_role")
    out = intake.intake(ctx(), intake.IntakeRequest(**b.model_dump()), current_actor())
    return jsonify(out), 201


document("/cases", "get", "cases (approvers: their departments), newest first; personal data masked", tag="cases",
         params=[{"name": "status", "in": "query", "schema": {"type": "string"}, "description": "comma separated"},
                 {"name": "mine", "in": "query", "schema": {"type": "boolean"}}])


@bp.get("/cases")
def case_list() -> ResponseReturnValue:
    member = _staff()
    statuses = [s for s in (request.args.get("status") or "").split(",") if s]
    mine = request.args.get("mine") in ("1", "true")
    assignee = member.username if (member is not None and mine) else None
    if member is not None and member.has("window_staff") and not member.has("supervisor", "admin"):
        # a window clerk's list: cases taken at their windows, or of their departments
        return {"cases": queues.list_cases(ctx(), member.departments, statuses, assignee,
                                                 windows=member.windows)}
    return {"cases": queues.list_cases(ctx(), _scope(member, back_office=True), statuses, assignee)}


document("/cases/<id:case_id>", "get", "one case: whole file, notices, suspensions, deadline, history",
         tag="cases")


@bp.get("/cases/<id:case_id>")
def case_get(case_id: int) -> ResponseReturnValue:
    return {"case": _case_view(_staff(), case_id)}


document("/cases/by-number/<number>", "get", "find a case by its number (HZ-20261126-0001)", tag="cases")


@bp.get("/cases/by-number/<number>")
def case_by_number(number: str) -> ResponseReturnValue:
    member = _staff()
    return {"case": _case_view(member, views.case_id_for_number(ctx(), number))}


def _case_action(name: str, summary: str, model: type[BaseModel], back_office: bool, call: Any) -> None:
    path = f"/cases/<id:case_id>/{name}"
    document(path, "post", summary, body=model, tag="cases")

    def handler(case_id: int) -> ResponseReturnValue:
        member = _staff()
        if not back_office and name not in _ANY_WINDOW_STEPS:
            _handler(member, case_id)  # clerk2 may not reject or withdraw a case taken at w01 (issue 9)
        b = body(model)
        return call(case_id, b, current_actor(), _scope(member, back_office))

    handler.__name__ = f"case_{name.replace('-', '_')}"
    bp.add_url_rule(path, view_func=handler, methods=["POST"])


# The roles of each step are the policy's (api.case_<name>); back_office: the approver's departments limit it.
_CASE_ACTIONS: list[tuple[str, str, type[BaseModel], bool, Any]] = [
    ("accept", "受理: materials complete; issues the 受理通知书", EmptyBody, False,
     lambda i, b, a, d: outcomes.accept(ctx(), i, a, d)),
    ("accept-with-deficiency", "容缺受理: only secondary materials missing, with the applicant's undertaking",
     DeficiencyBody, False,
     lambda i, b, a, d: outcomes.accept_with_deficiency(ctx(), i, a, b.undertaking, b.supply_by, d)),
    ("request-correction", "补齐补正: tell everything missing at once", EmptyBody, False,
     lambda i, b, a, d: outcomes.request_correction(ctx(), i, a, d)),
    ("resubmit", "the corrected materials are handed in", MaterialsBody, False,
     lambda i, b, a, d: outcomes.resubmit(ctx(), i, b.materials, a, d)),
    ("reject", "不予受理 with reasons and legal basis", RejectBody, False,
     lambda i, b, a, d: outcomes.reject(ctx(), i, b.reasons, a, b.legal_basis, d)),
    ("decide-now", "即办件: decide on the spot", DecideBody, False,
     lambda i, b, a, d: outcomes.decide_now(ctx(), i, b.approved, b.reasons, a, b.legal_basis, d)),
    ("decide", "back office: approve, or deny with reasons", DecideBody, True,
     lambda i, b, a, d: back_office.decide(ctx(), i, b.approved, b.reasons, a, b.legal_basis, d)),
    ("supply", "the 容缺 materials have been handed in", EmptyBody, False,
     lambda i, b, a, d: back_office.supply_deficiency(ctx(), i, a, d)),
    ("suspend", "stop the clock for a hearing, testing or expert review", SuspendBody, True,
     lambda i, b, a, d: back_office.suspend(ctx(), i, b.procedure, b.reason, a, d)),
    ("resume", "restart the clock; the deadline moves by the suspended working days", EmptyBody, True,
     lambda i, b, a, d: back_office.resume(ctx(), i, a, d)),
    ("reassign", "hand the case to another approver of its department", ReassignBody, True,
     lambda i, b, a, d: queues.reassign(ctx(), i, b.username, a)),
    ("withdraw", "the applicant withdraws", WithdrawBody, False,
     lambda i, b, a, d: outcomes.withdraw(ctx(), i, b.reason, a)),
    ("issuance-ticket", "a ticket in the issuance queue to collect the result", EmptyBody, False,
     lambda i, b, a, d: issuance.issuance_ticket(ctx(), i, a)),
    ("hand-over", "出件 at the window: who took the result", HandOverBody, False,
     lambda i, b, a, d: issuance.hand_over(ctx(), i, b.receiver_name, a, b.proxy, b.window_id)),
    ("courier", "出件 by courier, with the tracking number", CourierBody, False,
     lambda i, b, a, d: issuance.send_by_courier(ctx(), i, b.carrier, b.tracking_number, a)),
]

for _n, _s, _m, _bo, _c in _CASE_ACTIONS:
    _case_action(_n, _s, _m, _bo, _c)


# ---------------------------------------------------------------- supervision, A/B posts

document("/supervision/cases", "get", "电子监察: yellow (deadline near) and red (overdue) cases", tag="cases")


@bp.get("/supervision/cases")
def case_supervision() -> ResponseReturnValue:
    return queues.supervision(ctx())


document("/approvers/<username>/absence", "post", "AB岗: mark an approver absent (new work to the backup) or back",
         body=AbsenceBody, tag="cases")


@bp.post("/approvers/<username>/absence")
def approver_absence(username: str) -> ResponseReturnValue:
    member = _staff()
    # The policy's "self" scope is this check: no generic check knows a username in the URL is the caller's.
    if member is not None and not member.has("supervisor", "admin") and member.username != username:
        raise Forbidden("approvers mark only themselves absent; a supervisor marks others", code="not_yourself")
    b = body(AbsenceBody)
    return queues.set_absence(ctx(), username, b.absent, b.reason, current_actor())


# ---------------------------------------------------------------- notices

document("/notices/<id:notice_id>", "get", "a notice as issued (content for the A4 page)", tag="cases")


@bp.get("/notices/<id:notice_id>")
def notice_get(notice_id: int) -> ResponseReturnValue:
    member = _staff()
    _handler(member, notices.notice_case(ctx(), notice_id))
    return {"notice": notices.get_notice(ctx(), notice_id, _scope(member))}


document("/notices/<id:notice_id>/slip", "get", "the notice as an 80 mm printer document", tag="cases")


@bp.get("/notices/<id:notice_id>/slip")
def notice_slip(notice_id: int) -> ResponseReturnValue:
    member = _staff()
    _handler(member, notices.notice_case(ctx(), notice_id))
    return {"document": notices.notice_slip(ctx(), notice_id, _scope(member))}


document("/notices/<id:notice_id>/print", "post", "print the 80 mm slip at a station's printer", body=PrintBody,
         tag="cases")


@bp.post("/notices/<id:notice_id>/print")
def notice_print(notice_id: int) -> ResponseReturnValue:
    member = _staff()
    b = body(PrintBody)
    return notices.print_notice(ctx(), notice_id, b.station, current_actor(), _scope(member))


# ---------------------------------------------------------------- the citizen's side: tracker, kiosk

document("/case-tracker/<token>", "get", "the tracker's view of a case (by the QR on its notice)", tag="cases")


@bp.get("/case-tracker/<token>")
def case_tracker(token: str) -> ResponseReturnValue:
    return {"case": views.case_status_for_tracker(ctx(), token)}


document("/case-tracker/<token>/issuance-ticket", "post", "the citizen (kiosk or phone) takes a pick-up ticket",
         body=EmptyBody, tag="cases")


@bp.post("/case-tracker/<token>/issuance-ticket")
def case_tracker_ticket(token: str) -> ResponseReturnValue:
    body(EmptyBody)
    return issuance.issuance_ticket_for_token(ctx(), token, current_actor("kiosk"))


document("/cases/by-person", "post", "kiosk ID-card tap: this person's cases (device token; number in the body)",
         body=PersonBody, tag="cases")


@bp.post("/cases/by-person")
def cases_by_person() -> ResponseReturnValue:
    b = body(PersonBody)
    return {"cases": views.cases_for_person(ctx(), b.id_number)}


# ---------------------------------------------------------------- 好差评

document("/evaluations/invitations", "post", "open a rating (the window's pad asks; the QR link works too)",
         body=InviteBody, tag="evaluations")


@bp.post("/evaluations/invitations")
def evaluation_invite() -> ResponseReturnValue:
    b = body(InviteBody)
    member = _staff()
    windows = None if member is None or member.has("supervisor", "admin") else member.windows
    if (b.ticket_id is None) == (b.case_id is None):
        raise ApiError(422, "subject_required", "give exactly one of ticket_id or case_id")
    if b.ticket_id is not None:
        return evaluation_service.invite_for_ticket(ctx(), b.ticket_id, current_actor(), b.window_id, b.start_pad,
                                                    windows)
    assert b.case_id is not None
    return evaluation_service.invite_for_case(ctx(), b.case_id, current_actor(), b.window_id, b.start_pad, windows)


document("/evaluate/<token>", "get", "what the rating page shows: subject, levels, fixed indicators",
         tag="evaluations")


@bp.get("/evaluate/<token>")
def evaluation_form(token: str) -> ResponseReturnValue:
    return evaluation_service.evaluation_form(ctx(), token)


document("/evaluate/<token>", "post", "the citizen rates (phone or kiosk); refused from any staff session",
         body=RateBody, tag="evaluations", responses={"201": "recorded", "403": "staff may not rate"})


@bp.post("/evaluate/<token>")
def evaluation_rate(token: str) -> ResponseReturnValue:
    ident = current_identity()
    if ident.staff is not None:  # the policy refuses staff too, but only with required login; this holds always
        raise StaffCannotRate("staff may not rate on a citizen's behalf; the citizen rates on the evaluator pad, "
                              "the kiosk or their own phone")
    b = body(RateBody)
    actor = current_actor("citizen")
    channel = Channel.KIOSK if ident.station is not None else Channel.QR  # a kiosk proves itself by its token
    out = evaluation_service.rate(ctx(), token, b.level, b.indicators, b.comment, actor, channel)
    return jsonify(out), 201


document("/evaluations/pad", "post", "the evaluator pad's rating, relayed by its station's agent (device token)",
         body=PadRatingBody, tag="evaluations", responses={"201": "recorded"})


@bp.post("/evaluations/pad")
def evaluation_pad() -> ResponseReturnValue:
    ident = current_identity()
    if ident.staff is not None:
        raise StaffCannotRate("staff may not rate on a citizen's behalf")
    b = body(PadRatingBody)
    out = evaluation_service.rate_from_pad(ctx(), b.station, b.subject, b.level, b.reason, current_actor("device"),
                                           session=b.session)
    return jsonify(out), 201


document("/followups", "get", "差评 follow-ups (open ones unless all=1), with their supervision colour",
         tag="evaluations", params=[{"name": "all", "in": "query", "schema": {"type": "boolean"}}])


@bp.get("/followups")
def followup_list() -> ResponseReturnValue:
    return {"followups": evaluation_service.list_followups(ctx(), request.args.get("all") not in ("1", "true"))}


document("/followups/<id:followup_id>", "get", "one follow-up with its history", tag="evaluations")


@bp.get("/followups/<id:followup_id>")
def followup_get(followup_id: int) -> ResponseReturnValue:
    return {"followup": evaluation_service.get_followup(ctx(), followup_id)}


document("/followups/<id:followup_id>/steps", "post", "核实 → 整改 → 回复 → 回访", body=FollowUpStepBody,
         tag="evaluations")


@bp.post("/followups/<id:followup_id>/steps")
def followup_step(followup_id: int) -> ResponseReturnValue:
    b = body(FollowUpStepBody)
    return {"followup": evaluation_service.followup_step(ctx(), followup_id, b.step, b.note, current_actor(),
                                                         b.substantiated, b.satisfied)}


document("/evaluations/export", "get", "evaluations for the provincial system (docs/evaluations-export.md)",
         tag="evaluations", content=("application/x-ndjson", "text/csv"),
         params=[{"name": "format", "in": "query", "schema": {"type": "string", "enum": ["jsonl", "csv"]}},
                 {"name": "since", "in": "query", "schema": {"type": "string", "format": "date"}},
                 {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"}}])


@bp.get("/evaluations/export")
def evaluation_export() -> ResponseReturnValue:
    fmt = request.args.get("format", "jsonl")
    try:
        since = date.fromisoformat(request.args["since"]) if request.args.get("since") else None
        until = date.fromisoformat(request.args["until"]) if request.args.get("until") else None
    except ValueError:
        raise ApiError(400, "bad_parameter", "since and until are dates like 2026-11-26") from None
    text = "".join(evaluation_service.export(ctx(), fmt, since, until))
    mimetype = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    return Response(text, mimetype=mimetype, headers={"Content-Disposition":
                                                      f"attachment; filename=evaluations.{fmt}"})
