"""The window panel: log in, choose the window, call and serve with the keyboard."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..auth import csrf_token, current_identity
from ..services.cases.settings import issuance_queue
from ..services.context import HallContext
from . import bp


def _ctx() -> HallContext:
    return current_app.extensions["onewindow"]


@bp.get("/login")
def login_page() -> ResponseReturnValue:
    return render_template("panel/login.html", next=request.args.get("next", ""), csrf=csrf_token(), me=None)


@bp.get("/panel")
def panel_page() -> ResponseReturnValue:
    member = current_identity().staff
    if member is None:
        return redirect(url_for("backoffice.login_page", next=request.full_path))
    cfg = _ctx().config
    allowed = [w for w in cfg.windows if member.has("supervisor", "admin") or w.id in member.windows]
    chosen = request.args.get("window") or (allowed[0].id if allowed else None)
    if chosen not in {w.id for w in allowed}:
        chosen = allowed[0].id if allowed else None
    queues = {q.id: q for q in cfg.queues}
    return render_template("panel/panel.html", me=member, windows=allowed, window_id=chosen,
                           queues=queues, csrf=csrf_token(), windows_all=cfg.windows,
                           issuance_queue=issuance_queue(_ctx()) or "")
