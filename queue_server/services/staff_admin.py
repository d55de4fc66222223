"""Staff administration from the browser: the CLI's rules (the same ``services.staff`` functions), plus an
audit record of who changed whom, and the few changes the CLI lacked (unlock, roles and windows)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from ..domain.errors import InvalidInput, NotFound
from ..store.db import plain_write_tx, read_tx
from ..store.schema import staff
from ..store.supervision_schema import staff_audit
from . import staff as staff_service
from .context import Actor, HallContext
from .devices import check_station


def record_audit(engine: Engine, at: datetime, actor: str, action: str, target: str,
                 detail: dict[str, Any] | None = None) -> None:
    """One line of the staff audit: the browser's admin pages and the ``onewindow users/devices`` commands."""
    with plain_write_tx(engine) as conn:
        conn.execute(staff_audit.insert().values(at=at, actor=actor, action=action, target=target, detail=detail))


def _audit(engine: Engine, ctx: HallContext, actor: Actor, action: str, target: str,
           detail: dict[str, Any] | None = None) -> None:
    record_audit(engine, ctx.now(), str(actor), action, target, detail)


def _check_roles(roles: list[str], windows: list[str], ctx: HallContext, by_admin: bool,
                 departments: list[str] | None = None) -> None:
    bad = [r for r in roles if r not in staff_service.ROLES]
    if not roles or bad:
        raise InvalidInput(f"roles must be some of {', '.join(staff_service.ROLES)} / 角色无效", code="bad_role")
    if "admin" in roles and not by_admin:
        raise InvalidInput("only an administrator may grant the admin role / 仅管理员可授予管理员角色",
                           code="admin_only")
    known = {w.id for w in ctx.config.windows}
    unknown = [w for w in windows if w not in known]
    if unknown:
        raise InvalidInput(f"unknown windows: {', '.join(unknown)} / 窗口不存在", code="bad_window")
    depts = {d.id for d in ctx.config.departments}
    unknown = [d for d in departments or [] if d not in depts]
    if unknown:
        raise InvalidInput(f"unknown departments: {', '.join(unknown)} / 部门不存在", code="bad_department")


def new_password() -> str:
    return secrets.token_urlsafe(9)  # 12 characters, shown once


def add(ctx: HallContext, actor: Actor, by_admin: bool, username: str, display_name: str, roles: list[str],
        windows: list[str], departments: list[str], post: str | None) -> dict[str, Any]:
    _check_roles(roles, windows, ctx, by_admin, departments)
    if not display_name.strip():
        raise InvalidInput("display name is required / 请填写姓名", code="bad_name")
    password = new_password()
    member = staff_service.add_user(ctx.engine, ctx.now(), username, display_name.strip(), password, roles, windows,
                                    departments, post, known_windows={w.id for w in ctx.config.windows})
    _audit(ctx.engine, ctx, actor, "add", username, {"roles": roles, "windows": windows,
                                                       "departments": departments})
    return {"staff": member.public(), "password": password}


def _guard_target(ctx: HallContext, username: str, by_admin: bool) -> None:
    member = staff_service.find_user(ctx.engine, username)
    if member.has("admin") and not by_admin:
        raise InvalidInput("only an administrator may change an administrator / 仅管理员可修改管理员账号",
                           code="admin_only")


def set_disabled(ctx: HallContext, actor: Actor, by_admin: bool, username: str, disabled: bool) -> dict[str, Any]:
    _guard_target(ctx, username, by_admin)
    if disabled and actor.id == username:
        raise InvalidInput("you cannot disable your own account / 不能停用自己的账号", code="self_disable")
    member = staff_service.set_disabled(ctx.engine, username, disabled, ctx.now())  # disabling ends every session
    _audit(ctx.engine, ctx, actor, "disable" if disabled else "enable", username)
    return {"staff": member.public()}


def unlock(ctx: HallContext, actor: Actor, by_admin: bool, username: str) -> dict[str, Any]:
    _guard_target(ctx, username, by_admin)
    with plain_write_tx(ctx.engine) as conn:
        conn.execute(update(staff).where(staff.c.username == username).values(failed_logins=0, locked_until=None))
    _audit(ctx.engine, ctx, actor, "unlock", username)
    return {"staff": staff_service.find_user(ctx.engine, username).public()}


def reset_password(ctx: HallContext, actor: Actor, by_admin: bool, username: str) -> dict[str, Any]:
    _guard_target(ctx, username, by_admin)
    password = new_password()
    staff_service.set_password(ctx.engine, username, password, ctx.now())  # also ends every session of the account
    _audit(ctx.engine, ctx, actor, "reset_password", username)
    return {"username": username, "password": password}


def assign(ctx: HallContext, actor: Actor, by_admin: bool, username: str, roles: list[str],
           windows: list[str], departments: list[str] | None = None) -> dict[str, Any]:
    """New roles, windows and (approvers') departments; every request reads the account, so they apply at once."""
    _guard_target(ctx, username, by_admin)
    _check_roles(roles, windows, ctx, by_admin, departments)
    values: dict[str, Any] = {"roles": roles, "windows": windows}
    if departments is not None:
        values["departments"] = departments
    with plain_write_tx(ctx.engine) as conn:
        done = conn.execute(update(staff).where(staff.c.username == username).values(**values))
    if done.rowcount != 1:
        raise NotFound(f"no user named {username!r}", code="user_not_found")
    _audit(ctx.engine, ctx, actor, "assign", username, {"roles": roles, "windows": windows,
                                                          "departments": departments})
    return {"staff": staff_service.find_user(ctx.engine, username).public()}


def revoke_tokens(ctx: HallContext, actor: Actor, station: str) -> dict[str, Any]:
    check_station(station)
    n = staff_service.revoke_device_tokens(ctx.engine, ctx.now(), station)
    _audit(ctx.engine, ctx, actor, "revoke_tokens", station, {"revoked": n})
    return {"station": station, "revoked": n}


def listing(ctx: HallContext) -> dict[str, Any]:
    now = ctx.now()
    with read_tx(ctx.engine) as conn:
        locks = {r.username: r.locked_until for r in conn.execute(select(staff.c.username, staff.c.locked_until))}
        audit = conn.execute(select(staff_audit).order_by(staff_audit.c.id.desc()).limit(100)).all()
    users = []
    for m in staff_service.list_users(ctx.engine):
        until = locks.get(m.username)
        users.append({**m.public(), "locked": bool(until and until > now),
                      "roles_zh": [staff_service.ROLE_ZH.get(r, r) for r in m.roles]})
    return {"users": users, "audit": [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                                       "target": r.target, "detail": r.detail} for r in audit]}
