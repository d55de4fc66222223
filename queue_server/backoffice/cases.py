"""Staff pages of the case module: intake at the window, a case's page, the approver's list, supervision
(yellow/red lists and 差评 follow-ups), and printable A4 notices. Pages read through the services; every change
goes through the REST API (with the page's CSRF token), so the rules live in one place."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import redirect, render_template, request
from flask.typing import ResponseReturnValue

from ..api.errors import status_for
from ..auth import auth_required, csrf_token, current_identity
from ..domain.cases import MARK_ZH, Mark
from ..domain.errors import DomainError
from ..domain.evaluations import INDICATORS
from ..services import evaluations as evaluation_service
from ..services import workbench
from ..services.cases import notices as case_notices
from ..services.cases import queues as case_queues
from ..services.cases import views as case_views
from ..services.context import HallContext
from ..services.staff import StaffMember
from . import bp
from .case_view import permitted_actions, timeline_entry
from .home import ROLE_ZH, role_names


def _ctx() -> HallContext:
    from flask import current_app

    return current_app.extensions["onewindow"]


class _PageRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@bp.errorhandler(_PageRefused)
def _refused(exc: _PageRefused) -> ResponseReturnValue:
    if exc.status == 401:
        return redirect(f"/staff/login?{urlencode({'next': request.full_path.rstrip('?')})}")
    return render_template("cases/message.html", title="无法打开此页面", message=exc.message, csrf=None,
                           me=current_identity().staff), exc.status


def _page_member(*roles: str) -> StaffMember | None:
    if not auth_required():
        return current_identity().staff
    member = current_identity().staff
    if member is None:
        raise _PageRefused(401, "请先登录")
    if roles and not member.has(*roles, "admin"):
        raise _PageRefused(403, f"此页面只对{'、'.join(ROLE_ZH.get(r, r) for r in roles)}开放，"
                                f"您的角色是{role_names(member)}。")
    return member


def _departments(member: StaffMember | None) -> list[str] | None:
    if member is None or member.has("supervisor", "admin", "window_staff"):
        return None
    return list(member.departments)


def _render(template: str, member: StaffMember | None, **kw: Any) -> str:
    return render_template(template, csrf=csrf_token(), me=member, **kw)


_REFUSAL_ZH = {"not_found": "未找到", "case_not_found": "办件不存在", "notice_not_found": "通知书不存在",
               "wrong_department": "此办件不属于您的部门，无法打开", "ticket_not_found": "排队号不存在"}


def _service(call: Any) -> Any:
    try:
        return call()
    except DomainError as exc:
        zh = _REFUSAL_ZH.get(exc.code)
        message = f"{zh}（{exc.message}）" if zh else exc.message
        raise _PageRefused(status_for(exc), message) from None


@bp.get("/cases")
def cases_page() -> ResponseReturnValue:
    member = _page_member("approver", "supervisor", "window_staff")
    statuses = [s for s in (request.args.get("status") or "").split(",") if s]
    rows = case_queues.list_cases(_ctx(), _departments(member), statuses or None)
    return _render("cases/list.html", member, cases=rows, statuses=statuses,
                   departments=_departments(member))


@bp.get("/cases/intake")
def intake_page() -> ResponseReturnValue:
    """收件. From a called ticket (``ticket_id``; ``ticket`` is the panel's old spelling) the form carries the
    ticket, its window and its item; every material starts as not yet checked, so nothing is marked received by
    default."""
    member = _page_member("window_staff", "supervisor", "approver")
    ctx = _ctx()
    cfg = ctx.config
    raw_ticket = (request.args.get("ticket_id") or request.args.get("ticket") or "").strip()
    window_id = request.args.get("window_id", "")
    item_id = request.args.get("item_id", "")
    ticket: dict[str, Any] | None = None
    notice = ""
    if raw_ticket.isdigit():
        try:
            ticket = workbench.ticket_case_link(ctx, int(raw_ticket))
        except DomainError:
            notice = f"排队号 {raw_ticket} 不存在，请核对后再填。"
    elif raw_ticket:
        notice = "排队号应为数字。"
    if ticket is not None:
        window_id = window_id or ticket["window_id"] or ""
        item_id = item_id or ticket["item_id"] or ""
    if not window_id and member is not None and len(member.windows) == 1:
        window_id = member.windows[0]
    items = [{"id": i.id, "name": i.name, "kind": i.kind.value, "department": i.department, "queue": i.queue,
              "materials": [m.model_dump() for m in i.materials]} for i in cfg.items]
    return _render("cases/intake.html", member, items_json=json.dumps(items, ensure_ascii=False),
                   ticket=ticket, ticket_id=str(ticket["ticket_id"]) if ticket else "", window_id=window_id,
                   item_id=item_id if item_id in {i.id for i in cfg.items} else "", notice=notice,
                   windows=cfg.windows, marks=[(m.value, MARK_ZH[m]) for m in Mark])


@bp.get("/cases/for-ticket/<id:ticket_id>")
def case_for_ticket(ticket_id: int) -> ResponseReturnValue:
    """The panel's link for the current ticket: the case to hand over for a pick-up ticket, the case already taken
    with this ticket, or intake carrying the ticket."""
    _page_member("window_staff", "supervisor", "approver")
    link = _service(lambda: workbench.ticket_case_link(_ctx(), ticket_id))
    if link["case_id"] is not None:
        query: dict[str, Any] = {"from_ticket": ticket_id} if link["kind"] == "issuance" else {}
        if query and (request.args.get("window_id") or link["window_id"]):
            query["window_id"] = request.args.get("window_id") or link["window_id"]
        return redirect(f"/staff/cases/{link['case_id']}" + (f"?{urlencode(query)}" if query else ""))
    args: dict[str, Any] = {"ticket_id": ticket_id}
    if request.args.get("window_id") or link["window_id"]:
        args["window_id"] = request.args.get("window_id") or link["window_id"]
    return redirect(f"/staff/cases/intake?{urlencode(args)}")


@bp.get("/cases/<id:case_id>")
def case_page(case_id: int) -> ResponseReturnValue:
    member = _page_member("approver", "supervisor", "window_staff")
    case = _service(lambda: case_views.get_case(_ctx(), case_id, _departments(member)))
    from ..domain.notices import WORDING

    item = next((i for i in _ctx().config.items if i.id == case.get("item_id")), None)  # may have left the catalogue
    words = WORDING[item.category.value] if item is not None else WORDING["licensing"]
    return _render("cases/detail.html", member, case=case, can=permitted_actions(case, member), words=words,
                   history=[timeline_entry(h, {i.id: i.name for i in _ctx().config.items})
                            for h in case.get("history", [])],
                   from_ticket=request.args.get("from_ticket", ""), at_window=request.args.get("window_id"))


@bp.get("/cases/supervision")
def supervision_page() -> ResponseReturnValue:
    member = _page_member("supervisor")
    return _render("cases/supervision.html", member, lists=case_queues.supervision(_ctx()),
                   followups=evaluation_service.list_followups(_ctx()), indicators=INDICATORS)


@bp.get("/notices/<id:notice_id>")
def notice_page(notice_id: int) -> ResponseReturnValue:
    member = _page_member("window_staff", "supervisor", "approver")
    notice = _service(lambda: case_notices.get_notice(_ctx(), notice_id, _departments(member)))
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
