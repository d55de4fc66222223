"""Statistics and reports (supervisor): charts over tables, every table exportable as CSV and XLSX;
the monthly staff assessment as a printable A4 page and an XLSX."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, request
from flask.typing import ResponseReturnValue

from ..domain.errors import InvalidInput
from ..services import exports, reports
from ..services.staff import StaffMember
from . import bp
from .guard import api, ctx, page, render


def _date(name: str, default: date | None = None) -> date | None:
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw[:10] if len(raw) >= 10 else raw + "-01")
    except ValueError:
        raise InvalidInput(f"{name}: not a date like 2026-12-06 / 日期格式应为 2026-12-06", code="bad_date") from None


def _report() -> dict[str, Any]:
    c = ctx()
    kind = request.args.get("period", "day")
    start, end = reports.period(kind, _date("day", c.today()) or c.today(), _date("start"), _date("end"))
    by = request.args.get("by", "queue")
    out = reports.ticket_report(c, start, end, by)
    out["tables"] += reports.quality_report(c, start, end)["tables"]
    out["period"] = kind
    return out


@bp.get("/reports")
@page("supervisor")
def reports_page(member: StaffMember) -> ResponseReturnValue:
    return render("supervisor/reports.html", member, title="统计报表", today=ctx().today().isoformat(),
                  groups=reports.GROUPS)


@bp.get("/reports/data")
@api("supervisor")
def reports_data(member: StaffMember) -> ResponseReturnValue:
    return _report()


def _send(tables: list[dict[str, Any]], fmt: str, name: str, table_id: str | None) -> Response:
    if table_id:
        tables = [t for t in tables if t["id"] == table_id]
        if not tables:
            raise InvalidInput(f"no table {table_id!r} in this report", code="bad_table")
    if fmt == "csv":
        if len(tables) != 1:
            raise InvalidInput("CSV holds one table: add table=ID / CSV 每次导出一张表", code="bad_table")
        body, mime = exports.to_csv(tables[0]["columns"], tables[0]["rows"]), "text/csv; charset=utf-8"
        name += f"-{tables[0]['id']}.csv"
    elif fmt == "xlsx":
        body = exports.to_xlsx(tables)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        name += ".xlsx"
    else:
        raise InvalidInput("format must be csv or xlsx / 导出格式须为 csv 或 xlsx", code="bad_format")
    return Response(body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/reports/export")
@api("supervisor")
def reports_export(member: StaffMember) -> ResponseReturnValue:
    rep = _report()
    return _send(rep["tables"], request.args.get("format", "xlsx"), f"report-{rep['start']}-{rep['end']}",
                 request.args.get("table"))


def _assessment() -> dict[str, Any]:
    month = _date("month", ctx().today()) or ctx().today()
    return reports.assessment(ctx(), month)


@bp.get("/assessment")
@page("supervisor")
def assessment_page(member: StaffMember) -> ResponseReturnValue:
    data = _assessment()
    return render("supervisor/assessment.html", member, title="人员考核", data=data, table=data["tables"][0])


@bp.get("/assessment/export")
@api("supervisor")
def assessment_export(member: StaffMember) -> ResponseReturnValue:
    data = _assessment()
    return _send(data["tables"], request.args.get("format", "xlsx"), f"assessment-{data['month']}", None)
