"""What every staff page shares: the navigation each role sees, hall-local times, the ``/staff/`` home that sends
each role to its page, and Chinese HTML pages for a missing page under ``/staff/``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound as HttpNotFound

from ..api.errors import error_body, status_for
from ..auth import csrf_token, current_identity
from ..domain.errors import DomainError
from ..services.staff import StaffMember
from . import bp

ROLE_ZH = {"window_staff": "窗口人员", "approver": "审批人员", "supervisor": "值班长", "technician": "技术员",
           "admin": "管理员"}

# Per role, the pages it works on, first the one it is sent to. The supervisor's overview, reports, devices and
# admin pages are their own module's; the links are stable URLs.
_PAGES: dict[str, list[tuple[str, str, str]]] = {
    "window_staff": [("/staff/panel", "窗口工作台", "叫号、办理、转窗、请求评价（F1–F10）"),
                     ("/staff/cases/intake", "收件", "为当前号码或网上申报登记收件"),
                     ("/staff/cases", "办件", "本窗口的办件、出件")],
    "approver": [("/staff/cases?status=accepted,suspended", "办件审批", "本部门待审批的办件")],
    "supervisor": [("/staff/overview", "大厅总览", "全部窗口、队列、设备实时状态"),
                   ("/staff/panel", "窗口工作台", "代任一窗口叫号"),
                   ("/staff/cases", "办件", "全部办件"),
                   ("/staff/cases/supervision", "电子监察", "临期、超期办件与差评整改"),
                   ("/staff/reports", "统计报表", "取号、等候、办理、好差评统计")],
    "technician": [("/staff/devices", "设备状态", "终端、打印机、读卡器、窗口屏、评价器")],
    "admin": [("/staff/admin", "人员管理", "账户、角色、窗口、设备令牌")],
}


def pages_for(member: StaffMember | None) -> list[tuple[str, str, str]]:
    if member is None:
        return []
    seen: dict[str, tuple[str, str, str]] = {}
    for role in ROLE_ZH:
        if member.has(role):
            for href, label, what in _PAGES[role]:
                seen.setdefault(href.split("?")[0], (href, label, what))
    return list(seen.values())


def role_names(member: StaffMember) -> str:
    return "、".join(ROLE_ZH.get(r, r) for r in member.roles)


def hall_local(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant (datetime or ISO text) as the hall's local wall time, 24-hour; a bare date stays as it is."""
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        if len(value) <= 10:
            return value
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return str(value)
    ctx = current_app.extensions["onewindow"]
    return ctx.local(value).strftime(fmt) if value.tzinfo else value.strftime(fmt)


@bp.app_template_filter("hall_local")
def _hall_local_filter(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return hall_local(value, fmt)


@bp.context_processor
def staff_context() -> dict[str, Any]:
    ctx = current_app.extensions["onewindow"]
    member = current_identity().staff
    return {"hall_name": ctx.config.hall.name.zh, "hall_tz": str(ctx.tz),
            "staff_nav": [(href, label) for href, label, _ in pages_for(member)], "role_names": role_names}


@bp.get("/")
def home() -> ResponseReturnValue:
    """Sends a one-page role straight to its page; shows the others what they can open."""
    member = current_identity().staff
    if member is None:
        return redirect(url_for("backoffice.login_page", next="/staff/"))
    pages = pages_for(member)
    if len({r for r in member.roles if r in ROLE_ZH}) == 1 and member.has("window_staff", "approver"):
        return redirect(pages[0][0])
    return render_template("staff/home.html", me=member, pages=pages, csrf=csrf_token())


_REFUSAL_ZH = {"wrong_role": "您的角色不能打开此页面", "not_your_case": "此办件不是您窗口或部门的",
               "wrong_department": "此办件不属于您的部门", "not_your_ticket": "此号码不是您窗口的",
               "wrong_window": "您未被分配到该窗口", "not_logged_in": "请先登录"}


@bp.errorhandler(DomainError)
def _refused(exc: DomainError) -> ResponseReturnValue:
    """A refusal on a staff page (the central access check runs before the page): a Chinese page, not JSON."""
    status = status_for(exc)  # the edge's one code -> status table
    zh = _REFUSAL_ZH.get(exc.code) or ("您无权打开此页面" if status == 403 else "无法打开此页面")
    return render_template("cases/message.html", title="无法打开此页面", message=f"{zh}（{exc.message}）",
                           me=current_identity().staff, csrf=None), status


@bp.app_errorhandler(HttpNotFound)
def _not_found(exc: HttpNotFound) -> ResponseReturnValue:
    if request.path == "/staff" or request.path.startswith("/staff/"):
        return render_template("cases/message.html", title="页面不存在 / page not found",
                               message=f"没有这个页面：{request.path}。请从工作台首页进入。", me=current_identity().staff,
                               csrf=None, **staff_context()), 404
    return error_body("not_found", exc.description or "Not Found"), 404
