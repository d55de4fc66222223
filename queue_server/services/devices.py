"""Use cases of the device agents: health reports, inputs (card read, code scanned, rating given), commands.

The server never touches hardware: it records what agents report and sends commands to a station's room.
Personal data from an ID card stays here only as masked labels, the birth date and a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from datetime import date
from typing import Any, Literal

from sqlalchemy import select, update

from ..domain.errors import InvalidInput
from ..domain.priority import age_on
from ..domain.privacy import birth_date_of, mask_id, mask_name, validate_id_number
from ..store.db import read_tx
from ..store.schema import device_inputs, device_status
from . import window_card
from .context import Actor, HallContext
from .events import append_event, hall_write

STATION_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
DEVICE_KINDS = ("printer", "idcard", "scanner", "camera", "led", "evaluator")
HEALTH_SUBJECTS = (*DEVICE_KINDS, "agent")  # "agent": the agent process itself, with the window it serves
HEALTH = ("ok", "warning", "error", "offline", "unknown")
INPUT_KINDS = ("card_read", "code_scanned", "rating_given")
COMMANDS = {
    "printer": ("print",),
    "led": ("show", "clear"),
    "evaluator": ("start_evaluation", "cancel_evaluation"),
}

HealthStatus = Literal["ok", "warning", "error", "offline", "unknown"]


def station_room(station: str) -> str:
    return f"station:{station}"


def check_station(station: str) -> str:
    if not STATION_RE.match(station):
        raise InvalidInput(f"station {station!r} is not a station name like kiosk-1 or window-3",
                           code="bad_station")
    return station


def report_health(ctx: HallContext, station: str, device: str, status: str, detail: dict[str, Any] | None,
                  actor: Actor) -> dict[str, Any]:
    """Record a device's health; an event goes out only when it changed, so heartbeats cost no broadcast."""
    check_station(station)
    if device not in HEALTH_SUBJECTS:
        raise InvalidInput(f"device {device!r} unknown; one of {', '.join(HEALTH_SUBJECTS)}", code="bad_device")
    if status not in HEALTH:
        raise InvalidInput(f"status {status!r} unknown; one of {', '.join(HEALTH)}", code="bad_status")
    now = ctx.now()
    with hall_write(ctx) as (conn, published):
        key = (device_status.c.hall_id == ctx.hall_id) & (device_status.c.station == station) & (
            device_status.c.device == device)
        prior = conn.execute(select(device_status).where(key)).first()
        if prior is None:
            conn.execute(device_status.insert().values(hall_id=ctx.hall_id, station=station, device=device,
                                                       status=status, detail=detail, updated_at=now))
        else:
            conn.execute(update(device_status).where(key).values(status=status, detail=detail, updated_at=now))
        changed = prior is None or prior.status != status or prior.detail != detail
        view = {"station": station, "device": device, "status": status, "detail": detail or {},
                "updated_at": now.isoformat(), "reported_by": str(actor)}
        if changed:
            published.append(append_event(conn, ctx.hall_id, "device_health", view, [station_room(station)], now))
    return {**view, "changed": changed}


def stations_health(ctx: HallContext) -> list[dict[str, Any]]:
    with read_tx(ctx.engine) as conn:
        rows = conn.execute(select(device_status).where(device_status.c.hall_id == ctx.hall_id)
                            .order_by(device_status.c.station, device_status.c.device)).all()
    return [{"station": r.station, "device": r.device, "status": r.status, "detail": r.detail or {},
             "updated_at": r.updated_at.isoformat()} for r in rows]


FOREIGN_ID_RE = re.compile(r"^[A-Z]{3}\d{12}$")  # the 2017 foreign permanent-resident card: nationality + 12 digits


def _card_number(raw: str) -> str:
    """A resident ID number (check character validated) or a foreign permanent-resident card number."""
    value = raw.strip().upper()
    if FOREIGN_ID_RE.match(value):
        return value
    try:
        return validate_id_number(value)
    except ValueError as exc:
        raise InvalidInput(f"card_read id_number: {exc}", code="invalid_id_number") from None


def _card_summary(ctx: HallContext, data: dict[str, Any]) -> dict[str, Any]:
    """What a card read may carry onward: masked labels, birth date, and a keyed hash of the number."""
    id_number = _card_number(str(data.get("id_number") or ""))
    if FOREIGN_ID_RE.match(id_number) and not data.get("birth_date"):
        raise InvalidInput("a foreign permanent-resident card read needs its birth_date", code="bad_birth_date")
    birth = data.get("birth_date")
    try:
        birth_day = date.fromisoformat(str(birth)) if birth else birth_date_of(id_number)
    except ValueError:
        raise InvalidInput("card_read birth_date must be YYYY-MM-DD", code="bad_birth_date") from None
    name = str(data.get("name") or "")
    return {
        "name_masked": mask_name(name) if name else None,
        "id_masked": mask_id(id_number),
        "birth_date": birth_day.isoformat(),
        "person_key": hmac.new(ctx.person_secret, id_number.encode(), hashlib.sha256).hexdigest(),
        "expired": bool(data.get("expired", False)),
    }


