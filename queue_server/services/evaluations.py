"""Use cases of 好差评: invitations (pad, QR), ratings from the citizen's channels only, the 差评 follow-up, export.

An invitation (``evaluation_requests``) exists per ticket or case: its secret token is the QR link; starting
the window's evaluator pad records the station and the subject the pad shows. A rating is accepted only

* from the pad: the device token of that very station, naming the subject it was started with;
* from the kiosk: a kiosk's device token with the citizen's QR token;
* from the citizen's phone: the QR token, with no staff session on the request.

Staff may open an invitation or start the pad; they can never rate.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Collection, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select, update

from ..domain import deadlines as dl
from ..domain.errors import DomainError, InvalidInput, InvalidTransition, NotFound
from ..domain.evaluations import (
    FOLLOWUP_ZH,
    INDICATORS,
    LEVEL_ZH,
    Channel,
    FollowUpStatus,
    FollowUpStep,
    Level,
    check_rater,
    check_rating,
    next_followup,
)
from ..store.cases_schema import case_log, cases, evaluation_followups, evaluation_requests, evaluations
from ..store.db import read_tx
from ..store.schema import device_status, staff, ticket_transitions, tickets
from . import devices
from .cases.log import history, log, tx
from .cases.settings import settings_of
from .context import Actor, HallContext
from .events import append_event

EXPORT_FIELDS = (
    "evaluation_id", "hall_id", "subject_kind", "subject_number", "item_id", "item_name", "department_id",
    "department_name", "window_id", "window_number", "staff", "level", "level_label", "bad", "indicators",
    "indicator_labels", "comment", "channel", "evaluated_at", "followup_status", "followup_due_on",
    "followup_closed_at", "return_visit_satisfied",
)


class _WrongStation(DomainError):
    code = "wrong_station"


class AlreadyRated(DomainError):
    code = "already_rated"


def evaluation_url(ctx: HallContext, token: str) -> str:
    return f"{ctx.config.hall.tracker_base_url.rstrip('/')}/evaluate/{token}"


def request_for_subject(conn: Connection, ctx: HallContext, kind: str, subject_id: int) -> Row | None:
    return conn.execute(select(evaluation_requests).where(
        evaluation_requests.c.hall_id == ctx.hall_id, evaluation_requests.c.subject_kind == kind,
        evaluation_requests.c.subject_id == subject_id)).first()


def ensure_request(conn: Connection, ctx: HallContext, kind: str, subject_id: int, label: str, item_id: str | None,
                   department_id: str | None, window_id: str | None, staff_username: str | None,
                   at: datetime) -> Row:
    """The subject's invitation, made once (一次一评 / 一事一评): the same token every time it is asked for."""
    found = request_for_subject(conn, ctx, kind, subject_id)
    if found is not None:
        return found
    days = settings_of(ctx).evaluation_valid_days
    conn.execute(evaluation_requests.insert().values(
        hall_id=ctx.hall_id, subject_kind=kind, subject_id=subject_id, subject_label=label, item_id=item_id,
        department_id=department_id, window_id=window_id, staff=staff_username, token=secrets.token_urlsafe(16),
        status="open", created_at=at, expires_at=at + timedelta(days=days)))
    found = request_for_subject(conn, ctx, kind, subject_id)
    assert found is not None
    return found


def _staff_card(conn: Connection, username: str | None) -> tuple[str, str]:
    if username:
        row = conn.execute(select(staff.c.display_name, staff.c.post).where(staff.c.username == username)).first()
        if row is not None:
            return row.display_name, row.post or "窗口工作人员"
    return "工作人员", "窗口工作人员"


class NotYourWindow(DomainError):
    code = "wrong_window"


def _ticket_served_by(conn: Connection, ticket_id: int) -> str | None:
    """The member of staff who served a ticket, from its transitions (who started or finished it)."""
    served_by = conn.execute(select(ticket_transitions.c.actor).where(
        ticket_transitions.c.ticket_id == ticket_id, ticket_transitions.c.action.in_(("start", "finish")))
        .order_by(ticket_transitions.c.id.desc())).scalar()
    kind, _, who = (served_by or "").partition(":")
    return who if kind == "staff" else None


