"""Staff administration in the browser (admin and supervisor): what `onewindow users`/`devices` do, audited."""

from __future__ import annotations

import re

from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from ..domain.errors import InvalidInput
from ..services import staff_admin
from ..services.context import Actor
from ..services.staff import ROLE_ZH, ROLES, StaffMember
from . import bp
from .guard import api, ctx, json_body, page, render


class AddBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=40)
    display_name: str = Field(min_length=1, max_length=40)
    roles: list[str] = Field(min_length=1)
    windows: list[str] = []
    departments: list[str] = []
    post: str | None = Field(default=None, max_length=40)


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str] = Field(min_length=1)
    windows: list[str] = []
    departments: list[str] | None = None


class RevokeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: str = Field(description="the station's name again: revoking stops its agent at once")


class StateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(pattern="^(disable|enable|unlock|reset_password)$")


def _who(member: StaffMember) -> tuple[Actor, bool]:
    return Actor("staff", member.username), member.has("admin")


@bp.get("/admin")
@page("supervisor", "admin")
def admin_page(member: StaffMember) -> ResponseReturnValue:
    stations = sorted(_stations(), key=lambda s: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)])
    return render("supervisor/admin.html", member, title="人员管理", roles=[(r, ROLE_ZH[r]) for r in ROLES],
                  windows=ctx().config.windows, stations=stations, departments=ctx().config.departments)


def _stations() -> list[str]:
    from ..services.hall_overview import configured_stations

    return list(configured_stations(ctx()))


@bp.get("/admin/data")
@api("supervisor")
def admin_data(member: StaffMember) -> ResponseReturnValue:
    return staff_admin.listing(ctx())


@bp.post("/admin/users")
@api("supervisor")
def admin_add(member: StaffMember) -> ResponseReturnValue:
    b = json_body(AddBody)
    actor, by_admin = _who(member)
    return staff_admin.add(ctx(), actor, by_admin, b.username, b.display_name, b.roles, b.windows, b.departments,
                           b.post), 201


@bp.post("/admin/users/<username>/roles")
@api("supervisor")
def admin_assign(member: StaffMember, username: str) -> ResponseReturnValue:
    b = json_body(AssignBody)
    actor, by_admin = _who(member)
    return staff_admin.assign(ctx(), actor, by_admin, username, b.roles, b.windows, b.departments)


@bp.post("/admin/users/<username>/state")
@api("supervisor")
def admin_state(member: StaffMember, username: str) -> ResponseReturnValue:
    b = json_body(StateBody)
    actor, by_admin = _who(member)
    if b.action == "unlock":
        return staff_admin.unlock(ctx(), actor, by_admin, username)
    if b.action == "reset_password":
        return staff_admin.reset_password(ctx(), actor, by_admin, username)
    return staff_admin.set_disabled(ctx(), actor, by_admin, username, b.action == "disable")


@bp.post("/admin/stations/<station>/revoke")
@api("supervisor")
def admin_revoke(member: StaffMember, station: str) -> ResponseReturnValue:
    b = json_body(RevokeBody)
    if b.confirm != station:
        raise InvalidInput(f"confirm with the station's name ({station}) / 请确认站点名称", code="confirm_station")
    return staff_admin.revoke_tokens(ctx(), Actor("staff", member.username), station)
