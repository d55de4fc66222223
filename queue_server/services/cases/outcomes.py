"""The window's outcomes of a received case: 受理, 容缺受理, 补齐补正 and resubmission, 不予受理, 即办件, 撤回.

Each writes its notice in the same transaction; the rules that need no database are in ``domain/cases.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from ...domain import deadlines as dl
from ...domain import notices as nt
from ...domain.cases import (
    CaseAction,
    CaseStatus,
    check_acceptable,
    check_decide_now,
    check_deficiency_acceptable,
    check_marks,
    clean_reasons,
    correction_record,
    default_legal_basis,
    deficiency_deadline,
    next_status,
)
from ..context import Actor, HallContext
from .log import tx
from .moves import move, open_evaluation
from .notices import issue_notice
from .records import case_row, decidable_case, missing_materials, new_assignee, service_item
from .settings import settings_of
from .views import step_result


def accept(ctx: HallContext, case_id: int, actor: Actor, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """受理: the checklist is complete; the promised deadline starts; the back office gets the case."""
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = decidable_case(conn, ctx, case_id, departments)
        next_status(CaseAction.ACCEPT, CaseStatus(c.status), c.number)
        check_acceptable(c.number, c.kind, missing_materials(ctx, c))
        on = ctx.local(now).date()
        due = dl.deadline(ctx.calendar, on, c.promised_days)
        assert due is not None
        assignee = new_assignee(conn, ctx, c.department_id)
        c = move(conn, ctx, c, CaseAction.ACCEPT, actor, now, published,
                 {"accepted_at": now, "accepted_on": on.isoformat(), "due_on": due.isoformat(),
                  "assignee": assignee}, {"due_on": due.isoformat(), "assignee": assignee})
        notice = issue_notice(conn, ctx, c, nt.NoticeKind.ACCEPTANCE, now, actor,
                              lambda p, n, t: nt.acceptance(p, n, t, c.promised_days, due))
        return step_result(ctx, c, notice)


def accept_with_deficiency(ctx: HallContext, case_id: int, actor: Actor, undertaking: bool,
                           supply_by: date | None = None, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """容缺受理: only secondary materials missing, the applicant's written undertaking, a deadline for them no later
    than the promised deadline."""
    s = settings_of(ctx)
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = decidable_case(conn, ctx, case_id, departments)
        next_status(CaseAction.ACCEPT_WITH_DEFICIENCY, CaseStatus(c.status), c.number)
        missing = missing_materials(ctx, c)
        check_deficiency_acceptable(c.number, c.kind, missing, undertaking)
        on = ctx.local(now).date()
        due = dl.deadline(ctx.calendar, on, c.promised_days)
        assert due is not None
        until = deficiency_deadline(ctx.calendar, on, due, c.promised_days, s.deficiency_days, supply_by)
        assignee = new_assignee(conn, ctx, c.department_id)
        deficiency = {"items": [m.index for m in missing], "names": [m.name for m in missing],
                      "supply_by": until.isoformat(), "undertaking": True, "supplied_at": None}
        c = move(conn, ctx, c, CaseAction.ACCEPT_WITH_DEFICIENCY, actor, now, published,
                 {"accepted_at": now, "accepted_on": on.isoformat(), "due_on": due.isoformat(),
                  "assignee": assignee, "deficiency": deficiency},
                 {"due_on": due.isoformat(), "supply_by": until.isoformat(), "missing": deficiency["names"],
                  "assignee": assignee})
        names = [f"{m.name}（{m.why}）" for m in missing]
        notice = issue_notice(conn, ctx, c, nt.NoticeKind.DEFICIENCY, now, actor,
                              lambda p, n, t: nt.deficiency(p, n, t, c.promised_days, due, names, until))
        return step_result(ctx, c, notice)


def request_correction(ctx: HallContext, case_id: int, actor: Actor,
                       departments: Iterable[str] | None = None) -> dict[str, Any]:
    """补齐补正: everything missing, told at once, within the legal days of the (re)submission."""
    s = settings_of(ctx)
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = decidable_case(conn, ctx, case_id, departments)
        next_status(CaseAction.REQUEST_CORRECTION, CaseStatus(c.status), c.number)
        missing = missing_materials(ctx, c)
        prior = c.correction or {}
        submitted = datetime.fromisoformat(prior["resubmitted_at"]) if prior.get("resubmitted_at") else c.received_at
        correction = correction_record(ctx.calendar, c.number, missing, prior, ctx.local(submitted).date(),
                                       ctx.local(now).date(), s.correction_within_days, now)
        c = move(conn, ctx, c, CaseAction.REQUEST_CORRECTION, actor, now, published, {"correction": correction},
                 {"missing": correction["names"]})
        names = [f"{m.name}（{m.why}）" for m in missing]
        notice = issue_notice(conn, ctx, c, nt.NoticeKind.CORRECTION, now, actor,
                              lambda p, n, t: nt.correction(p, n, t, names))
        return step_result(ctx, c, notice)


def resubmit(ctx: HallContext, case_id: int, materials: list[str], actor: Actor,
             departments: Iterable[str] | None = None) -> dict[str, Any]:
    """The applicant brings the corrected materials: the checklist is marked again, the case is received again."""
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = decidable_case(conn, ctx, case_id, departments)
        next_status(CaseAction.RESUBMIT, CaseStatus(c.status), c.number)
        marks = check_marks(service_item(ctx, c.item_id).materials, materials)
        correction = {**(c.correction or {}), "resubmitted_at": now.isoformat()}
        c = move(conn, ctx, c, CaseAction.RESUBMIT, actor, now, published,
                 {"materials": [m.value for m in marks], "correction": correction},
                 {"materials": [m.value for m in marks]})
        return step_result(ctx, c)


def reject(ctx: HallContext, case_id: int, reasons: list[str], actor: Actor, legal_basis: str | None = None,
           departments: Iterable[str] | None = None) -> dict[str, Any]:
    """不予受理: written, with reasons, the legal basis and the right to 复议 or 诉讼."""
    s = settings_of(ctx)
    clean = clean_reasons(reasons, "不予受理")
    given_basis = (legal_basis or "").strip()
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = decidable_case(conn, ctx, case_id, departments)
        basis = given_basis or default_legal_basis(service_item(ctx, c.item_id).category, s)
        c = move(conn, ctx, c, CaseAction.REJECT, actor, now, published,
                 {"decision": "rejected", "decision_reasons": clean, "decided_at": now, "decided_by": str(actor)},
                 {"reasons": clean, "legal_basis": basis})
        notice = issue_notice(conn, ctx, c, nt.NoticeKind.REJECTION, now, actor,
                              lambda p, n, t: nt.rejection(p, n, t, clean, basis, s.review_body, s.review_days,
                                                           s.court, s.litigation_months))
        open_evaluation(conn, ctx, c, now)
        return step_result(ctx, c, notice)


def decide_now(ctx: HallContext, case_id: int, approved: bool, reasons: list[str], actor: Actor,
               legal_basis: str | None = None, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """即办件: decided on the spot at the window; the result is handed out there."""
    s = settings_of(ctx)
    clean = clean_reasons(reasons, "不予许可", required=not approved)
    given_basis = (legal_basis or "").strip()
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = decidable_case(conn, ctx, case_id, departments)
        basis = given_basis or default_legal_basis(service_item(ctx, c.item_id).category, s)
        next_status(CaseAction.DECIDE_NOW, CaseStatus(c.status), c.number)
        check_decide_now(c.number, c.kind, approved, missing_materials(ctx, c))
        on = ctx.local(now).date().isoformat()
        c = move(conn, ctx, c, CaseAction.DECIDE_NOW, actor, now, published,
                 {"accepted_at": now, "accepted_on": on, "due_on": on, "decision": "approved" if approved else "denied",
                  "decision_reasons": clean, "decided_at": now, "decided_by": str(actor)},
                 {"approved": approved, "reasons": clean})
        notice = issue_notice(conn, ctx, c, nt.NoticeKind.DECISION, now, actor,
                              lambda p, n, t: nt.decision(p, n, t, approved, clean, basis, s.review_body,
                                                          s.review_days, s.court, s.litigation_months))
        open_evaluation(conn, ctx, c, now)
        return step_result(ctx, c, notice)


def withdraw(ctx: HallContext, case_id: int, reason: str, actor: Actor) -> dict[str, Any]:
    """撤回: the applicant withdraws before a decision; the deadline no longer runs."""
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = case_row(conn, ctx, case_id)
        c = move(conn, ctx, c, CaseAction.WITHDRAW, actor, now, published, {"due_on": None},
                 {"reason": reason.strip() or "申请人撤回"})
        return step_result(ctx, c)