def record_input(ctx: HallContext, station: str, input_id: str, device: str, kind: str, data: dict[str, Any],
                 actor: Actor) -> dict[str, Any]:
    """Take an input once: a resend with the same id (after a reconnect) is acknowledged and not repeated."""
    check_station(station)
    if kind not in INPUT_KINDS:
        raise InvalidInput(f"input kind {kind!r} unknown; one of {', '.join(INPUT_KINDS)}", code="bad_input_kind")
    if not (1 <= len(input_id) <= 64):
        raise InvalidInput("input id must be 1 to 64 characters", code="bad_input_id")
    whole = False
    if kind == "card_read":
        payload = _card_summary(ctx, data)
        whole = window_card.keeps_whole(ctx, station)
        if whole:  # a window's reader fills that window's intake form (services/window_card.py)
            payload["whole"] = {"name": str(data.get("name") or ""), "id_number": _card_number(
                str(data.get("id_number") or ""))}
        birth = date.fromisoformat(payload["birth_date"])
        elderly = age_on(birth, ctx.local().date()) >= ctx.config.hall.elderly_age
        # Screens may see masked labels and the priority hint; birth date and hash stay in the store.
        public = {"name_masked": payload["name_masked"], "id_masked": payload["id_masked"], "elderly": elderly,
                  "expired": payload["expired"]}
    elif kind == "code_scanned":
        code = str(data.get("code") or "")
        if not code or len(code) > 2048:
            raise InvalidInput("code_scanned needs a code of 1 to 2048 characters", code="bad_code")
        payload = public = {"code": code, "symbology": data.get("symbology")}
    else:
        payload = public = {k: data.get(k) for k in ("session", "subject", "level", "reason")}
    now = ctx.now()
    with hall_write(ctx) as (conn, published):
        seen = conn.execute(select(device_inputs.c.input_id).where(
            device_inputs.c.hall_id == ctx.hall_id, device_inputs.c.input_id == input_id)).first()
        if seen is not None:
            return {"input_id": input_id, "duplicate": True}
        if whole:
            window_card.forget_earlier(conn, ctx, station)
        conn.execute(device_inputs.insert().values(hall_id=ctx.hall_id, input_id=input_id, station=station,
                                                   device=device, kind=kind, at=now,
                                                   data=payload if kind == "card_read" else None))
        published.append(append_event(conn, ctx.hall_id, "device_input",
                                      {"station": station, "device": device, "kind": kind, "input_id": input_id,
                                       "data": public}, [station_room(station)], now))
    return {"input_id": input_id, "duplicate": False, "data": public}


def send_command(ctx: HallContext, station: str, device: str, command: str, args: dict[str, Any],
                 actor: Actor) -> dict[str, Any]:
    check_station(station)
    allowed = COMMANDS.get(device)
    if not allowed or command not in allowed:
        raise InvalidInput(
            f"{device}.{command} is not a device command; allowed: "
            + ", ".join(f"{d}.{c}" for d, cs in COMMANDS.items() for c in cs), code="bad_command")
    command_id = uuid.uuid4().hex
    now = ctx.now()
    with hall_write(ctx) as (conn, published):
        published.append(append_event(conn, ctx.hall_id, "device_command",
                                      {"command_id": command_id, "station": station, "device": device,
                                       "command": command, "args": args, "by": str(actor)},
                                      [station_room(station)], now))
    return {"command_id": command_id, "station": station, "device": device, "command": command}


def record_command_result(ctx: HallContext, station: str, command_id: str, ok: bool, error: str | None,
                          result: dict[str, Any] | None, actor: Actor) -> dict[str, Any]:
    """Record a command's outcome once: a result resent after a lost acknowledgement is not announced twice."""
    check_station(station)
    if not (1 <= len(command_id) <= 60):
        raise InvalidInput("command_id must be 1 to 60 characters", code="bad_command_id")
    now = ctx.now()
    body = {"command_id": command_id, "station": station, "ok": ok, "error": error, "result": result or {}}
    key = f"result:{command_id}"
    with hall_write(ctx) as (conn, published):
        seen = conn.execute(select(device_inputs.c.input_id).where(
            device_inputs.c.hall_id == ctx.hall_id, device_inputs.c.input_id == key)).first()
        if seen is not None:
            return {"command": body, "duplicate": True}
        conn.execute(device_inputs.insert().values(hall_id=ctx.hall_id, input_id=key, station=station,
                                                   device="agent", kind="command_result", at=now))
        published.append(append_event(conn, ctx.hall_id, "command_result", body, [station_room(station)], now))
    return {"command": body, "duplicate": False}


def window_station(ctx: HallContext, window_id: str) -> str | None:
    """The station devices.toml binds to this window; without a devices file, the station whose agent last
    reported serving it."""
    if ctx.stations is not None:
        return ctx.window_station(window_id)
    with read_tx(ctx.engine) as conn:
        rows = conn.execute(select(device_status.c.station, device_status.c.detail).where(
            device_status.c.hall_id == ctx.hall_id, device_status.c.device == "agent")).all()
    for r in rows:
        if (r.detail or {}).get("window_id") == window_id:
            return r.station
    return None
