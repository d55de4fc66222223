"""What the supervisor's and technician's pages share: who may open them, the context, JSON bodies."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from pydantic import BaseModel, ValidationError

from ..auth import check_csrf, csrf_token, current_identity, require_staff
from ..domain.errors import DomainError, InvalidInput
from ..services.context import HallContext
from ..services.staff import ROLE_ZH, StaffMember

NAV = [  # (endpoint, label, roles that see it)
    ("backoffice.overview_page", "大厅总览", ("supervisor",)),
    ("backoffice.alerts_page", "监察告警", ("supervisor",)),
    ("backoffice.reports_page", "统计报表", ("supervisor",)),
    ("backoffice.assessment_page", "人员考核", ("supervisor",)),
    ("backoffice.devices_page", "设备状态", ("supervisor", "technician")),
    ("backoffice.admin_page", "人员管理", ("supervisor", "admin")),
]


def ctx() -> HallContext:
    return current_app.extensions["onewindow"]


def page(*roles: str) -> Callable:
    """A page for these roles (admin may open every one): login first, a clear Chinese refusal otherwise."""

    def wrap(view: Callable) -> Callable:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            member = current_identity().staff
            if member is None:
                return redirect(url_for("backoffice.login_page", next=request.full_path))
            if not member.has(*roles, "admin"):
                need = "、".join(ROLE_ZH[r] for r in roles)
                return render_template("supervisor/refused.html", hall=ctx().config.hall, staff=member, nav=nav(member),
                                       csrf=csrf_token(), need=need), 403
            return view(member, *args, **kwargs)

        return inner

    return wrap


def api(*roles: str) -> Callable:
    """A JSON endpoint of these pages: staff of these roles, CSRF on writes, errors as the API's JSON."""

    def wrap(view: Callable) -> Callable:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            from ..api.errors import domain_error_response, error_body, validation_details

            try:
                check_csrf()
                member = require_staff(current_identity().staff, *roles)
                return view(member, *args, **kwargs)
            except DomainError as exc:
                body, status = domain_error_response(exc)
                return body, status
            except ValidationError as exc:
                return error_body("invalid_request", "invalid fields; see details", validation_details(exc)), 422

        return inner

    return wrap


def json_body(model: type[BaseModel]) -> Any:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("send a JSON object body / 请求体须为 JSON 对象", code="bad_body")
    return model.model_validate(data)


def nav(member: StaffMember) -> list[dict[str, Any]]:
    return [{"url": url_for(ep), "label": label, "active": request.endpoint == ep}
            for ep, label, roles in NAV if member.has(*roles, "admin")]


def render(template: str, member: StaffMember, **kw: Any) -> str:
    return render_template(template, hall=ctx().config.hall, staff=member, nav=nav(member), csrf=csrf_token(), **kw)