def _case_taken_by(conn: Connection, case_id: int) -> str | None:
    taken = conn.execute(select(case_log.c.actor).where(
        case_log.c.subject == "case", case_log.c.subject_id == str(case_id), case_log.c.action == "intake")).scalar()
    kind, _, who = (taken or "").partition(":")
    return who if kind == "staff" else None


def _invite(ctx: HallContext, kind: str, subject_id: int, actor: Actor, window_id: str | None,
            start_pad: bool, windows: Collection[str] | None) -> dict[str, Any]:
    """The rated window and clerk come from the service record (who served the ticket, who took the case), never
    from the caller; ``windows`` are the caller's (None: hall-wide, a supervisor). The rating token is not in the
    reply: it reaches the citizen only (the pad, the printed notice's QR, the citizen's own tracker page)."""
    s = settings_of(ctx)
    now = ctx.now()
    pad: dict[str, Any] | None = None
    with tx(ctx) as (conn, _published):
        if kind == "ticket":
            t = conn.execute(select(tickets).where(tickets.c.id == subject_id,
                                                   tickets.c.hall_id == ctx.hall_id)).first()
            if t is None:
                raise NotFound(f"ticket {subject_id} does not exist", code="ticket_not_found")
            if t.status not in ("serving", "done"):
                raise InvalidTransition(f"ticket {t.number} is {t.status}; a ticket is rated after its service",
                                        code="not_served")
            label, item_id, served_window = t.number, t.item_id, t.window_id
            dept = ctx.config.item(item_id).department if item_id else None
            served_by = _ticket_served_by(conn, t.id)
        else:
            c = conn.execute(select(cases).where(cases.c.id == subject_id, cases.c.hall_id == ctx.hall_id)).first()
            if c is None:
                raise NotFound(f"case {subject_id} does not exist", code="case_not_found")
            if c.status not in ("ready", "issued", "rejected"):
                raise InvalidTransition(f"办件 {c.number} is {c.status}; a case is rated once it has an outcome",
                                        code="not_decided")
            label, item_id, dept, served_window = c.number, c.item_id, c.department_id, c.window_id
            served_by = _case_taken_by(conn, c.id)
        if window_id is not None and window_id != served_window:
            raise NotYourWindow(f"{label} was served at window {served_window or '(none: filed online)'}, not "
                                f"{window_id}; the rating is about who served it", details={"window_id": served_window})
        if windows is not None and served_window not in windows:
            raise NotYourWindow(f"only the staff of window {served_window or '(none)'} or a supervisor may ask for "
                                f"the rating of {label}")
        req = ensure_request(conn, ctx, kind, subject_id, label, item_id, dept, served_window, served_by, now)
        if req.status == "rated":
            raise AlreadyRated(f"{label} has already been rated (一次一评)")
        if start_pad:
            if served_window is None:
                raise InvalidInput(f"{label} was not served at a window: the citizen rates through the QR on the "
                                   "notice or the tracker page", code="window_required")
            w = ctx.config.window(served_window)
            station = devices.window_station(ctx, w.id) or s.evaluator_station.format(number=w.number, window=w.id)
            conn.execute(update(evaluation_requests).where(evaluation_requests.c.id == req.id)
                         .values(station=station, window_id=served_window, staff=req.staff or served_by))
            name, post = _staff_card(conn, req.staff or served_by)
            pad = {"station": station, "args": {"subject": f"{kind}:{label}", f"{kind}_id": subject_id,
                                                "staff_name": name[:20], "post": post[:20], "window": w.number,
                                                "timeout_s": s.evaluator_timeout_s}}
        log(conn, ctx, "evaluation", req.id, now, "invite", req.status, req.status, actor,
            {"subject": f"{kind}:{label}", "pad": pad["station"] if pad else None})
    out: dict[str, Any] = {"subject_kind": kind, "subject": label, "window_id": served_window,
                           "staff": req.staff or served_by}
    if pad is not None:
        out["pad"] = devices.send_command(ctx, pad["station"], "evaluator", "start_evaluation", pad["args"], actor)
    return out


def invite_for_ticket(ctx: HallContext, ticket_id: int, actor: Actor, window_id: str | None = None,
                      start_pad: bool = True, windows: Collection[str] | None = None) -> dict[str, Any]:
    """After a service at the window: the pad asks for a rating; the QR link works too."""
    return _invite(ctx, "ticket", ticket_id, actor, window_id, start_pad, windows)


