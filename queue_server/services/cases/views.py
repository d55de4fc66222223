"""The read models of a case: what the back office, the tracker and the kiosk see, and who handles a case.

What leaves the back office (events, the tracker, the kiosk) has no ID number, no phone and the name masked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select

from ...domain import deadlines as dl
from ...domain.cases import (
    EVALUABLE,
    IN_PROGRESS,
    MARK_ZH,
    PROCEDURES,
    STATUS_ZH,
    CaseStatus,
    Mark,
    pickup_message,
    shortfalls,
)
from ...domain.errors import InvalidInput, NotFound
from ...domain.privacy import mask_id, mask_phone, validate_id_number
from ...store.cases_schema import case_notices, case_suspensions, cases
from ...store.db import read_tx
from ...store.schema import tickets
from ..context import HallContext
from ..evaluations import request_for_subject
from .log import history
from .records import (
    case_by_token,
    case_row,
    decidable_case,
    department_name,
    person_key,
    service_item,
    suspensions,
    taken_by,
)
from .settings import settings_of


def tracker_url(ctx: HallContext, token: str) -> str:
    return f"{ctx.config.hall.tracker_base_url.rstrip('/')}/case/{token}"


def public_case(ctx: HallContext, c: Row) -> dict[str, Any]:
    """What may leave the back office: no ID number, no phone, the name masked."""
    item = ctx.config.item(c.item_id) if c.item_id in {i.id for i in ctx.config.items} else None
    return {"id": c.id, "number": c.number, "item_id": c.item_id, "item_name": item.name if item else c.item_id,
            "department_id": c.department_id, "department_name": department_name(ctx, c.department_id),
            "kind": c.kind, "source": c.source, "status": c.status, "status_zh": STATUS_ZH[CaseStatus(c.status)],
            "applicant": c.applicant_label, "received_at": ctx.local(c.received_at).isoformat(timespec="seconds"),
            "accepted_at": ctx.local(c.accepted_at).isoformat(timespec="seconds") if c.accepted_at else None,
            "due_on": c.due_on,
            "decision": c.decision, "assignee": c.assignee}


def _light(ctx: HallContext, c: Row) -> str | None:
    if CaseStatus(c.status) not in IN_PROGRESS:
        return None
    due = date.fromisoformat(c.due_on) if c.due_on else None
    return dl.light(ctx.calendar, ctx.local().date(), due, settings_of(ctx).warning_days).value


def staff_case(ctx: HallContext, c: Row, *, whole_id: bool = False) -> dict[str, Any]:
    """The back office's view: contact details masked in lists; the whole ID number only on the case page."""
    view = public_case(ctx, c)
    item = service_item(ctx, c.item_id)
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


def step_result(ctx: HallContext, c: Row, notice: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a step returns: the case as the back office sees it, and the notice it issued, if any."""
    out: dict[str, Any] = {"case": staff_case(ctx, c)}
    if notice is not None:
        out["notice"] = notice
    return out


def issuance_window_numbers(ctx: HallContext) -> list[int]:
    q = settings_of(ctx).issuance_queue
    return [w.number for w in ctx.config.windows if any(wq.queue == q for wq in w.queues)]


def _open_pickup_ticket(conn: Connection, c: Row) -> dict[str, Any] | None:
    """The pick-up ticket already taken for this case, so the citizen's page shows it instead of offering another."""
    if c.issuance_ticket_id is None:
        return None
    t = conn.execute(select(tickets.c.number, tickets.c.tracker_token, tickets.c.status)
                     .where(tickets.c.id == c.issuance_ticket_id)).first()
    if t is None or t.status not in ("waiting", "called", "serving", "held"):
        return None
    return {"number": t.number, "tracker_token": t.tracker_token, "status": t.status}


def tracker_view(ctx: HallContext, conn: Connection, c: Row) -> dict[str, Any]:
    """The citizen's view of a case (tracker page, kiosk): its progress, where to collect, what is missing."""
    status = CaseStatus(c.status)
    view = public_case(ctx, c)
    view.pop("assignee", None)
    view.pop("id", None)
    if status is CaseStatus.READY:
        view["ready"] = True
        view["issuance_ticket"] = _open_pickup_ticket(conn, c)
        view["message"] = pickup_message(issuance_window_numbers(ctx))
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


# ---------------------------------------------------------------- reading a case


@dataclass(frozen=True)
class CaseHandlers:
    """Who handles a case, from its record: the clerk who took it, its window, its department."""

    number: str
    taker: str | None
    window_id: str | None
    department_id: str


def case_handlers(ctx: HallContext, case_id: int) -> CaseHandlers:
    with read_tx(ctx.engine) as conn:
        c = case_row(conn, ctx, case_id)
        taker = taken_by(conn, c.id)
    return CaseHandlers(c.number, taker, c.window_id, c.department_id)


def get_case(ctx: HallContext, case_id: int, departments: Iterable[str] | None = None, *,
             whole_id: bool = True) -> dict[str, Any]:
    """The case page: every field, its notices, suspensions, deadline and history. The whole ID number and
    phone (and the tracker token, which opens the citizen's own page) only with ``whole_id``: for those who
    handle the case; another clerk sees them masked."""
    with read_tx(ctx.engine) as conn:
        c = decidable_case(conn, ctx, case_id, departments)
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
            today = ctx.local().date()
            view["days_used"] = dl.days_used(ctx.calendar, date.fromisoformat(c.accepted_on), today,
                                             suspensions(conn, c.id))
            if c.due_on:
                view["workdays_left"] = dl.remaining_workdays(ctx.calendar, today, date.fromisoformat(c.due_on))
        view["history"] = history(conn, "case", c.id)
    return view


def case_id_for_number(ctx: HallContext, number: str) -> int:
    with read_tx(ctx.engine) as conn:
        row = conn.execute(select(cases.c.id).where(cases.c.hall_id == ctx.hall_id,
                                                    cases.c.number == number.strip().upper())).first()
    if row is None:
        raise NotFound(f"no case numbered {number!r}", code="case_not_found")
    return row.id


# ---------------------------------------------------------------- the citizen's side


def case_status_for_tracker(ctx: HallContext, token: str) -> dict[str, Any]:
    """The tracker page's (and kiosk's) view of one case, found by the secret on its notice's QR."""
    with read_tx(ctx.engine) as conn:
        return tracker_view(ctx, conn, case_by_token(conn, ctx, token))


def evaluation_link_for_tracker(ctx: HallContext, token: str) -> str | None:
    """The rating link of a case, for the citizen's own case page only (reached by the QR on their notice)."""
    with read_tx(ctx.engine) as conn:
        c = case_by_token(conn, ctx, token)
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
    key = person_key(ctx, v)
    since = ctx.now() - timedelta(days=days)
    with read_tx(ctx.engine) as conn:
        rows = conn.execute(select(cases).where(cases.c.hall_id == ctx.hall_id, cases.c.person_key == key,
                                                cases.c.received_at >= since).order_by(cases.c.id.desc())).all()
        out = []
        for r in rows:
            view = tracker_view(ctx, conn, r)
            view["tracker_token"] = r.tracker_token
            out.append(view)
    return out
