"""The citizen's pages behind the QR codes on notices and tickets: ``/case/<token>`` (a case's progress, 办件进度)
and ``/evaluate/<token>`` (好差评).

No login: the secret token in the link is the key, and each page shows only what that token opens — one case or
one rating — with the applicant's name masked and never an ID or phone number. What a page shows is a whitelist
of the tracker's and the rating form's public fields, so a field added to those views later does not leak here by
accident. Neither page acts for staff: the rating page refuses to offer the form to a staff session (the API
refuses such a rating too).
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from typing import Any

from flask import current_app, render_template
from flask.typing import ResponseReturnValue

from queue_server.auth import current_identity
from queue_server.domain.errors import CalendarUnknown, NotFound
from queue_server.services import evaluations as evaluation_service
from queue_server.services.cases import views as case_views

from . import bp
from .routes import ASSET_VERSION, _ctx, _names, page_texts

TOKEN_MAX = 64

# The tracker view's fields the case page may show (public_case minus internal ids, plus the tracker's own).
_CASE_FIELDS = ("number", "item_name", "department_name", "kind", "status", "status_zh", "applicant", "received_at",
                "accepted_at", "due_on", "decision", "ready", "message", "message_en", "missing",
                "issuance_ticket")


def _private(resp: Any) -> Any:
    """A page opened by a secret link: never cached, never sent on as a referrer, never indexed or framed."""
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Robots-Tag"] = "noindex"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp


def _item_names(name: str | None) -> dict[str, str | None] | None:
    """The item's name in each language (config/i18n/catalogue.yaml), found by its Chinese name."""
    ctx = _ctx()
    item = next((i for i in ctx.config.items if i.name == name), None) if name else None
    return ctx.citizen_texts().names_of("items", item.id, item.name) if item is not None else None


def _page_data(section: str) -> dict[str, Any]:
    cfg = _ctx().config
    return {"hall": {"name": _names(cfg.hall.name), "complaint_phone": cfg.hall.complaint_phone},
            "asset_version": ASSET_VERSION, "i18n": page_texts(section)}


def _render(template: str, data: dict[str, Any], status: int, **kw: Any) -> Any:
    ctx = _ctx()
    return _private(current_app.make_response(
        (render_template(template, data=data, cfg=ctx.config, v=ASSET_VERSION, **kw), status)))


# ---------------------------------------------------------------- /case/<token>


def case_view(token: str) -> dict[str, Any] | None:
    """The case page's data for a tracker token, or None when no case has it."""
    ctx = _ctx()
    if not token or len(token) > TOKEN_MAX:
        return None
    try:
        view = case_views.case_status_for_tracker(ctx, token)
    except NotFound:
        return None
    out: dict[str, Any] = {k: view.get(k) for k in _CASE_FIELDS}
    out["missing"] = [str(n) for n in (view.get("missing") or [])]
    delivery = view.get("delivery") or {}
    out["delivery"] = {k: delivery[k] for k in ("method", "carrier", "tracking_number") if delivery.get(k)} or None
    ev = view.get("evaluation")
    # The citizen's own page (the notice's QR): the only place besides the pad that carries the rating link.
    out["evaluation"] = {"url": case_views.evaluation_link_for_tracker(ctx, token),
                         "rated": bool(ev.get("rated"))} if ev else None
    out["promised_days"] = view.get("promised_days")
    out["deficiency"] = view.get("deficiency")
    out["issuance_windows"] = case_views.issuance_window_numbers(ctx)
    out["item_names"] = _item_names(out.get("item_name"))
    out["workdays_left"] = None
    if out["status"] == "accepted" and out["due_on"]:
        with contextlib.suppress(CalendarUnknown):  # a year with no calendar: no count rather than a guess
            out["workdays_left"] = ctx.calendar.workdays_between(ctx.local().date(),
                                                                 date.fromisoformat(out["due_on"]))
    out["today"] = ctx.local().date().isoformat()
    return out


@bp.get("/case/<token>")
def citizen_case(token: str) -> ResponseReturnValue:
    """办件进度 behind the QR on every notice: this case only, read-only (it may take a pick-up ticket)."""
    view = case_view(token)
    data = _page_data("case")
    data["token"] = token if view is not None else None
    data["case"] = view
    return _render("display/case.html", data, 200 if view is not None else 404, case=view)


@bp.get("/case/<token>/status")
def citizen_case_status(token: str) -> ResponseReturnValue:
    """The same data as JSON, for the page's refresh."""
    view = case_view(token)
    if view is None:
        return _private(current_app.make_response(
            ({"error": {"code": "case_not_found", "message": "no case has this code"}}, 404)))
    return _private(current_app.make_response({"case": view}))


# ---------------------------------------------------------------- /evaluate/<token>

_FORM_FIELDS = ("subject_kind", "subject", "item_name", "window_number", "staff_name", "post")


@bp.get("/evaluate/<token>")
def citizen_evaluate(token: str) -> ResponseReturnValue:
    """扫码评价: the five levels with the fixed indicators, for the citizen holding this link only."""
    ctx = _ctx()
    data = _page_data("evaluate")
    form: dict[str, Any] | None = None
    if token and len(token) <= TOKEN_MAX:
        try:
            form = evaluation_service.evaluation_form(ctx, token)
        except NotFound:
            form = None
    if form is None:
        data.update(token=None, state="missing", form=None)
        return _render("display/evaluate.html", data, 404, state="missing", form=None)
    if current_identity().staff is not None:
        # The citizen's own channel: a browser logged in as staff gets no form (the API would refuse it anyway).
        data.update(token=None, state="staff", form=None)
        return _render("display/evaluate.html", data, 403, state="staff", form=None)
    if form["rated"]:
        state = "rated"
    elif datetime.fromisoformat(form["expires_at"]) < ctx.now():
        state = "expired"
    else:
        state = "open"
    public = {k: form.get(k) for k in _FORM_FIELDS}
    public["item_names"] = _item_names(form.get("item_name"))
    public["levels"] = [{"level": int(lv["level"]), "label": lv["label"], "needs_reason": bool(lv["needs_reason"])}
                        for lv in form["levels"]]
    public["indicators"] = [{"code": int(i["code"]), "label": i["label"]} for i in form["indicators"]]
    data.update(token=token if state == "open" else None, state=state, form=public)
    return _render("display/evaluate.html", data, 200, state=state, form=public)