def invite_for_case(ctx: HallContext, case_id: int, actor: Actor, window_id: str | None = None,
                    start_pad: bool = True, windows: Collection[str] | None = None) -> dict[str, Any]:
    return _invite(ctx, "case", case_id, actor, window_id, start_pad, windows)


def _open_request(conn: Connection, ctx: HallContext, req: Row | None, now: datetime) -> Row:
    if req is None:
        raise NotFound("this evaluation link is not valid; scan the QR on your ticket or notice again",
                       code="evaluation_not_found")
    if req.status == "rated":
        raise AlreadyRated(f"{req.subject_label} has already been rated; thank you (一次一评)")
    if req.expires_at < now:
        raise InvalidTransition("this evaluation link has expired", code="evaluation_expired")
    return req


def evaluation_form(ctx: HallContext, token: str) -> dict[str, Any]:
    """What the QR page and the kiosk show before the citizen rates: no personal data."""
    with read_tx(ctx.engine) as conn:
        req = conn.execute(select(evaluation_requests).where(evaluation_requests.c.token == token,
                                                             evaluation_requests.c.hall_id == ctx.hall_id)).first()
        if req is None:
            raise NotFound("this evaluation link is not valid", code="evaluation_not_found")
        name, post = _staff_card(conn, req.staff)
    item = next((i for i in ctx.config.items if i.id == req.item_id), None)
    window = next((w for w in ctx.config.windows if w.id == req.window_id), None)
    return {"subject_kind": req.subject_kind, "subject": req.subject_label, "item_name": item.name if item else None,
            "window_number": window.number if window else None, "staff_name": name, "post": post,
            "rated": req.status == "rated", "expires_at": req.expires_at.isoformat(),
            "levels": [{"level": int(lv), "label": LEVEL_ZH[lv], "needs_reason": lv.is_bad}
                       for lv in sorted(Level, reverse=True)],
            "indicators": [{"code": k, "label": v} for k, v in INDICATORS.items()]}


