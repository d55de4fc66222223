"""Staff pages of the case module: intake at the window, a case's page, the approver's list, supervision
(yellow/red lists and 差评 follow-ups), and printable A4 notices. Pages read through the services; every change
goes through the REST API (with the page's CSRF token), so the rules live in one place."""

from __future__ import annotations

import json
from typing import Any

from flask import render_template, request

from ..auth import auth_required, csrf_token, current_identity
from ..domain.cases import MARK_ZH, Mark
from ..domain.errors import DomainError
from ..domain.evaluations import INDICATORS
from ..services import cases as case_service
from ..services import evaluations as evaluation_service
from ..services.context import HallContext
from ..services.staff import StaffMember
from . import bp


def _ctx() -> HallContext:
    from flask import current_app

    return current_app.extensions["onewindow"]


class _PageRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@bp.errorhandler(_PageRefused)
def _refused(exc: _PageRefused):  # type: ignore[no-untyped-def]
    return render_template("cases/message.html", title="无法打开 / cannot open", message=exc.message,
                           hall=_ctx().config.hall.name.zh, csrf=None, me=None), exc.status


def _page_member(*roles: str) -> StaffMember | None:
    if not auth_required():
        return current_identity().staff
    member = current_identity().staff
    if member is None:
        raise _PageRefused(401, "请先登录 / please log in first (POST /api/v1/auth/login from the window panel)")
    if roles and not member.has(*roles, "admin"):
        raise _PageRefused(403, f"此页面需要角色 {' / '.join(roles)} / this page needs the role {' or '.join(roles)}")
    return member


def _departments(member: StaffMember | None) -> list[str] | None:
    if member is None or member.has("supervisor", "admin", "window_staff"):
        return None
    return list(member.departments)


def _render(template: str, member: StaffMember | None, **kw: Any) -> str:
    return render_template(template, hall=_ctx().config.hall.name.zh, csrf=csrf_token(), me=member, **kw)


def _service(call: Any) -> Any:
    try:
        return call()
    except DomainError as exc:
        raise _PageRefused(exc.status if exc.status != 500 else 503, exc.message) from None


@bp.get("/cases")
def cases_page():  # type: ignore[no-untyped-def]
    member = _page_member("approver", "supervisor", "window_staff")
    statuses = [s for s in (request.args.get("status") or "").split(",") if s]
    rows = case_service.list_cases(_ctx(), _departments(member), statuses or None)
    return _render("cases/list.html", member, cases=rows, statuses=statuses,
                   departments=_departments(member))


@bp.get("/cases/intake")
def intake_page():  # type: ignore[no-untyped-def]
    member = _page_member("window_staff", "supervisor", "approver")
    cfg = _ctx().config
    items = [{"id": i.id, "name": i.name, "kind": i.kind.value, "department": i.department,
              "materials": [m.model_dump() for m in i.materials]} for i in cfg.items]
    return _render("cases/intake.html", member, items_json=json.dumps(items, ensure_ascii=False),
                   ticket_id=request.args.get("ticket_id", ""), window_id=request.args.get("window_id", ""),
                   windows=cfg.windows, marks=[(m.value, MARK_ZH[m]) for m in Mark])


@bp.get("/cases/<int:case_id>")
def case_page(case_id: int):  # type: ignore[no-untyped-def]
    member = _page_member("approver", "supervisor", "window_staff")
    case = _service(lambda: case_service.get_case(_ctx(), case_id, _departments(member)))
    return _render("cases/detail.html", member, case=case)


@bp.get("/cases/supervision")
def supervision_page():  # type: ignore[no-untyped-def]
    member = _page_member("supervisor")
    return _render("cases/supervision.html", member, lists=case_service.supervision(_ctx()),
                   followups=evaluation_service.list_followups(_ctx()), indicators=INDICATORS)


@bp.get("/notices/<int:notice_id>")
def notice_page(notice_id: int):  # type: ignore[no-untyped-def]
    member = _page_member("window_staff", "supervisor", "approver")
    notice = _service(lambda: case_service.get_notice(_ctx(), notice_id, _departments(member)))
    return _render("cases/notice.html", member, n=notice, autoprint=request.args.get("print") == "1",
                   qr_svg=_qr_svg(notice["qr"]) if notice.get("qr") else None)


def _qr_svg(payload: str) -> str | None:
    """The notice's QR (tracker link) as inline SVG, so the A4 page prints it without any image request."""
    try:
        import qrcode
        import qrcode.image.svg
    except ImportError:  # pragma: no cover - qrcode is a dependency; the link text still prints
        return None
    img = qrcode.make(payload, image_factory=qrcode.image.svg.SvgPathImage, border=1)
    return img.to_string(encoding="unicode")
