"""Use cases of a case (办件): intake, the window's outcomes with their notices, the back office, issuance.

One use case = one function = one transaction, then its events. Authorisation by role is the handler's; the
department restriction of approvers is passed in (``departments``) and enforced here, inside the transaction.
Event payloads and the tracker view carry no personal data but the masked name.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, or_, select, update

from ..domain import deadlines as dl
from ..domain import notices as nt
from ..domain.cases import (
    EVALUABLE,
    FINAL,
    IN_PROGRESS,
    MARK_ZH,
    STATUS_ZH,
    Approver,
    CaseAction,
    CaseStatus,
    Mark,
    case_number,
    check_marks,
    may_decide,
    next_status,
    route,
    shortfalls,
)
from ..domain.errors import DomainError, InvalidInput, InvalidTransition, NotFound
from ..domain.hall import ItemKind, ServiceItem
from ..domain.privacy import mask_id, mask_name, mask_phone, validate_id_number
from ..store.cases_schema import approver_presence, case_log, case_notices, case_suspensions, cases
from ..store.db import read_tx
from ..store.schema import day_counters, staff, tickets
from . import devices
from .case_log import history, log, tx
from .case_settings import settings_of
from .context import Actor, HallContext
from .evaluations import ensure_request, request_for_subject
from .events import append_event

PHONE_RE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
PROCEDURES = {"hearing": "听证", "testing": "检验检测", "expert_review": "专家评审", "other": "其他特别程序"}


class Forbidden(DomainError):
    code = "wrong_department"


# ---------------------------------------------------------------- helpers


def next_counter(conn: Connection, hall_id: str, kind: str, key: str, period: str) -> int:
    where = ((day_counters.c.hall_id == hall_id) & (day_counters.c.kind == kind) & (day_counters.c.key == key)
             & (day_counters.c.service_day == period))
    value = conn.execute(update(day_counters).where(where).values(value=day_counters.c.value + 1)
                         .returning(day_counters.c.value)).scalar()
    if value is None:
        conn.execute(day_counters.insert().values(hall_id=hall_id, kind=kind, key=key, service_day=period, value=1))
        value = 1
    return value


def _item(ctx: HallContext, item_id: str) -> ServiceItem:
    try:
        return ctx.config.item(item_id)
    except KeyError:
        raise NotFound(f"service item {item_id!r} does not exist", code="item_not_found") \
            from None


def _department_name(ctx: HallContext, dept: str) -> str:
    return next((d.name for d in ctx.config.departments if d.id == dept), dept)


def _get(conn: Connection, ctx: HallContext, case_id: int) -> Row:
    row = conn.execute(select(cases).where(cases.c.id == case_id, cases.c.hall_id == ctx.hall_id)).first()
    if row is None:
        raise NotFound(f"case {case_id} does not exist", code="case_not_found")
    return row


def _by_token(conn: Connection, ctx: HallContext, token: str) -> Row:
    row = conn.execute(select(cases).where(cases.c.tracker_token == token, cases.c.hall_id == ctx.hall_id)).first()
    if row is None:
        raise NotFound("no case has this code; scan the QR on your notice again", code="case_not_found")
    return row


def _suspensions(conn: Connection, case_id: int) -> list[dl.Suspension]:
    rows = conn.execute(select(case_suspensions).where(case_suspensions.c.case_id == case_id)
                        .order_by(case_suspensions.c.id)).all()
    return [dl.Suspension(date.fromisoformat(r.started_on), date.fromisoformat(r.ended_on) if r.ended_on else None,
                          r.reason) for r in rows]


def _due(ctx: HallContext, conn: Connection, c: Row) -> date | None:
    if c.accepted_on is None:
        return None
    return dl.deadline(ctx.calendar, date.fromisoformat(c.accepted_on), c.promised_days, _suspensions(conn, c.id))


def _today(ctx: HallContext) -> date:
    return ctx.local().date()


def tracker_url(ctx: HallContext, token: str) -> str:
    return f"{ctx.config.hall.tracker_base_url.rstrip('/')}/case/{token}"


def public_case(ctx: HallContext, c: Row) -> dict[str, Any]:
    """What may leave the back office: no ID number, no phone, the name masked."""
    item = ctx.config.item(c.item_id) if c.item_id in {i.id for i in ctx.config.items} else None
    return {"id": c.id, "number": c.number, "item_id": c.item_id, "item_name": item.name if item else c.item_id,
            "department_id": c.department_id, "department_name": _department_name(ctx, c.department_id),
            "kind": c.kind, "source": c.source, "status": c.status, "status_zh": STATUS_ZH[CaseStatus(c.status)],
            "applicant": c.applicant_label, "received_at": ctx.local(c.received_at).isoformat(timespec="seconds"),
            "accepted_at": ctx.local(c.accepted_at).isoformat(timespec="seconds") if c.accepted_at else None,
            "due_on": c.due_on,
            "decision": c.decision, "assignee": c.assignee}


def _light(ctx: HallContext, c: Row) -> str | None:
    if CaseStatus(c.status) not in IN_PROGRESS:
        return None
    due = date.fromisoformat(c.due_on) if c.due_on else None
    return dl.light(ctx.calendar, _today(ctx), due, settings_of(ctx).warning_days).value


def staff_case(ctx: HallContext, c: Row, *, whole_id: bool = False) -> dict[str, Any]:
    """The back office's view: contact details masked in lists; the whole ID number only on the case page."""
    view = public_case(ctx, c)
    item = _item(ctx, c.item_id)
    marks = [Mark(m) for m in c.materials]
    view.update(
        applicant_name=c.applicant_name,
        applicant_id=c.applicant_id_number if whole_id else mask_id(c.applicant_id_number),
        applicant_phone=(c.applicant_phone if whole_id else mask_phone(c.applicant_phone)) if c.applicant_phone
        else None,
        ticket_id=c.ticket_id, window_id=c.window_id, light=_light(ctx, c),
        materials=[{"index": i, "name": m.name, "original": m.original, "copies": m.copies,
                    "tolerance": m.tolerance, "e_licence": m.e_licence, "mark": mk.value, "mark_zh": MARK_ZH[mk]}
                   for i, (m, mk) in enumerate(zip(item.materials, marks, strict=True))],
        shortfalls=[{"index": s.index, "name": s.name, "why": s.why, "tolerance": s.tolerance}
                    for s in shortfalls(item.materials, marks)],
        correction=c.correction, deficiency=c.deficiency, decision_reasons=c.decision_reasons,
        decided_at=c.decided_at.isoformat() if c.decided_at else None, decided_by=c.decided_by,
        delivery=c.delivery, issuance_ticket_id=c.issuance_ticket_id, tracker_token=c.tracker_token,
        tracker_url=tracker_url(ctx, c.tracker_token),
    )
    return view