def _record(conn: Connection, ctx: HallContext, req: Row, level: int, indicators: list[int], comment: str | None,
            channel: Channel, station: str | None, actor: Actor, now: datetime, published: list[dict],
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    lvl, codes = check_rating(level, indicators, comment)
    text = (comment or "").strip()[:500] or None
    eval_id = conn.execute(evaluations.insert().values(
        hall_id=ctx.hall_id, request_id=req.id, subject_kind=req.subject_kind, subject_label=req.subject_label,
        item_id=req.item_id, department_id=req.department_id, window_id=req.window_id, staff=req.staff,
        level=int(lvl), indicators=codes, comment=text, channel=channel.value, station=station, at=now,
    ).returning(evaluations.c.id)).scalar_one()
    conn.execute(update(evaluation_requests).where(evaluation_requests.c.id == req.id).values(status="rated"))
    log(conn, ctx, "evaluation", req.id, now, "rated", "open", "rated", actor,
        {"evaluation_id": eval_id, "level": int(lvl), "indicators": codes, "channel": channel.value, **(extra or {})})
    followup = None
    if lvl.is_bad:
        due = ctx.calendar.add_workdays(ctx.local(now).date(), settings_of(ctx).followup_days)
        fid = conn.execute(evaluation_followups.insert().values(
            hall_id=ctx.hall_id, evaluation_id=eval_id, status=FollowUpStatus.VERIFYING.value, opened_at=now,
            due_on=due.isoformat(), steps={}, updated_at=now).returning(evaluation_followups.c.id)).scalar_one()
        log(conn, ctx, "followup", fid, now, "open", None, FollowUpStatus.VERIFYING.value, actor,
            {"evaluation_id": eval_id, "due_on": due.isoformat()})
        followup = {"id": fid, "status": FollowUpStatus.VERIFYING.value, "due_on": due.isoformat()}
    rooms = [f"window:{req.window_id}"] if req.window_id else []
    published.append(append_event(conn, ctx.hall_id, "evaluation_recorded",
                                  {"subject_kind": req.subject_kind, "subject": req.subject_label,
                                   "window_id": req.window_id, "level": int(lvl), "bad": lvl.is_bad}, rooms, now))
    return {"evaluation_id": eval_id, "subject_kind": req.subject_kind, "subject": req.subject_label,
            "level": int(lvl), "label": lvl.label, "indicators": codes, "channel": channel.value,
            "followup": followup, "message": "感谢您的评价 / Thank you"}


def rate(ctx: HallContext, token: str, level: int, indicators: list[int], comment: str | None, actor: Actor,
         channel: Channel, via_staff_session: bool = False) -> dict[str, Any]:
    """A rating by the QR link's token, from the citizen's phone or at the kiosk."""
    check_rater(actor.kind, channel, via_staff_session)
    if channel is Channel.PAD:
        raise InvalidInput("pad ratings come through the station's device input", code="wrong_channel")
    now = ctx.now()
    with tx(ctx) as (conn, published):
        req = _open_request(conn, ctx, conn.execute(select(evaluation_requests).where(
            evaluation_requests.c.token == token, evaluation_requests.c.hall_id == ctx.hall_id)).first(), now)
        station = actor.id if actor.kind == "device" else None
        return _record(conn, ctx, req, level, indicators, comment, channel, station, actor, now, published)


def _station_window(conn: Connection, ctx: HallContext, station: str) -> str | None:
    """The window a station serves: as config/devices.toml binds it (an agent_hello naming another window cannot
    move a pad's ratings there); without a devices file, as its agent reported, else by the station pattern."""
    if ctx.stations is not None:
        return ctx.station_window(station)
    row = conn.execute(select(device_status.c.detail).where(
        device_status.c.hall_id == ctx.hall_id, device_status.c.station == station,
        device_status.c.device == "agent")).first()
    if row is not None and (row.detail or {}).get("window_id"):
        return row.detail["window_id"]
    pattern = settings_of(ctx).evaluator_station
    return next((w.id for w in ctx.config.windows if pattern.format(number=w.number, window=w.id) == station), None)


def _pad_request(conn: Connection, ctx: HallContext, station: str, subject: str, now: datetime) -> Row | None:
    """The invitation a pad's rating answers: the one this station was started with; or, for a pad started by the
    window panel (subject ``ticket:A001``), the ticket of that number finished today at this station's window."""
    kind, sep, label = subject.partition(":")
    if not sep:
        kind, label = "ticket", subject
    if kind not in ("ticket", "case"):
        return None
    req = conn.execute(select(evaluation_requests).where(
        evaluation_requests.c.hall_id == ctx.hall_id, evaluation_requests.c.station == station,
        evaluation_requests.c.subject_kind == kind, evaluation_requests.c.subject_label == label)
        .order_by(evaluation_requests.c.id.desc())).first()
    if req is not None or kind != "ticket":
        return req
    window_id = _station_window(conn, ctx, station)
    t = conn.execute(select(tickets).where(
        tickets.c.hall_id == ctx.hall_id, tickets.c.number == label, tickets.c.window_id == window_id,
        tickets.c.service_day == ctx.today(now).isoformat(), tickets.c.status.in_(("serving", "done")))).first()
    if window_id is None or t is None:
        return None
    req = ensure_request(conn, ctx, "ticket", t.id, t.number, t.item_id,
                         ctx.config.item(t.item_id).department if t.item_id else None, window_id,
                         _ticket_served_by(conn, t.id), now)
    conn.execute(update(evaluation_requests).where(evaluation_requests.c.id == req.id).values(station=station))
    return conn.execute(select(evaluation_requests).where(evaluation_requests.c.id == req.id)).first()


def rate_from_pad(ctx: HallContext, station: str, subject: str, level: int, reason: int | None, actor: Actor,
                  session: str | None = None, via_staff_session: bool = False) -> dict[str, Any]:
    """The evaluator pad's RESULT, relayed by its station's agent: it must answer the pad this station started."""
    check_rater(actor.kind, Channel.PAD, via_staff_session)
    if actor.kind != "device" or actor.id != station:
        raise _WrongStation(f"a pad rating for station {station} must come with that station's device token")
    now = ctx.now()
    with tx(ctx) as (conn, published):
        req = _pad_request(conn, ctx, station, subject, now)
        if req is None:
            raise NotFound(f"the pad at {station} was not asked to rate {subject!r}", code="evaluation_not_found")
        req = _open_request(conn, ctx, req, now)
        return _record(conn, ctx, req, level, [reason] if reason is not None else [], None, Channel.PAD, station,
                       actor, now, published, {"session": session})


def rate_from_device_input(ctx: HallContext, station: str, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Adapter for the agents' ``device_input`` of kind ``rating_given`` ({session, subject, level, reason})."""
    try:
        level = int(data.get("level", ""))  # missing: ValueError, like any other non-number
        reason = data.get("reason")
        reason = int(reason) if reason not in (None, "") else None
    except (TypeError, ValueError):
        raise InvalidInput("rating_given needs a numeric level (1-5) and reason code", code="bad_rating") from None
    subject = str(data.get("subject") or "")
    return rate_from_pad(ctx, station, subject, level, reason, actor, session=data.get("session"))


# ---------------------------------------------------------------- the 差评 follow-up


def _followup_view(ctx: HallContext, f: Row, e: Row) -> dict[str, Any]:
    status = FollowUpStatus(f.status)
    due = date.fromisoformat(f.due_on)
    colour = None
    if status is not FollowUpStatus.CLOSED:
        colour = dl.light(ctx.calendar, ctx.local().date(), due, settings_of(ctx).warning_days).value
    return {"id": f.id, "evaluation_id": e.id, "subject_kind": e.subject_kind, "subject": e.subject_label,
            "department_id": e.department_id, "window_id": e.window_id, "staff": e.staff, "level": e.level,
            "level_label": LEVEL_ZH[Level(e.level)], "indicators": [INDICATORS[i] for i in e.indicators],
            "comment": e.comment, "status": f.status, "status_zh": FOLLOWUP_ZH[status], "due_on": f.due_on,
            "light": colour, "steps": f.steps, "opened_at": f.opened_at.isoformat(),
            "closed_at": f.closed_at.isoformat() if f.closed_at else None}


def followup_step(ctx: HallContext, followup_id: int, step: str, note: str, actor: Actor,
                  substantiated: bool | None = None, satisfied: bool | None = None) -> dict[str, Any]:
    """核实 (with whether the complaint holds) → 整改 → 回复 → 回访 (with whether the citizen is satisfied)."""
    try:
        st = FollowUpStep(step)
    except ValueError:
        raise InvalidInput(f"step {step!r} unknown; one of {', '.join(s.value for s in FollowUpStep)}",
                           code="bad_step") from None
    if not note.strip():
        raise InvalidInput("each follow-up step records what was done (note)", code="note_required")
    if st is FollowUpStep.VERIFY and substantiated is None:
        raise InvalidInput("verify: say whether the complaint holds (substantiated true/false)",
                           code="substantiated_required")
    if st is FollowUpStep.RETURN_VISIT and satisfied is None:
        raise InvalidInput("return_visit: record whether the citizen is satisfied now", code="satisfied_required")
    now = ctx.now()
    with tx(ctx) as (conn, _published):
        f = conn.execute(select(evaluation_followups).where(evaluation_followups.c.id == followup_id,
                                                            evaluation_followups.c.hall_id == ctx.hall_id)).first()
        if f is None:
            raise NotFound(f"follow-up {followup_id} does not exist", code="followup_not_found")
        target = next_followup(st, FollowUpStatus(f.status), substantiated)
        record: dict[str, Any] = {"note": note.strip(), "at": now.isoformat(), "by": str(actor)}
        if substantiated is not None and st is FollowUpStep.VERIFY:
            record["substantiated"] = substantiated
        if st is FollowUpStep.RETURN_VISIT:
            record["satisfied"] = satisfied
        steps = {**f.steps, st.value: record}
        values: dict[str, Any] = {"status": target.value, "steps": steps, "updated_at": now}
        if target is FollowUpStatus.CLOSED:
            values["closed_at"] = now
        conn.execute(update(evaluation_followups).where(evaluation_followups.c.id == f.id).values(**values))
        log(conn, ctx, "followup", f.id, now, st.value, f.status, target.value, actor,
            {k: v for k, v in record.items() if k not in ("at", "by")})
        f = conn.execute(select(evaluation_followups).where(evaluation_followups.c.id == f.id)).one()
        e = conn.execute(select(evaluations).where(evaluations.c.id == f.evaluation_id)).one()
        return _followup_view(ctx, f, e)


def list_followups(ctx: HallContext, open_only: bool = True) -> list[dict[str, Any]]:
    """差评 follow-ups, the most urgent first, with their supervision colour."""
    q = select(evaluation_followups).where(evaluation_followups.c.hall_id == ctx.hall_id)
    if open_only:
        q = q.where(evaluation_followups.c.status != FollowUpStatus.CLOSED.value)
    with read_tx(ctx.engine) as conn:
        return [_followup_view(ctx, f, conn.execute(select(evaluations).where(
                    evaluations.c.id == f.evaluation_id)).one())
                for f in conn.execute(q.order_by(evaluation_followups.c.due_on, evaluation_followups.c.id)).all()]


def get_followup(ctx: HallContext, followup_id: int) -> dict[str, Any]:
    with read_tx(ctx.engine) as conn:
        f = conn.execute(select(evaluation_followups).where(evaluation_followups.c.id == followup_id,
                                                            evaluation_followups.c.hall_id == ctx.hall_id)).first()
        if f is None:
            raise NotFound(f"follow-up {followup_id} does not exist", code="followup_not_found")
        e = conn.execute(select(evaluations).where(evaluations.c.id == f.evaluation_id)).one()
        view = _followup_view(ctx, f, e)
        view["history"] = history(conn, "followup", f.id)
    return view


# ---------------------------------------------------------------- export (docs/evaluations-export.md)


def export_rows(ctx: HallContext, since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
    """Evaluations with ``since`` <= local date <= ``until``, oldest first, in the documented export format."""
    q = select(evaluations).where(evaluations.c.hall_id == ctx.hall_id)
    if since is not None:
        q = q.where(evaluations.c.at >= datetime.combine(since, time(0), ctx.tz))
    if until is not None:
        q = q.where(evaluations.c.at < datetime.combine(until + timedelta(days=1), time(0), ctx.tz))
    items = {i.id: i for i in ctx.config.items}
    depts = {d.id: d.name for d in ctx.config.departments}
    windows = {w.id: w.number for w in ctx.config.windows}
    rows = []
    with read_tx(ctx.engine) as conn:
        for e in conn.execute(q.order_by(evaluations.c.at, evaluations.c.id)).all():
            f = conn.execute(select(evaluation_followups).where(evaluation_followups.c.evaluation_id == e.id)).first()
            lvl = Level(e.level)
            rows.append({
                "evaluation_id": e.id, "hall_id": e.hall_id, "subject_kind": e.subject_kind,
                "subject_number": e.subject_label, "item_id": e.item_id,
                "item_name": items[e.item_id].name if e.item_id in items else None,
                "department_id": e.department_id, "department_name": depts.get(e.department_id or ""),
                "window_id": e.window_id, "window_number": windows.get(e.window_id or ""), "staff": e.staff,
                "level": int(lvl), "level_label": lvl.label, "bad": lvl.is_bad, "indicators": list(e.indicators),
                "indicator_labels": [INDICATORS[i] for i in e.indicators], "comment": e.comment,
                "channel": e.channel, "evaluated_at": ctx.local(e.at).isoformat(timespec="seconds"),
                "followup_status": f.status if f else None, "followup_due_on": f.due_on if f else None,
                "followup_closed_at": ctx.local(f.closed_at).isoformat(timespec="seconds")
                if f and f.closed_at else None,
                "return_visit_satisfied": (f.steps.get("return_visit") or {}).get("satisfied") if f else None,
            })
    return rows


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A text cell that a spreadsheet (Excel, WPS) would run as a formula gets a leading ``'``: a citizen's
    comment ``=HYPERLINK(...)`` stays text. Numbers are left alone (a negative number is data, not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export(ctx: HallContext, fmt: str = "jsonl", since: date | None = None, until: date | None = None) -> Iterator[str]:
    """The export as text chunks: JSON Lines (one object per line) or CSV (header line, ``;``-joined lists)."""
    rows = export_rows(ctx, since, until)
    if fmt == "jsonl":
        for r in rows:
            yield json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
        return
    if fmt != "csv":
        raise InvalidInput("format: jsonl or csv", code="bad_format")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: csv_safe(";".join(str(x) for x in v) if isinstance(v, list) else
                                     ("true" if v is True else "false" if v is False else ("" if v is None else v)))
                         for k, v in r.items()})
    yield buf.getvalue()
