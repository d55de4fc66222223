"""The reporting query layer: ticket, case, rating and appointment figures for a date range, grouped.

Durations are computed in SQL (seconds as numbers), so a year of a busy hall (~550,000 tickets) comes back as
plain floats grouped once in Python for the percentiles; the ``ix_tickets_report`` index serves the day range.
Every function returns tables: ``{"id", "title", "columns", "rows"}``, the shape the page charts and exports.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal_column, select

from ..domain.errors import InvalidInput
from ..store.cases_schema import cases, evaluation_followups, evaluations
from ..store.db import read_tx
from ..store.kiosk_schema import appointments
from ..store.schema import staff, ticket_transitions, tickets
from .context import HallContext

GROUPS = {"hall": "全厅", "zone": "区域", "queue": "队列", "item": "事项", "window": "窗口", "staff": "工作人员"}
MAX_DAYS = 400
WEEKDAYS_ZH = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]


def period(kind: str, day: date, start: date | None = None, end: date | None = None) -> tuple[date, date]:
    """A day, the week (Mon–Sun) or month around ``day``, or a chosen range; inclusive bounds."""
    if kind == "day":
        return day, day
    if kind == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    if kind == "month":
        first = day.replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        return first, nxt - timedelta(days=1)
    if kind == "range":
        if start is None or end is None:
            raise InvalidInput("a range needs start and end dates (YYYY-MM-DD) / 自定义区间需填写起止日期",
                               code="bad_range")
        if end < start:
            raise InvalidInput("end is before start / 结束日期早于开始日期", code="bad_range")
        if (end - start).days >= MAX_DAYS:
            raise InvalidInput(f"a range may span at most {MAX_DAYS} days / 区间最长 {MAX_DAYS} 天", code="bad_range")
        return start, end
    raise InvalidInput("period must be day, week, month or range / 周期须为 日、周、月 或 自定义", code="bad_period")


def _seconds(conn: Any, later: Any, earlier: Any) -> Any:
    if conn.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _local_hour_dow(conn: Any, col: Any, offset_h: int) -> tuple[Any, Any]:
    """The local hour and weekday (0 = Monday) of a stored UTC time, in SQL (the hall's offset is fixed)."""
    if conn.dialect.name == "sqlite":
        shifted = func.datetime(col, f"{offset_h:+d} hours")
        hour = cast(func.strftime("%H", shifted), Float)
        dow = (cast(func.strftime("%w", shifted), Float) + 6) % 7
        return hour, dow
    shifted = col + literal_column(f"interval '{offset_h} hours'")
    return func.extract("hour", shifted), (func.extract("isodow", shifted) - 1)


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values (the definition staff can check by hand)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _stats(values: list[float]) -> list[float | None]:
    if not values:
        return [None, None, None, None]
    values.sort()
    mins = [v / 60 for v in values]
    return [round(sum(mins) / len(mins), 1), round(percentile(mins, 50) or 0, 1), round(percentile(mins, 90) or 0, 1),
            round(mins[-1], 1)]


def _group_key(ctx: HallContext, by: str) -> Any:
    return {"hall": None, "zone": tickets.c.queue_id, "queue": tickets.c.queue_id, "item": tickets.c.item_id,
            "window": tickets.c.window_id, "staff": None}[by]


def _label(ctx: HallContext, by: str, key: Any, names: dict[str, str]) -> str:
    cfg = ctx.config
    if by == "hall":
        return cfg.hall.name.zh
    if key is None:
        return "（未指定）"
    try:
        if by == "queue":
            return cfg.queue(key).name.zh
        if by == "window":
            return cfg.window(key).name.zh
        if by == "item":
            return next((i.name for i in cfg.items if i.id == key), key)
        if by == "zone":
            return next((z.name.zh for z in cfg.zones if z.id == key), key)
    except KeyError:
        return str(key)
    return names.get(key, key)


def ticket_report(ctx: HallContext, start: date, end: date, by: str = "hall") -> dict[str, Any]:
    """Counts, waiting and service times per group; arrivals by weekday × hour; issued/served per day."""
    if by not in GROUPS:
        raise InvalidInput(f"group by one of {', '.join(GROUPS)}", code="bad_group")
    s, e = start.isoformat(), end.isoformat()
    offset_h = int(ctx.tz.utcoffset(datetime.combine(start, datetime.min.time())).total_seconds() // 3600)
    base = and_(tickets.c.hall_id == ctx.hall_id, tickets.c.service_day >= s, tickets.c.service_day <= e)
    zone_of = {q.id: q.zone for q in ctx.config.queues}
    with read_tx(ctx.engine) as conn:
        key = _group_key(ctx, by)
        served_by = None
        if by == "staff":
            # Who served: the actor of the ticket's "start" (the clerk who began serving it).
            served_by = select(ticket_transitions.c.ticket_id, ticket_transitions.c.actor).where(
                ticket_transitions.c.action == "start").subquery()
            key = served_by.c.actor
        cols = [
            tickets.c.id,
            (key if key is not None else literal_column("NULL")).label("k"),
            tickets.c.status,
            _seconds(conn, tickets.c.called_at, tickets.c.issued_at).label("wait_s"),
            _seconds(conn, tickets.c.finished_at, tickets.c.started_at).label("svc_s"),
        ]
        q = select(*cols).where(base)
        if served_by is not None:
            q = q.select_from(tickets.outerjoin(served_by, served_by.c.ticket_id == tickets.c.id))
        rows = conn.execute(q).all()
        hour, dow = _local_hour_dow(conn, tickets.c.issued_at, offset_h)
        heat = conn.execute(select(dow.label("d"), hour.label("h"), func.count()).where(base)
                            .group_by(literal_column("d"), literal_column("h"))).all()
        daily = conn.execute(select(tickets.c.service_day, func.count(),
                                    func.sum(case((tickets.c.status == "done", 1), else_=0)))
                             .where(base).group_by(tickets.c.service_day).order_by(tickets.c.service_day)).all()
        transferred_ids = {r[0] for r in conn.execute(
            select(ticket_transitions.c.ticket_id).where(
                ticket_transitions.c.action == "transfer",
                ticket_transitions.c.ticket_id.in_(select(tickets.c.id).where(base))))}
        names = {f"staff:{u}": n for u, n in conn.execute(select(staff.c.username, staff.c.display_name))}
    groups: dict[Any, dict[str, Any]] = defaultdict(lambda: {"issued": 0, "done": 0, "no_show": 0, "cancelled": 0,
                                                              "transferred": 0, "wait": [], "svc": []})
    for r in rows:
        k = zone_of.get(r.k, r.k) if by == "zone" else r.k
        g = groups[k]
        g["issued"] += 1
        if r.status in ("done", "no_show", "cancelled"):
            g[r.status] += 1
        if r.id in transferred_ids:
            g["transferred"] += 1
        if r.wait_s is not None:
            g["wait"].append(float(r.wait_s))
        if r.svc_s is not None and r.status == "done":
            g["svc"].append(float(r.svc_s))
    table_rows = []
    for k, g in sorted(groups.items(), key=lambda kv: -kv[1]["issued"]):
        table_rows.append([_label(ctx, by, k, names), g["issued"], g["done"], g["no_show"], g["cancelled"],
                           g["transferred"], *_stats(g["wait"]), *_stats(g["svc"])])
    grid = [[0] * 24 for _ in range(7)]
    for d, h, n in heat:
        grid[int(d)][int(h)] = int(n)
    return {
        "start": s, "end": e, "by": by,
        "tables": [
            {"id": "tickets", "title": f"取号与办理（按{GROUPS[by]}）",
             "columns": [GROUPS[by], "取号", "办结", "过号", "取消", "转移", "等候均值(分)", "等候P50", "等候P90",
                         "等候最长", "办理均值(分)", "办理P50", "办理P90", "办理最长"],
             "rows": table_rows},
            {"id": "daily", "title": "每日取号与办结", "columns": ["日期", "取号", "办结"],
             "rows": [[d, int(n), int(done or 0)] for d, n, done in daily]},
            {"id": "arrivals", "title": "到达分布（星期 × 小时）", "columns": ["星期", *[f"{h:02d}" for h in range(24)]],
             "rows": [[WEEKDAYS_ZH[i], *grid[i]] for i in range(7)]},
        ],
    }


def _day_bounds(ctx: HallContext, start: date, end: date) -> tuple[datetime, datetime]:
    return (datetime.combine(start, datetime.min.time(), ctx.tz),
            datetime.combine(end + timedelta(days=1), datetime.min.time(), ctx.tz))


def quality_report(ctx: HallContext, start: date, end: date) -> dict[str, Any]:
    """限时办结 on-time rate, 好差评 and 差评 follow-up, appointment show-up, for the range."""
    lo, hi = _day_bounds(ctx, start, end)
    with read_tx(ctx.engine) as conn:
        decided = conn.execute(select(cases.c.department_id, cases.c.due_on, cases.c.decided_at).where(
            cases.c.hall_id == ctx.hall_id, cases.c.decided_at >= lo, cases.c.decided_at < hi,
            cases.c.kind == "promised")).all()
        ratings = conn.execute(select(evaluations.c.window_id, evaluations.c.level,
                                      evaluation_followups.c.status).select_from(
            evaluations.outerjoin(evaluation_followups, evaluation_followups.c.evaluation_id == evaluations.c.id))
            .where(evaluations.c.hall_id == ctx.hall_id, evaluations.c.at >= lo, evaluations.c.at < hi)).all()
        appts = conn.execute(select(appointments.c.status, func.count()).where(
            appointments.c.hall_id == ctx.hall_id, appointments.c.slot_at >= lo, appointments.c.slot_at < hi)
            .group_by(appointments.c.status)).all()
    depts = {d.id: d.name for d in ctx.config.departments}
    per_dept: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in decided:
        on_time = c.due_on is None or ctx.local(c.decided_at).date().isoformat() <= c.due_on
        per_dept[c.department_id][0] += 1
        per_dept[c.department_id][1] += int(on_time)
    per_window: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in ratings:
        g = per_window[r.window_id]
        g["total"] += 1
        g[f"l{r.level}"] += 1
        if r.level <= 2:
            g["bad"] += 1
            g["closed" if r.status == "closed" else "open"] += 1
    appt = dict(appts)
    booked = sum(n for s, n in appt.items() if s != "cancelled")

    def rate(a: int, b: int) -> float | None:
        return round(100 * a / b, 1) if b else None

    def wname(w: Any) -> str:
        try:
            return ctx.config.window(w).name.zh if w else "（线上）"
        except KeyError:
            return str(w)

    return {"tables": [
        {"id": "ontime", "title": "限时办结（承诺件，按部门）", "columns": ["部门", "办结件数", "按时办结", "按时率%"],
         "rows": [[depts.get(d, d), n, ok, rate(ok, n)] for d, (n, ok) in sorted(per_dept.items())]},
        {"id": "ratings", "title": "好差评（按窗口）",
         "columns": ["窗口", "评价数", "非常满意", "满意", "基本满意", "不满意", "非常不满意", "满意率%", "差评", "差评已办结",
                     "差评跟进中"],
         "rows": [[wname(w), g["total"], g["l5"], g["l4"], g["l3"], g["l2"], g["l1"],
                   rate(g["l5"] + g["l4"] + g["l3"], g["total"]), g["bad"], g["closed"], g["open"]]
                  for w, g in sorted(per_window.items(), key=lambda kv: str(kv[0]))]},
        {"id": "appointments", "title": "预约到场", "columns": ["预约数", "已到场", "未到", "取消", "到场率%"],
         "rows": [[booked, appt.get("checked_in", 0), appt.get("booked", 0), appt.get("cancelled", 0),
                   rate(appt.get("checked_in", 0), booked)]]},
    ]}


def assessment(ctx: HallContext, month: date) -> dict[str, Any]:
    """Staff assessment (plan §12) for one month: one row per member of staff who served or was rated."""
    first, last = period("month", month)
    lo, hi = _day_bounds(ctx, first, last)
    s, e = first.isoformat(), last.isoformat()
    with read_tx(ctx.engine) as conn:
        started = select(ticket_transitions.c.ticket_id, ticket_transitions.c.actor).where(
            ticket_transitions.c.action.in_(("start", "no_show"))).subquery()
        rows = conn.execute(select(started.c.actor, tickets.c.status,
                                   _seconds(conn, tickets.c.finished_at, tickets.c.started_at).label("svc"))
                            .select_from(tickets.join(started, started.c.ticket_id == tickets.c.id))
                            .where(tickets.c.hall_id == ctx.hall_id, tickets.c.service_day >= s,
                                   tickets.c.service_day <= e)).all()
        ratings = conn.execute(select(evaluations.c.staff, evaluations.c.level, evaluation_followups.c.status)
                               .select_from(evaluations.outerjoin(
                                   evaluation_followups, evaluation_followups.c.evaluation_id == evaluations.c.id))
                               .where(evaluations.c.hall_id == ctx.hall_id, evaluations.c.at >= lo,
                                      evaluations.c.at < hi)).all()
        case_rows = conn.execute(select(cases.c.decided_by, cases.c.due_on, cases.c.decided_at).where(
            cases.c.hall_id == ctx.hall_id, cases.c.decided_at >= lo, cases.c.decided_at < hi,
            cases.c.kind == "promised")).all()
        names = dict(conn.execute(select(staff.c.username, staff.c.display_name)).all())
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"served": 0, "no_show": 0, "svc": [], "rated": 0, "good": 0,
                                                          "bad": 0, "bad_closed": 0, "cases": 0, "on_time": 0})
    for r in rows:
        if not r.actor.startswith("staff:"):
            continue
        p = per[r.actor.split(":", 1)[1]]
        if r.status == "done":
            p["served"] += 1
            if r.svc is not None:
                p["svc"].append(float(r.svc))
        elif r.status == "no_show":
            p["no_show"] += 1
    for r in ratings:
        if not r.staff:
            continue
        p = per[r.staff]
        p["rated"] += 1
        p["good"] += int(r.level >= 3)
        if r.level <= 2:
            p["bad"] += 1
            p["bad_closed"] += int(r.status == "closed")
    for c in case_rows:
        if not c.decided_by or not c.decided_by.startswith("staff:"):
            continue
        p = per[c.decided_by.split(":", 1)[1]]
        p["cases"] += 1
        p["on_time"] += int(c.due_on is None or ctx.local(c.decided_at).date().isoformat() <= c.due_on)

    def pct(a: int, b: int) -> float | None:
        return round(100 * a / b, 1) if b else None

    out = []
    for user, p in sorted(per.items()):
        calls = p["served"] + p["no_show"]
        mean = round(sum(p["svc"]) / len(p["svc"]) / 60, 1) if p["svc"] else None
        out.append([names.get(user, user), user, p["served"], mean, pct(p["no_show"], calls), p["rated"],
                    pct(p["good"], p["rated"]), p["bad"], p["bad_closed"], p["cases"], pct(p["on_time"], p["cases"])])
    return {"month": first.strftime("%Y-%m"), "tables": [{
        "id": "assessment", "title": f"{first:%Y年%m月} 工作人员考核",
        "columns": ["姓名", "账号", "办结量", "平均办理(分)", "过号率%", "评价数", "满意率%", "差评", "差评已整改", "办件数",
                    "按时办结率%"],
        "rows": out}]}