def _emit(conn: Connection, ctx: HallContext, c: Row, type_: str, at: datetime, published: list[dict]) -> None:
    rooms = [f"department:{c.department_id}", f"case:{c.id}"]
    if c.window_id:
        rooms.append(f"window:{c.window_id}")
    published.append(append_event(conn, ctx.hall_id, type_, public_case(ctx, c), rooms, at))


def _move(conn: Connection, ctx: HallContext, c: Row, action: CaseAction, actor: Actor, at: datetime,
          published: list[dict], values: dict[str, Any] | None = None, detail: dict[str, Any] | None = None) -> Row:
    target = next_status(action, CaseStatus(c.status), c.number)
    conn.execute(update(cases).where(cases.c.id == c.id).values(status=target.value, updated_at=at, **(values or {})))
    log(conn, ctx, "case", c.id, at, action.value, c.status, target.value, actor, detail)
    row = _get(conn, ctx, c.id)
    _emit(conn, ctx, row, "case_updated", at, published)
    return row


def _check_department(c: Row, departments: Iterable[str] | None) -> None:
    if not may_decide(c.department_id, departments):
        raise Forbidden(f"办件 {c.number} belongs to department {c.department_id}; you decide for "
                        f"{', '.join(departments or []) or 'no department'}")


def _party(ctx: HallContext, c: Row, item: ServiceItem) -> nt.NoticeParty:
    s = settings_of(ctx)
    return nt.NoticeParty(case_number=c.number, applicant=c.applicant_name,
                          applicant_id_masked=mask_id(c.applicant_id_number), item=item.name,
                          department=_department_name(ctx, c.department_id), office=s.accepting_office,
                          complaint_phone=s.complaint_phone or ctx.config.hall.complaint_phone,
                          tracker_url=tracker_url(ctx, c.tracker_token), received_at=ctx.local(c.received_at),
                          category=item.category.value)


def _notice(conn: Connection, ctx: HallContext, c: Row, kind: nt.NoticeKind, at: datetime, actor: Actor,
            build: Any) -> dict[str, Any]:
    """Number, build and store a notice; ``build(party, number, local_time)`` returns the Notice."""
    s = settings_of(ctx)
    local = ctx.local(at)
    seq = next_counter(conn, ctx.hall_id, "notice", kind.value, str(local.year))
    number = nt.notice_number(s.office_short, kind, local.year, seq)
    notice = build(_party(ctx, c, _item(ctx, c.item_id)), number, local)
    content = notice.to_dict()
    notice_id = conn.execute(case_notices.insert().values(case_id=c.id, kind=kind.value, number=number, issued_at=at,
                                                          content=content, actor=str(actor))
                             .returning(case_notices.c.id)).scalar_one()
    log(conn, ctx, "case", c.id, at, "notice", c.status, c.status, actor, {"kind": kind.value, "number": number})
    return {"id": notice_id, **content}


def _approvers(conn: Connection, ctx: HallContext) -> list[Approver]:
    absent = {r.username for r in conn.execute(select(approver_presence.c.username).where(
        approver_presence.c.hall_id == ctx.hall_id, approver_presence.c.absent == 1))}
    return [Approver(r.username, tuple(r.departments), r.username in absent or bool(r.disabled))
            for r in conn.execute(select(staff.c.username, staff.c.roles, staff.c.departments, staff.c.disabled))
            if "approver" in (r.roles or [])]


def _result(conn: Connection, ctx: HallContext, c: Row, notice: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"case": staff_case(ctx, c)}
    if notice is not None:
        out["notice"] = notice
    return out


# ---------------------------------------------------------------- intake (收件)


@dataclass(frozen=True)
class IntakeRequest:
    item_id: str
    applicant_name: str
    id_number: str
    materials: list[str]
    phone: str | None = None
    ticket_id: int | None = None
    window_id: str | None = None
    source: str = "window"  # window | online
    extra: dict[str, Any] = field(default_factory=dict)


