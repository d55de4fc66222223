"""The supervisor's live hall overview (wall screen) and the 电子监察 alert log with acknowledgement."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from ..domain.errors import NotFound
from ..services import alerts, hall_overview
from ..services.context import Actor
from ..services.staff import StaffMember
from . import bp
from .guard import api, ctx, json_body, page, render


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=500, description="what is being done about it")


@bp.get("/overview")
@page("supervisor")
def overview_page(member: StaffMember) -> ResponseReturnValue:
    return render("supervisor/overview.html", member, title="大厅总览")


@bp.get("/overview/data")
@api("supervisor")
def overview_data(member: StaffMember) -> ResponseReturnValue:
    return hall_overview.overview(ctx())


@bp.get("/alerts")
@page("supervisor")
def alerts_page(member: StaffMember) -> ResponseReturnValue:
    return render("supervisor/alerts.html", member, title="监察告警", alerts=alerts.list_alerts(ctx(), limit=500))


@bp.get("/alerts/data")
@api("supervisor", "technician")
def alerts_data(member: StaffMember) -> ResponseReturnValue:
    return {"alerts": alerts.list_alerts(ctx(), open_only=request.args.get("open") == "1")}


@bp.post("/alerts/<alert_id>/ack")
@api("supervisor", "technician")
def alert_ack(member: StaffMember, alert_id: str) -> ResponseReturnValue:
    b = json_body(AckBody)
    if not alert_id.isdigit():
        raise NotFound(f"alert {alert_id!r} does not exist", code="alert_not_found")
    return {"alert": alerts.acknowledge(ctx(), int(alert_id), b.note, Actor("staff", member.username))}
