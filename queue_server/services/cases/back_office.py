"""The back office's steps on an accepted case: 办结 (approve or deny), the 容缺 materials handed in, and the
clock stopped for an excluded procedure and restarted. Approvers act for their departments only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, update

from ...domain import notices as nt
from ...domain.cases import (
    PROCEDURES,
    CaseAction,
    CaseStatus,
    check_approval,
    check_suspension,
    clean_reasons,
    default_legal_basis,
    next_status,
    supplied,
)
from ...store.cases_schema import case_suspensions
from ..context import Actor, HallContext
from .log import tx
from .moves import move, open_evaluation
from .notices import issue_notice
from .records import decidable_case, due_date, service_item
from .settings import settings_of
from .views import step_result


def _back_office(conn: Connection, ctx: HallContext, case_id: int, action: CaseAction,
                 departments: Iterable[str] | None) -> Row:
    c = decidable_case(conn, ctx, case_id, departments)
    next_status(action, CaseStatus(c.status), c.number)
    return c


def decide(ctx: HallContext, case_id: int, approved: bool, reasons: list[str], actor: Actor,
           legal_basis: str | None = None, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """办结: approve (准予许可) or deny (不予许可, with reasons); the result then waits for issuance."""
    s = settings_of(ctx)
    action = CaseAction.APPROVE if approved else CaseAction.DENY
    clean = clean_reasons(reasons, "不予许可", required=not approved)
    given_basis = (legal_basis or "").strip()
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _back_office(conn, ctx, case_id, action, departments)
        basis = given_basis or default_legal_basis(service_item(ctx, c.item_id).category, s)
        check_approval(c.number, approved, c.deficiency)
        c = move(conn, ctx, c, action, actor, now, published,
                 {"decision": "approved" if approved else "denied", "decision_reasons": clean, "decided_at": now,
                  "decided_by": str(actor)}, {"reasons": clean, "due_on": c.due_on})
        notice = issue_notice(conn, ctx, c, nt.NoticeKind.DECISION, now, actor,
                              lambda p, n, t: nt.decision(p, n, t, approved, clean, basis, s.review_body,
                                                          s.review_days, s.court, s.litigation_months))
        open_evaluation(conn, ctx, c, now)
        return step_result(ctx, c, notice)


def supply_deficiency(ctx: HallContext, case_id: int, actor: Actor,
                      departments: Iterable[str] | None = None) -> dict[str, Any]:
    """The 容缺 materials have been handed in: the checklist is complete, the case may be approved."""
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _back_office(conn, ctx, case_id, CaseAction.SUPPLY, departments)
        marks, late = supplied(c.number, c.materials, c.deficiency, ctx.local(now).date())
        deficiency = {**c.deficiency, "supplied_at": now.isoformat(), "late": late}
        c = move(conn, ctx, c, CaseAction.SUPPLY, actor, now, published,
                 {"materials": marks, "deficiency": deficiency}, {"late": late})
        return step_result(ctx, c)


def suspend(ctx: HallContext, case_id: int, procedure: str, reason: str, actor: Actor,
            departments: Iterable[str] | None = None) -> dict[str, Any]:
    """Stop the clock for an excluded procedure (听证, 检验检测, 专家评审): the deadline moves when it resumes."""
    why = check_suspension(procedure, reason)
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _back_office(conn, ctx, case_id, CaseAction.SUSPEND, departments)
        on = ctx.local(now).date().isoformat()
        conn.execute(case_suspensions.insert().values(case_id=c.id, procedure=procedure, reason=why,
                                                      started_at=now, started_on=on, started_by=str(actor)))
        c = move(conn, ctx, c, CaseAction.SUSPEND, actor, now, published, {"due_on": None},
                 {"procedure": procedure, "procedure_zh": PROCEDURES[procedure], "reason": why})
        return step_result(ctx, c)


def resume(ctx: HallContext, case_id: int, actor: Actor, departments: Iterable[str] | None = None) -> dict[str, Any]:
    """Restart the clock: the deadline moves by the working days the case was suspended."""
    now = ctx.now()
    with tx(ctx) as (conn, published):
        c = _back_office(conn, ctx, case_id, CaseAction.RESUME, departments)
        on = ctx.local(now).date().isoformat()
        conn.execute(update(case_suspensions).where(case_suspensions.c.case_id == c.id,
                                                    case_suspensions.c.ended_on.is_(None))
                     .values(ended_at=now, ended_on=on, ended_by=str(actor)))
        due = due_date(ctx, conn, c)
        c = move(conn, ctx, c, CaseAction.RESUME, actor, now, published,
                 {"due_on": due.isoformat() if due else None}, {"due_on": due.isoformat() if due else None})
        return step_result(ctx, c)