def intake(ctx: HallContext, req: IntakeRequest, actor: Actor) -> dict[str, Any]:
    """Record an application: from the ticket being served at a window, or from an online filing."""
    s = settings_of(ctx)
    item = _item(ctx, req.item_id)
    try:
        id_number = validate_id_number(req.id_number)
    except ValueError as exc:
        raise InvalidInput(f"id_number: {exc}", code="invalid_id_number") from None
    name = req.applicant_name.strip()
    if not 1 <= len(name) <= 80:
        raise InvalidInput("applicant_name: 1 to 80 characters", code="bad_name")
    phone = (req.phone or "").strip().replace(" ", "") or None
    if phone is not None and not PHONE_RE.match(phone):
        raise InvalidInput("phone: a mobile number (11 digits) or a landline like 0941-8212345", code="bad_phone")
    marks = check_marks(item.materials, req.materials)
    if req.source not in ("window", "online"):
        raise InvalidInput("source: window or online", code="bad_source")
    if req.source == "online" and req.ticket_id is not None:
        raise InvalidInput("an online filing has no ticket", code="bad_source")
    if req.window_id is not None and req.window_id not in {w.id for w in ctx.config.windows}:
        raise NotFound(f"window {req.window_id!r} does not exist", code="window_not_found")
    now = ctx.now()
    with tx(ctx) as (conn, published):
        window_id = req.window_id
        if req.ticket_id is not None:
            t = conn.execute(select(tickets).where(tickets.c.id == req.ticket_id,
                                                   tickets.c.hall_id == ctx.hall_id)).first()
            if t is None:
                raise NotFound(f"ticket {req.ticket_id} does not exist", code="ticket_not_found")
            if t.status not in ("called", "serving", "done"):
                raise InvalidTransition(f"ticket {t.number} is {t.status}; take in applications from the ticket being "
                                        "served", code="ticket_not_served")
            if window_id is not None and t.window_id not in (None, window_id):
                raise InvalidTransition(f"ticket {t.number} is served at window {t.window_id}, not {window_id}",
                                        code="wrong_window")
            window_id = window_id or t.window_id
        day = ctx.today(now)
        seq = next_counter(conn, ctx.hall_id, "case", s.number_prefix, day.isoformat())
        number = case_number(s, day, seq)
        case_id = conn.execute(cases.insert().values(
            hall_id=ctx.hall_id, number=number, service_day=day.isoformat(), item_id=item.id,
            department_id=item.department, kind=item.kind.value, source=req.source, ticket_id=req.ticket_id,
            window_id=window_id, status=CaseStatus.RECEIVED.value, applicant_name=name,
            applicant_id_number=id_number, applicant_label=mask_name(name), applicant_phone=phone,
            person_key=hmac.new(ctx.person_secret, id_number.encode(), hashlib.sha256).hexdigest(),
            materials=[m.value for m in marks], received_at=now, promised_days=item.promised_days,
            tracker_token=secrets.token_urlsafe(16), updated_at=now,
        ).returning(cases.c.id)).scalar_one()
        log(conn, ctx, "case", case_id, now, "intake", None, CaseStatus.RECEIVED.value, actor,
            {"item": item.id, "source": req.source, "ticket_id": req.ticket_id, "window_id": window_id,
             "materials": [m.value for m in marks]})
        c = _get(conn, ctx, case_id)
        _emit(conn, ctx, c, "case_received", now, published)
        out = _result(conn, ctx, c)
    return out


# ---------------------------------------------------------------- the window's outcomes


def _shortfalls(ctx: HallContext, c: Row) -> list[Any]:
    return shortfalls(_item(ctx, c.item_id).materials, [Mark(m) for m in c.materials])


def _assign(conn: Connection, ctx: HallContext, department: str) -> str | None:
    return route(department, settings_of(ctx).ab_posts, _approvers(conn, ctx))


