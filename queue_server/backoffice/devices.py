"""The technician's device health page: every configured station and device, live, with test buttons."""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from ..domain.errors import InvalidInput
from ..services import alerts, devices, hall_overview
from ..services.context import Actor
from ..services.staff import StaffMember
from . import bp
from .guard import api, ctx, json_body, page, render


class TestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: str = Field(pattern="^(printer|led)$")


class KioskAckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int = Field(ge=1)
    note: str = Field(min_length=1, max_length=500)


def _stations() -> dict[str, dict[str, Any]]:
    return hall_overview.configured_stations(ctx())


@bp.get("/devices")
@page("technician", "supervisor")
def devices_page(member: StaffMember) -> ResponseReturnValue:
    return render("supervisor/devices.html", member, title="设备状态")


@bp.get("/devices/data")
@api("technician", "supervisor")
def devices_data(member: StaffMember) -> ResponseReturnValue:
    board = hall_overview.device_board(ctx(), _stations())
    acked = alerts.kiosk_acks(ctx(), [a["seq"] for a in board["kiosk_alerts"]])
    for a in board["kiosk_alerts"]:
        a["ack"] = acked.get(a["seq"])
    return board


def test_content(device: str, by: str) -> dict[str, Any]:
    if device == "printer":
        return {"document": {"blocks": [
            {"type": "header", "text": ctx().config.hall.name.zh},
            {"type": "text", "text": "打印测试 / Printer test", "align": "center", "bold": True},
            {"type": "text", "text": f"{ctx().local():%Y-%m-%d %H:%M} · {by}"},
            {"type": "cut"}]}}
    return {"lines": [{"row": 0, "text": "屏幕测试 TEST"}, {"row": 1, "text": f"{ctx().local():%H:%M}"}]}


@bp.post("/devices/<station>/test")
@api("technician", "supervisor")
def device_test(member: StaffMember, station: str) -> ResponseReturnValue:
    b = json_body(TestBody)
    conf = _stations().get(station)
    if conf is not None and b.device not in conf["devices"]:
        raise InvalidInput(f"station {station} has no {b.device}; it has {', '.join(conf['devices'])}",
                           code="no_such_device")
    command = "print" if b.device == "printer" else "show"
    return devices.send_command(ctx(), station, b.device, command, test_content(b.device, member.display_name),
                                Actor("staff", member.username))


@bp.post("/devices/kiosk-alerts/ack")
@api("technician", "supervisor")
def kiosk_alert_ack(member: StaffMember) -> ResponseReturnValue:
    b = json_body(KioskAckBody)
    return {"ack": alerts.acknowledge_kiosk_alert(ctx(), b.seq, b.note, Actor("staff", member.username))}
