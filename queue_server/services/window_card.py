"""An ID card read at a window's own reader fills that window's intake form (收件): the one place the whole name
and number leave the reader for a screen, and only for the clerk of that window.

A card read at a window station keeps its whole name and number beside the usual masked summary until the clerk
takes it (once), the next read at that reader replaces it, or ``HOLD`` passes. Nothing whole goes into an event
or a log; kiosk reads never keep it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from ..domain.errors import NotFound
from ..store.schema import device_inputs
from .context import Actor, HallContext
from .events import hall_write

HOLD = timedelta(minutes=2)  # a card lifted and forgotten is not handed to the next applicant's form


def keeps_whole(ctx: HallContext, station: str) -> bool:
    """A station devices.toml binds to a window, with an ID-card reader (kiosks and unbound stations never keep
    the whole card)."""
    binding = (ctx.stations or {}).get(station)
    return binding is not None and binding.role == "window" and binding.window_id is not None \
        and "idcard" in binding.devices


def forget_earlier(conn: Connection, ctx: HallContext, station: str) -> None:
    """Only the latest read of a window's reader is kept whole."""
    rows = conn.execute(select(device_inputs.c.input_id, device_inputs.c.data).where(
        device_inputs.c.hall_id == ctx.hall_id, device_inputs.c.station == station,
        device_inputs.c.kind == "card_read")).all()
    for r in rows:
        if r.data and "whole" in r.data:
            _drop_whole(conn, ctx, r.input_id, r.data)


def _drop_whole(conn: Connection, ctx: HallContext, input_id: str, data: dict[str, Any]) -> None:
    conn.execute(update(device_inputs).where(device_inputs.c.hall_id == ctx.hall_id,
                                             device_inputs.c.input_id == input_id)
                 .values(data={k: v for k, v in data.items() if k != "whole"}))


def take_card(ctx: HallContext, window_id: str, actor: Actor) -> dict[str, Any]:
    """The card just read at the window's reader, whole, for its intake form; taken once."""
    station = ctx.window_station(window_id)
    if station is None or not keeps_whole(ctx, station):
        raise NotFound(f"window {window_id} has no ID-card reader in devices.toml; type the applicant's details",
                       code="no_card_reader")
    now = ctx.now()
    with hall_write(ctx) as (conn, _published):
        row = conn.execute(select(device_inputs.c.input_id, device_inputs.c.data, device_inputs.c.at).where(
            device_inputs.c.hall_id == ctx.hall_id, device_inputs.c.station == station,
            device_inputs.c.kind == "card_read", device_inputs.c.at >= now - HOLD)
            .order_by(device_inputs.c.at.desc()).limit(1)).first()
        whole = (row.data or {}).get("whole") if row is not None else None
        if row is None or not whole:
            raise NotFound("no card was read at this window in the last two minutes; place the ID card on the "
                           "window's reader / 请将身份证放在窗口读卡器上", code="no_card_read")
        _drop_whole(conn, ctx, row.input_id, row.data)
    return {"input_id": row.input_id, "read_at": ctx.local(row.at).isoformat(timespec="seconds"),
            "name": whole["name"], "id_number": whole["id_number"], "birth_date": row.data.get("birth_date"),
            "name_masked": row.data.get("name_masked"), "id_masked": row.data.get("id_masked"),
            "taken_by": str(actor)}