def accept(ctx: HallContext, case_id: int, actor: Actor, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """受理: the checklist is complete; the promised deadline starts; the back office gets the case."""
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        _check_department(c, departments)
        next_status(CaseAction.ACCEPT, CaseStatus(c.status), c.number)
        if c.kind == ItemKind.IMMEDIATE.value:
            raise InvalidTransition(f"办件 {c.number} is an immediate item (即办件): decide it on the spot",
                                    code="immediate_item")
        missing = _shortfalls(ctx, c)
        if missing:
            raise InvalidTransition(
                f"办件 {c.number} is missing {len(missing)} material(s): "
                + "; ".join(f"{m.name}（{m.why}）" for m in missing)
                + ". Request a correction (补齐补正) or, for secondary materials only, accept with deficiency (容缺)",
                code="materials_missing", details={"missing": [m.name for m in missing]})
        on = ctx.local(now).date()
        due = dl.deadline(ctx.calendar, on, c.promised_days)
        assert due is not None
        assignee = _assign(conn, ctx, c.department_id)
        c = _move(conn, ctx, c, CaseAction.ACCEPT, actor, now, published,
                  {"accepted_at": now, "accepted_on": on.isoformat(), "due_on": due.isoformat(),
                   "assignee": assignee}, {"due_on": due.isoformat(), "assignee": assignee})
        notice = _notice(conn, ctx, c, nt.NoticeKind.ACCEPTANCE, now, actor,
                         lambda p, n, t: nt.acceptance(p, n, t, c.promised_days, due))
        return _result(conn, ctx, c, notice)


def accept_with_deficiency(ctx: HallContext, case_id: int, actor: Actor, undertaking: bool,
                           supply_by: date | None = None, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """容缺受理: only secondary materials missing, the applicant's written undertaking, a deadline for them no later
    than the promised deadline."""
    s = settings_of(ctx)
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        _check_department(c, departments)
        next_status(CaseAction.ACCEPT_WITH_DEFICIENCY, CaseStatus(c.status), c.number)
        if c.kind == ItemKind.IMMEDIATE.value:
            raise InvalidTransition(f"办件 {c.number} is an immediate item (即办件): decide it on the spot",
                                    code="immediate_item")
        missing = _shortfalls(ctx, c)
        if not missing:
            raise InvalidTransition(f"办件 {c.number} has every material; accept it normally", code="nothing_missing")
        primary = [m for m in missing if not m.tolerance]
        if primary:
            raise InvalidTransition(
                "容缺受理 is only for secondary materials; these main materials are missing: "
                + "; ".join(m.name for m in primary) + ". Request a correction (补齐补正) instead",
                code="main_material_missing", details={"missing": [m.name for m in primary]})
        if not undertaking:
            raise InvalidInput("容缺受理 needs the applicant's written undertaking (承诺书): set undertaking true once "
                               "signed", code="undertaking_required")
        on = ctx.local(now).date()
        due = dl.deadline(ctx.calendar, on, c.promised_days)
        assert due is not None
        if supply_by is None:  # never after the promised deadline (and never counting past it)
            supply_by = due if s.deficiency_days >= c.promised_days else ctx.calendar.add_workdays(on,
                                                                                                  s.deficiency_days)
        if supply_by > due:
            raise InvalidInput(f"the deadline for the missing materials ({supply_by}) may not be after the promised "
                               f"deadline ({due})", code="deficiency_deadline_too_late", details={"due_on": str(due)})
        if supply_by <= on:
            raise InvalidInput("the deadline for the missing materials must be after today", code="bad_deadline")
        assignee = _assign(conn, ctx, c.department_id)
        deficiency = {"items": [m.index for m in missing], "names": [m.name for m in missing],
                      "supply_by": supply_by.isoformat(), "undertaking": True, "supplied_at": None}
        c = _move(conn, ctx, c, CaseAction.ACCEPT_WITH_DEFICIENCY, actor, now, published,
                  {"accepted_at": now, "accepted_on": on.isoformat(), "due_on": due.isoformat(),
                   "assignee": assignee, "deficiency": deficiency},
                  {"due_on": due.isoformat(), "supply_by": supply_by.isoformat(), "missing": deficiency["names"],
                   "assignee": assignee})
        names = [f"{m.name}（{m.why}）" for m in missing]
        notice = _notice(conn, ctx, c, nt.NoticeKind.DEFICIENCY, now, actor,
                         lambda p, n, t: nt.deficiency(p, n, t, c.promised_days, due, names, supply_by))
        return _result(conn, ctx, c, notice)


def request_correction(ctx: HallContext, case_id: int, actor: Actor,
                       departments: Iterable[str] | None = None) -> dict[str, Any]:
    """补齐补正: everything missing, told at once, within the legal days of the (re)submission."""
    s = settings_of(ctx)
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        _check_department(c, departments)
        next_status(CaseAction.REQUEST_CORRECTION, CaseStatus(c.status), c.number)
        missing = _shortfalls(ctx, c)
        if not missing:
            raise InvalidTransition(f"办件 {c.number} has every material; nothing to correct", code="nothing_missing")
        prior = c.correction or {}
        submitted = datetime.fromisoformat(prior["resubmitted_at"]) if prior.get("resubmitted_at") else c.received_at
        submitted_on = ctx.local(submitted).date()
        if ctx.calendar.workdays_between(submitted_on, ctx.local(now).date()) > s.correction_within_days:
            raise InvalidTransition(
                f"办件 {c.number} was submitted on {submitted_on}; a correction must be requested within "
                f"{s.correction_within_days} working days, after that the application counts as accepted on receipt "
                "(行政许可法第三十二条). Accept it", code="correction_too_late")
        told_before = set(prior.get("told_all", []))
        if told_before and any(m.index not in told_before for m in missing):
            new = [m.name for m in missing if m.index not in told_before]
            raise InvalidTransition(
                "一次性告知: these materials were not in the earlier correction notice and may not be asked for now: "
                + "; ".join(new), code="not_told_at_once", details={"not_told": new})
        correction = {"told": [m.index for m in missing], "told_all": sorted(told_before | {m.index for m in missing}),
                      "names": [m.name for m in missing], "at": now.isoformat(),
                      "resubmitted_at": None, "rounds": int(prior.get("rounds", 0)) + 1}
        c = _move(conn, ctx, c, CaseAction.REQUEST_CORRECTION, actor, now, published, {"correction": correction},
                  {"missing": correction["names"]})
        names = [f"{m.name}（{m.why}）" for m in missing]
        notice = _notice(conn, ctx, c, nt.NoticeKind.CORRECTION, now, actor,
                         lambda p, n, t: nt.correction(p, n, t, names))
        return _result(conn, ctx, c, notice)


def resubmit(ctx: HallContext, case_id: int, materials: list[str], actor: Actor,
             departments: Iterable[str] | None = None) -> dict[str, Any]:
    """The applicant brings the corrected materials: the checklist is marked again, the case is received again."""
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        _check_department(c, departments)
        next_status(CaseAction.RESUBMIT, CaseStatus(c.status), c.number)
        marks = check_marks(_item(ctx, c.item_id).materials, materials)
        correction = {**(c.correction or {}), "resubmitted_at": now.isoformat()}
        c = _move(conn, ctx, c, CaseAction.RESUBMIT, actor, now, published,
                  {"materials": [m.value for m in marks], "correction": correction},
                  {"materials": [m.value for m in marks]})
        return _result(conn, ctx, c)


def _reasons(reasons: list[str], what: str) -> list[str]:
    clean = [r.strip() for r in reasons if r and r.strip()]
    if not clean:
        raise InvalidInput(f"{what} needs at least one reason", code="reasons_required")
    return clean


def _default_basis(ctx: HallContext, c: Row) -> str:
    """The legal basis a notice cites when the clerk names none: the licensing law only for a licensing item."""
    from ..domain.hall import ItemCategory

    if _item(ctx, c.item_id).category is ItemCategory.LICENSING:
        return settings_of(ctx).default_legal_basis
    return "有关法律、法规和政策规定"


def reject(ctx: HallContext, case_id: int, reasons: list[str], actor: Actor, legal_basis: str | None = None,
           departments: Iterable[str] | None = None) -> dict[str, Any]:
    """不予受理: written, with reasons, the legal basis and the right to 复议 or 诉讼."""
    s = settings_of(ctx)
    clean = _reasons(reasons, "不予受理")
    given_basis = (legal_basis or "").strip()
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        _check_department(c, departments)
        basis = given_basis or _default_basis(ctx, c)
        c = _move(conn, ctx, c, CaseAction.REJECT, actor, now, published,
                  {"decision": "rejected", "decision_reasons": clean, "decided_at": now, "decided_by": str(actor)},
                  {"reasons": clean, "legal_basis": basis})
        notice = _notice(conn, ctx, c, nt.NoticeKind.REJECTION, now, actor,
                         lambda p, n, t: nt.rejection(p, n, t, clean, basis, s.review_body, s.review_days, s.court,
                                                      s.litigation_months))
        _open_evaluation(conn, ctx, c, now, actor)
        return _result(conn, ctx, c, notice)


def decide_now(ctx: HallContext, case_id: int, approved: bool, reasons: list[str], actor: Actor,
               legal_basis: str | None = None, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """即办件: decided on the spot at the window; the result is handed out there."""
    s = settings_of(ctx)
    clean = [r.strip() for r in reasons if r and r.strip()] if approved else _reasons(reasons, "不予许可")
    given_basis = (legal_basis or "").strip()
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        _check_department(c, departments)
        basis = given_basis or _default_basis(ctx, c)
        next_status(CaseAction.DECIDE_NOW, CaseStatus(c.status), c.number)
        if c.kind != ItemKind.IMMEDIATE.value:
            raise InvalidTransition(f"办件 {c.number} is a promised item (承诺件): accept it and let the back office "
                                    "decide", code="promised_item")
        missing = _shortfalls(ctx, c)
        if approved and missing:
            raise InvalidTransition(f"办件 {c.number} is missing: " + "; ".join(m.name for m in missing),
                                    code="materials_missing", details={"missing": [m.name for m in missing]})
        on = ctx.local(now).date().isoformat()
        c = _move(conn, ctx, c, CaseAction.DECIDE_NOW, actor, now, published,
                  {"accepted_at": now, "accepted_on": on, "due_on": on, "decision": "approved" if approved else "denied",
                   "decision_reasons": clean, "decided_at": now, "decided_by": str(actor)},
                  {"approved": approved, "reasons": clean})
        notice = _notice(conn, ctx, c, nt.NoticeKind.DECISION, now, actor,
                         lambda p, n, t: nt.decision(p, n, t, approved, clean, basis, s.review_body, s.review_days,
                                                     s.court, s.litigation_months))
        _open_evaluation(conn, ctx, c, now, actor)
        return _result(conn, ctx, c, notice)


def withdraw(ctx: HallContext, case_id: int, reason: str, actor: Actor) -> dict[str, Any]:
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        c = _move(conn, ctx, c, CaseAction.WITHDRAW, actor, now, published, {"due_on": None},
                  {"reason": reason.strip() or "申请人撤回"})
        return _result(conn, ctx, c)


# ---------------------------------------------------------------- the back office


def _back_office(conn: Connection, ctx: HallContext, case_id: int, action: CaseAction,
                 departments: Iterable[str] | None) -> Row:
    c = _get(conn, ctx, case_id)
    _check_department(c, departments)
    next_status(action, CaseStatus(c.status), c.number)
    return c


def decide(ctx: HallContext, case_id: int, approved: bool, reasons: list[str], actor: Actor,
           legal_basis: str | None = None, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """办结: approve (准予许可) or deny (不予许可, with reasons); the result then waits for issuance."""
    s = settings_of(ctx)
    action = CaseAction.APPROVE if approved else CaseAction.DENY
    clean = [r.strip() for r in reasons if r and r.strip()] if approved else _reasons(reasons, "不予许可")
    given_basis = (legal_basis or "").strip()
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _back_office(conn, ctx, case_id, action, departments)
        basis = given_basis or _default_basis(ctx, c)
        if approved and c.deficiency and not c.deficiency.get("supplied_at"):
            raise InvalidTransition(
                f"办件 {c.number}: the 容缺 materials ({'; '.join(c.deficiency['names'])}) are not yet handed in "
                f"(due {c.deficiency['supply_by']}); record them first, or deny", code="deficiency_outstanding")
        c = _move(conn, ctx, c, action, actor, now, published,
                  {"decision": "approved" if approved else "denied", "decision_reasons": clean, "decided_at": now,
                   "decided_by": str(actor)}, {"reasons": clean, "due_on": c.due_on})
        notice = _notice(conn, ctx, c, nt.NoticeKind.DECISION, now, actor,
                         lambda p, n, t: nt.decision(p, n, t, approved, clean, basis, s.review_body, s.review_days,
                                                     s.court, s.litigation_months))
        _open_evaluation(conn, ctx, c, now, actor)
        return _result(conn, ctx, c, notice)


def supply_deficiency(ctx: HallContext, case_id: int, actor: Actor,
                      departments: Iterable[str] | None = None) -> dict[str, Any]:
    """The 容缺 materials have been handed in: the checklist is complete, the case may be approved."""
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _back_office(conn, ctx, case_id, CaseAction.SUPPLY, departments)
        if not c.deficiency or c.deficiency.get("supplied_at"):
            raise InvalidTransition(f"办件 {c.number} has no outstanding 容缺 materials", code="nothing_outstanding")
        marks = list(c.materials)
        for i in c.deficiency["items"]:
            marks[i] = Mark.ORIGINAL.value
        late = ctx.local(now).date() > date.fromisoformat(c.deficiency["supply_by"])
        deficiency = {**c.deficiency, "supplied_at": now.isoformat(), "late": late}
        c = _move(conn, ctx, c, CaseAction.SUPPLY, actor, now, published,
                  {"materials": marks, "deficiency": deficiency}, {"late": late})
        return _result(conn, ctx, c)


def suspend(ctx: HallContext, case_id: int, procedure: str, reason: str, actor: Actor,
            departments: Iterable[str] | None = None) -> dict[str, Any]:
    """Stop the clock for an excluded procedure (听证, 检验检测, 专家评审): the deadline moves when it resumes."""
    if procedure not in PROCEDURES:
        raise InvalidInput(f"procedure {procedure!r} unknown; one of {', '.join(PROCEDURES)}", code="bad_procedure")
    if not reason.strip():
        raise InvalidInput("a suspension needs a reason", code="reason_required")
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _back_office(conn, ctx, case_id, CaseAction.SUSPEND, departments)
        on = ctx.local(now).date().isoformat()
        conn.execute(case_suspensions.insert().values(case_id=c.id, procedure=procedure, reason=reason.strip(),
                                                      started_at=now, started_on=on, started_by=str(actor)))
        c = _move(conn, ctx, c, CaseAction.SUSPEND, actor, now, published, {"due_on": None},
                  {"procedure": procedure, "procedure_zh": PROCEDURES[procedure], "reason": reason.strip()})
        return _result(conn, ctx, c)


def resume(ctx: HallContext, case_id: int, actor: Actor, departments: Iterable[str] | None = None) -> dict[str, Any]:
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _back_office(conn, ctx, case_id, CaseAction.RESUME, departments)
        on = ctx.local(now).date().isoformat()
        conn.execute(update(case_suspensions).where(case_suspensions.c.case_id == c.id,
                                                    case_suspensions.c.ended_on.is_(None))
                     .values(ended_at=now, ended_on=on, ended_by=str(actor)))
        due = _due(ctx, conn, c)
        c = _move(conn, ctx, c, CaseAction.RESUME, actor, now, published,
                  {"due_on": due.isoformat() if due else None}, {"due_on": due.isoformat() if due else None})
        return _result(conn, ctx, c)


def reassign(ctx: HallContext, case_id: int, username: str, actor: Actor) -> dict[str, Any]:
    """A supervisor hands a case to another approver of its department."""
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        next_status(CaseAction.REASSIGN, CaseStatus(c.status), c.number)
        target = next((a for a in _approvers(conn, ctx) if a.username == username), None)
        if target is None or c.department_id not in target.departments:
            raise InvalidInput(f"{username!r} is not an approver of department {c.department_id}",
                               code="not_an_approver")
        c = _move(conn, ctx, c, CaseAction.REASSIGN, actor, now, published, {"assignee": username},
                  {"from": c.assignee, "to": username})
        return _result(conn, ctx, c)


def set_absence(ctx: HallContext, username: str, absent: bool, reason: str | None, actor: Actor) -> dict[str, Any]:
    """AB岗: mark an approver absent (new work goes to the named backup) or back."""
    now = ctx.now()
    with tx(ctx) as (conn, _published):
        if conn.execute(select(staff.c.id).where(staff.c.username == username)).first() is None:
            raise NotFound(f"no user named {username!r}", code="user_not_found")
        key = (approver_presence.c.hall_id == ctx.hall_id) & (approver_presence.c.username == username)
        values = {"absent": int(absent), "reason": (reason or "").strip() or None, "updated_at": now,
                  "actor": str(actor)}
        if conn.execute(update(approver_presence).where(key).values(**values)).rowcount == 0:
            conn.execute(approver_presence.insert().values(hall_id=ctx.hall_id, username=username, **values))
        log(conn, ctx, "approver", username, now, "absent" if absent else "present", None, None, actor,
            {"reason": values["reason"]})
    return {"username": username, "absent": absent, "reason": values["reason"]}


# ---------------------------------------------------------------- issuance (出件)


def _issuance_window_numbers(ctx: HallContext) -> list[int]:
    q = settings_of(ctx).issuance_queue
    return [w.number for w in ctx.config.windows if any(wq.queue == q for wq in w.queues)]


def issuance_ticket(ctx: HallContext, case_id: int, actor: Actor) -> dict[str, Any]:
    """A ticket in the issuance queue for collecting the result; the same open ticket if asked again.

    Issuing the ticket is the queue's own use case (its transaction, its events); linking it to the case is this
    one's. The state is checked before, and again when linking."""
    from . import tickets as ticket_service

    s = settings_of(ctx)
    with read_tx(ctx.engine) as conn:
        c = _get(conn, ctx, case_id)
        next_status(CaseAction.ISSUANCE_TICKET, CaseStatus(c.status), c.number)
        if c.issuance_ticket_id is not None:
            t = conn.execute(select(tickets).where(tickets.c.id == c.issuance_ticket_id)).first()
            if t is not None and t.status in ("waiting", "called", "serving", "held"):
                return {"case": staff_case(ctx, c), "ticket": ticket_service.ticket_view(conn, ctx, t),
                        "created": False}
    item = s.issuance_item if s.issuance_item and s.issuance_item in {i.id for i in ctx.config.items} else None
    result = ticket_service.issue_ticket(ctx, ticket_service.IssueRequest(
        queue_id=None if item else s.issuance_queue, item_id=item, source=f"case:{c.number}"), actor)
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        next_status(CaseAction.ISSUANCE_TICKET, CaseStatus(c.status), c.number)
        conn.execute(update(cases).where(cases.c.id == c.id).values(issuance_ticket_id=result.ticket["id"],
                                                                    updated_at=now))
        log(conn, ctx, "case", c.id, now, "issuance_ticket", c.status, c.status, actor,
            {"ticket_id": result.ticket["id"], "number": result.ticket["number"]})
        c = _get(conn, ctx, case_id)
        return {"case": staff_case(ctx, c), "ticket": result.ticket, "created": True}


def issuance_ticket_for_token(ctx: HallContext, token: str, actor: Actor) -> dict[str, Any]:
    """At the kiosk: the citizen scans the notice's QR and gets a pick-up ticket (no personal data returned)."""
    with read_tx(ctx.engine) as conn:
        case_id = _by_token(conn, ctx, token).id
    out = issuance_ticket(ctx, case_id, actor)
    with read_tx(ctx.engine) as conn:
        return {"case": _tracker_view(ctx, conn, _get(conn, ctx, case_id)), "ticket": out["ticket"],
                "created": out["created"]}


def hand_over(ctx: HallContext, case_id: int, receiver_name: str, actor: Actor, proxy: bool = False,
              window_id: str | None = None) -> dict[str, Any]:
    """The result handed over at the issuance window; who took it (the applicant, or a proxy with authority)."""
    receiver = receiver_name.strip()
    if not receiver:
        raise InvalidInput("receiver_name: who took the result", code="receiver_required")
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        delivery = {"method": "window", "receiver": receiver, "proxy": proxy, "window_id": window_id,
                    "at": now.isoformat(), "by": str(actor)}
        c = _move(conn, ctx, c, CaseAction.HAND_OVER, actor, now, published, {"delivery": delivery},
                  {"method": "window", "receiver": mask_name(receiver), "proxy": proxy, "window_id": window_id})
        return _result(conn, ctx, c)


def send_by_courier(ctx: HallContext, case_id: int, carrier: str, tracking_number: str, actor: Actor) -> dict[str, Any]:
    """快递送达: the result handed to the courier; the tracking number is recorded."""
    tracking = tracking_number.strip()
    if not re.fullmatch(r"[A-Za-z0-9-]{6,40}", tracking):
        raise InvalidInput("tracking_number: 6 to 40 letters, digits or '-'", code="bad_tracking_number")
    if not carrier.strip():
        raise InvalidInput("carrier: e.g. 中国邮政EMS", code="carrier_required")
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _get(conn, ctx, case_id)
        delivery = {"method": "courier", "carrier": carrier.strip(), "tracking_number": tracking,
                    "at": now.isoformat(), "by": str(actor)}
        c = _move(conn, ctx, c, CaseAction.COURIER, actor, now, published, {"delivery": delivery},
                  {"method": "courier", "carrier": carrier.strip(), "tracking_number": tracking})
        return _result(conn, ctx, c)


# ---------------------------------------------------------------- evaluation hook


def _open_evaluation(conn: Connection, ctx: HallContext, c: Row, at: datetime, actor: Actor) -> None:
    intake_by = conn.execute(select(case_log.c.actor).where(case_log.c.subject == "case",
                                                            case_log.c.subject_id == str(c.id),
                                                            case_log.c.action == "intake")).scalar()
    kind, _, who = (intake_by or "").partition(":")
    ensure_request(conn, ctx, "case", c.id, c.number, c.item_id, c.department_id, c.window_id,
                   who if kind == "staff" else None, at)


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class CaseHandlers:
    """Who handles a case, from its record: the clerk who took it, its window, its department."""

    number: str
    taker: str | None
    window_id: str | None
    department_id: str


def case_handlers(ctx: HallContext, case_id: int) -> CaseHandlers:
    with read_tx(ctx.engine) as conn:
        c = _get(conn, ctx, case_id)
        taken = conn.execute(select(case_log.c.actor).where(
            case_log.c.subject == "case", case_log.c.subject_id == str(c.id), case_log.c.action == "intake")).scalar()
    kind, _, who = (taken or "").partition(":")
    return CaseHandlers(c.number, who if kind == "staff" else None, c.window_id, c.department_id)


def notice_case(ctx: HallContext, notice_id: int) -> int:
    with read_tx(ctx.engine) as conn:
        case_id = conn.execute(select(case_notices.c.case_id).where(case_notices.c.id == notice_id)).scalar()
    if case_id is None:
        raise NotFound(f"notice {notice_id} does not exist", code="notice_not_found")
    return case_id


def get_case(ctx: HallContext, case_id: int, departments: Iterable[str] | None = None, *,
             whole_id: bool = True) -> dict[str, Any]:
    """The case page: every field, its notices, suspensions, deadline and history. The whole ID number and
    phone (and the tracker token, which opens the citizen's own page) only with ``whole_id``: for those who
    handle the case; another clerk sees them masked."""
    with read_tx(ctx.engine) as conn:
        c = _get(conn, ctx, case_id)
        _check_department(c, departments)
        view = staff_case(ctx, c, whole_id=whole_id)
        if not whole_id:
            view.pop("tracker_token", None)
            view.pop("tracker_url", None)
        view["notices"] = [{"id": n.id, "kind": n.kind, "number": n.number, "title": n.content["title"],
                            "issued_at": n.issued_at.isoformat()}
                           for n in conn.execute(select(case_notices).where(case_notices.c.case_id == c.id)
                                                 .order_by(case_notices.c.id))]
        view["suspensions"] = [{"procedure": r.procedure, "procedure_zh": PROCEDURES.get(r.procedure, r.procedure),
                                "reason": r.reason, "started_on": r.started_on, "ended_on": r.ended_on,
                                "started_by": r.started_by, "ended_by": r.ended_by}
                               for r in conn.execute(select(case_suspensions)
                                                     .where(case_suspensions.c.case_id == c.id)
                                                     .order_by(case_suspensions.c.id))]
        if c.accepted_on and CaseStatus(c.status) in IN_PROGRESS:
            view["days_used"] = dl.days_used(ctx.calendar, date.fromisoformat(c.accepted_on), _today(ctx),
                                             _suspensions(conn, c.id))
            if c.due_on:
                view["workdays_left"] = dl.remaining_workdays(ctx.calendar, _today(ctx), date.fromisoformat(c.due_on))
        view["history"] = history(conn, "case", c.id)
    return view


def case_id_for_number(ctx: HallContext, number: str) -> int:
    with read_tx(ctx.engine) as conn:
        row = conn.execute(select(cases.c.id).where(cases.c.hall_id == ctx.hall_id,
                                                    cases.c.number == number.strip().upper())).first()
    if row is None:
        raise NotFound(f"no case numbered {number!r}", code="case_not_found")
    return row.id


def list_cases(ctx: HallContext, departments: Iterable[str] | None = None, statuses: Iterable[str] | None = None,
               assignee: str | None = None, limit: int = 200, windows: Iterable[str] | None = None
               ) -> list[dict[str, Any]]:
    """The approver's list: the cases of their departments (or all), newest first, personal data masked. With
    ``windows`` (a window clerk's list): the cases taken at those windows, or of ``departments``."""
    q = select(cases).where(cases.c.hall_id == ctx.hall_id)
    if windows is not None:
        q = q.where(or_(cases.c.window_id.in_(list(windows)), cases.c.department_id.in_(list(departments or []))))
    elif departments is not None:
        q = q.where(cases.c.department_id.in_(list(departments)))
    if statuses:
        q = q.where(cases.c.status.in_(list(statuses)))
    if assignee:
        q = q.where(cases.c.assignee == assignee)
    with read_tx(ctx.engine) as conn:
        rows = conn.execute(q.order_by(cases.c.id.desc()).limit(limit)).all()
    return [staff_case(ctx, r) for r in rows]


def supervision(ctx: HallContext, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """电子监察: cases whose deadline is near (yellow) or past (red), and those whose clock is stopped."""
    s = settings_of(ctx)
    today = _today(ctx)
    q = select(cases).where(cases.c.hall_id == ctx.hall_id,
                            cases.c.status.in_([st.value for st in IN_PROGRESS]))
    if departments is not None:
        q = q.where(cases.c.department_id.in_(list(departments)))
    out: dict[str, list[dict[str, Any]]] = {"yellow": [], "red": [], "paused": []}
    with read_tx(ctx.engine) as conn:
        for c in conn.execute(q.order_by(cases.c.due_on, cases.c.id)).all():
            due = date.fromisoformat(c.due_on) if c.due_on else None
            colour = dl.light(ctx.calendar, today, due, s.warning_days)
            if colour is dl.Light.GREEN:
                continue
            view = public_case(ctx, c)
            view["light"] = colour.value
            if due is not None:
                view["workdays_left"] = dl.remaining_workdays(ctx.calendar, today, due)
            out[colour.value].append(view)
    return {"today": today.isoformat(), "warning_days": s.warning_days, **out}


def _tracker_view(ctx: HallContext, conn: Connection, c: Row) -> dict[str, Any]:
    status = CaseStatus(c.status)
    view = public_case(ctx, c)
    view.pop("assignee", None)
    view.pop("id", None)
    windows = _issuance_window_numbers(ctx)
    if status is CaseStatus.READY:
        view["ready"] = True
        view["issuance_ticket"] = _open_pickup_ticket(conn, c)
        where = f"{'、'.join(str(n) for n in windows)}号统一出件窗口" if windows else "统一出件窗口"
        view["message"] = f"办理结果已出，请凭通知书和身份证件到{where}领取（可在自助终端取出件号）"
        view["message_en"] = "Your result is ready: collect it at the results pick-up window with your notice and ID"
    else:
        view["ready"] = False
        view["message"] = STATUS_ZH[status]
    if status is CaseStatus.ISSUED and c.delivery:
        view["delivery"] = {k: c.delivery.get(k) for k in ("method", "carrier", "tracking_number")
                            if c.delivery.get(k)}
    if status is CaseStatus.CORRECTION and c.correction:
        view["missing"] = c.correction.get("names", [])
    if status in EVALUABLE:
        req = request_for_subject(conn, ctx, "case", c.id)
        if req is not None:
            # Not the rating token: this view also serves the kiosk and the REST API. The citizen's own case page
            # (behind the notice's QR) asks evaluation_link_for_tracker for its link.
            view["evaluation"] = {"rated": req.status == "rated"}
    view["promised_days"] = c.promised_days
    deficiency = c.deficiency or {}
    if deficiency.get("names"):
        view["deficiency"] = {"names": [str(n) for n in deficiency["names"]],
                              "supply_by": deficiency.get("supply_by"),
                              "supplied": bool(deficiency.get("supplied_at"))}
    return view


def _open_pickup_ticket(conn: Connection, c: Row) -> dict[str, Any] | None:
    """The pick-up ticket already taken for this case, so the citizen's page shows it instead of offering another."""
    if c.issuance_ticket_id is None:
        return None
    t = conn.execute(select(tickets.c.number, tickets.c.tracker_token, tickets.c.status)
                     .where(tickets.c.id == c.issuance_ticket_id)).first()
    if t is None or t.status not in ("waiting", "called", "serving", "held"):
        return None
    return {"number": t.number, "tracker_token": t.tracker_token, "status": t.status}


def case_status_for_tracker(ctx: HallContext, token: str) -> dict[str, Any]:
    """The tracker page's (and kiosk's) view of one case, found by the secret on its notice's QR."""
    with read_tx(ctx.engine) as conn:
        return _tracker_view(ctx, conn, _by_token(conn, ctx, token))


def evaluation_link_for_tracker(ctx: HallContext, token: str) -> str | None:
    """The rating link of a case, for the citizen's own case page only (reached by the QR on their notice)."""
    from .evaluations import request_for_subject

    with read_tx(ctx.engine) as conn:
        c = _by_token(conn, ctx, token)
        if CaseStatus(c.status) not in EVALUABLE:
            return None
        req = request_for_subject(conn, ctx, "case", c.id)
    return f"/evaluate/{req.token}" if req is not None and req.status != "rated" else None


def cases_for_person(ctx: HallContext, id_number: str, days: int = 180) -> list[dict[str, Any]]:
    """An ID-card tap at the kiosk: this person's recent cases, as the tracker shows them."""
    try:
        v = validate_id_number(id_number)
    except ValueError as exc:
        raise InvalidInput(f"id_number: {exc}", code="invalid_id_number") from None
    key = hmac.new(ctx.person_secret, v.encode(), hashlib.sha256).hexdigest()
    since = ctx.now() - timedelta(days=days)
    with read_tx(ctx.engine) as conn:
        rows = conn.execute(select(cases).where(cases.c.hall_id == ctx.hall_id, cases.c.person_key == key,
                                                cases.c.received_at >= since).order_by(cases.c.id.desc())).all()
        out = []
        for r in rows:
            view = _tracker_view(ctx, conn, r)
            view["tracker_token"] = r.tracker_token
            out.append(view)
    return out


def get_notice(ctx: HallContext, notice_id: int, departments: Iterable[str] | None = None) -> dict[str, Any]:
    with read_tx(ctx.engine) as conn:
        n = conn.execute(select(case_notices).where(case_notices.c.id == notice_id)).first()
        if n is None:
            raise NotFound(f"notice {notice_id} does not exist", code="notice_not_found")
        c = _get(conn, ctx, n.case_id)
        _check_department(c, departments)
    return {"id": n.id, "case_id": n.case_id, **n.content}


def notice_slip(ctx: HallContext, notice_id: int, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """The notice as an 80 mm printer document."""
    content = get_notice(ctx, notice_id, departments)
    return nt.slip_document(nt.Notice.from_dict(content), ctx.config.hall.name.zh)


def print_notice(ctx: HallContext, notice_id: int, station: str, actor: Actor,
                 departments: Iterable[str] | None = None) -> dict[str, Any]:
    """Send the slip to a station's printer through its agent."""
    doc = notice_slip(ctx, notice_id, departments)
    return devices.send_command(ctx, station, "printer", "print", {"document": doc}, actor)


__all__ = [
    "FINAL", "IntakeRequest", "accept", "accept_with_deficiency", "case_status_for_tracker", "cases_for_person",
    "decide", "decide_now", "get_case", "get_notice", "hand_over", "intake", "issuance_ticket", "list_cases",
    "notice_slip", "print_notice", "reassign", "reject", "request_correction", "resubmit", "resume",
    "send_by_courier", "set_absence", "supervision", "supply_deficiency", "suspend", "withdraw",
]
