"""The reporting query layer: ticket, case, rating and appointment figures for a date range, grouped.

Tickets are summarised per service day (counts per hall, queue, item, window and clerk; waiting and service
times as sums and 0.1-minute histograms; arrivals per local hour). A finished day never changes, so its summary
is computed once and kept (``report_days``); a year's report adds up 365 small summaries instead of reading
~550,000 tickets. Percentiles come from the histograms (nearest rank, to their bin: 6 s below 10 minutes).
Every function returns tables: ``{"id", "title", "columns", "rows"}``, the shape the page charts and exports.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select

from ..domain.errors import InvalidInput
from ..store.cases_schema import cases, evaluation_followups, evaluations
from ..store.db import plain_write_tx, read_tx
from ..store.kiosk_schema import appointments
from ..store.schema import staff, ticket_transitions, tickets
from ..store.supervision_schema import report_days
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


DIMS = ("hall", "queue", "item", "window", "staff")
# Durations are kept per day as counts in fixed bins (lower edges, seconds): 6 s wide below 10 min, 1 min wide
# to an hour, 5 min wide to 4 h, then one open bin. Percentiles are read to the bin's lower edge.
BIN_EDGES: tuple[int, ...] = (*range(0, 600, 6), *range(600, 3600, 60), *range(3600, 14400, 300), 14400)


def _bin(seconds: float) -> int:
    return bisect_right(BIN_EDGES, seconds + 1e-6) - 1


def _blank() -> dict[str, Any]:
    return {"issued": 0, "done": 0, "no_show": 0, "cancelled": 0, "transferred": 0,
            "wait_n": 0, "wait_sum": 0.0, "wait_max": 0.0, "wait_h": [],
            "svc_n": 0, "svc_sum": 0.0, "svc_max": 0.0, "svc_h": []}


def _add_duration(g: dict[str, Any], kind: str, seconds: float) -> None:
    g[f"{kind}_n"] += 1
    g[f"{kind}_sum"] += seconds
    g[f"{kind}_max"] = max(g[f"{kind}_max"], seconds)
    h = g[f"{kind}_h"]
    b = _bin(seconds)
    if len(h) <= b:
        h.extend([0] * (b + 1 - len(h)))  # kept without trailing zeros: short lists in the store
    h[b] += 1


def _merge(into: dict[str, Any], g: dict[str, Any]) -> None:
    for k, v in g.items():
        if k.endswith("_h"):
            into[k].append(v)  # added up once, at the end (_add_up)
        elif k.endswith("_max"):
            into[k] = max(into[k], v)
        else:
            into[k] += v


def _add_up(g: dict[str, Any]) -> dict[str, Any]:
    """Histograms gathered by _merge, summed in one go."""
    for k in ("wait_h", "svc_h"):
        parts = [p for p in g[k] if p]
        total = np.zeros(max((len(p) for p in parts), default=0), dtype=np.int64)
        for p in parts:
            total[:len(p)] += p
        g[k] = total.tolist()
    return g


def summarise_day(conn: Any, ctx: HallContext, day: str) -> dict[str, Any]:
    """One service day's figures per dimension (hall, queue, item, window, staff) and arrivals per local hour,
    from the raw tickets: the unit the reports add up."""
    rows = conn.execute(select(tickets.c.id, tickets.c.queue_id, tickets.c.item_id, tickets.c.window_id,
                               tickets.c.status, tickets.c.issued_at, tickets.c.called_at, tickets.c.started_at,
                               tickets.c.finished_at).where(tickets.c.hall_id == ctx.hall_id,
                                                            tickets.c.service_day == day)).all()
    ids = [r.id for r in rows]
    served_by: dict[int, str] = {}
    transferred: set[int] = set()
    for i in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        chunk = ids[i:i + 900]
        for tid, action, actor in conn.execute(select(
                ticket_transitions.c.ticket_id, ticket_transitions.c.action, ticket_transitions.c.actor).where(
                ticket_transitions.c.action.in_(("start", "no_show", "transfer")),
                ticket_transitions.c.ticket_id.in_(chunk))):
            if action == "transfer":
                transferred.add(tid)
            else:
                served_by[tid] = actor  # who began serving it (or marked it 过号)
    dims: dict[str, dict[str, dict[str, Any]]] = {d: {} for d in DIMS}
    hours = [0] * 24
    for r in rows:
        hours[ctx.local(r.issued_at).hour] += 1
        keys = {"hall": "", "queue": r.queue_id, "item": r.item_id or "", "window": r.window_id or "",
                "staff": served_by.get(r.id, "")}
        wait = (r.called_at - r.issued_at).total_seconds() if r.called_at else None
        svc = (r.finished_at - r.started_at).total_seconds() \
            if r.status == "done" and r.started_at and r.finished_at else None
        for dim, key in keys.items():
            g = dims[dim].get(key)
            if g is None:
                g = dims[dim][key] = _blank()
            g["issued"] += 1
            if r.status in ("done", "no_show", "cancelled"):
                g[r.status] += 1
            if r.id in transferred:
                g["transferred"] += 1
            if wait is not None:
                _add_duration(g, "wait", max(wait, 0.0))
            if svc is not None:
                _add_duration(g, "svc", max(svc, 0.0))
    return {"dims": dims, "hours": hours}


def day_summaries(ctx: HallContext, start: date, end: date, dims: tuple[str, ...] = DIMS
                  ) -> dict[str, dict[str, Any]]:
    """Summaries of every day in the range (only ``dims``, plus the hall line and the hours). A day before today
    never changes again (the roll-over closed its tickets), so its summary is computed once and kept in
    ``report_days``, one row per dimension; today is always computed afresh."""
    today = ctx.today().isoformat()
    s, e = start.isoformat(), end.isoformat()
    wanted = {*dims, "hall", "hours"}
    kept: dict[str, dict[str, Any]] = {}
    with read_tx(ctx.engine) as conn:
        for day, dim, body in conn.execute(select(report_days.c.service_day, report_days.c.dim, report_days.c.body)
                                           .where(report_days.c.hall_id == ctx.hall_id,
                                                  report_days.c.service_day >= s, report_days.c.service_day <= e,
                                                  report_days.c.dim.in_(sorted(wanted)))):
            entry = kept.setdefault(day, {"dims": {}, "hours": [0] * 24})
            if dim == "hours":
                entry["hours"] = body
            else:
                entry["dims"][dim] = body
        with_tickets = [d for (d,) in conn.execute(select(tickets.c.service_day).where(
            tickets.c.hall_id == ctx.hall_id, tickets.c.service_day >= s, tickets.c.service_day <= e)
            .group_by(tickets.c.service_day))]
        missing = [d for d in with_tickets if d not in kept or d >= today]
        fresh = {d: summarise_day(conn, ctx, d) for d in missing}
    to_keep = [d for d in fresh if d < today]
    if to_keep:
        with plain_write_tx(ctx.engine) as conn:
            already = {d for (d,) in conn.execute(select(report_days.c.service_day).where(
                report_days.c.hall_id == ctx.hall_id, report_days.c.service_day.in_(to_keep),
                report_days.c.dim == "hall"))}
            rows = [{"hall_id": ctx.hall_id, "service_day": d, "dim": dim, "body": body}
                    for d in to_keep if d not in already
                    for dim, body in [*fresh[d]["dims"].items(), ("hours", fresh[d]["hours"])]]
            if rows:
                conn.execute(report_days.insert(), rows)
    return {**kept, **fresh}


def backfill(ctx: HallContext, max_days: int = 30) -> int:
    """Summarise up to ``max_days`` finished days that have tickets but no kept summary (newest first), so that no
    report request pays for them; the background loop calls this after the day rolls over."""
    today = ctx.today().isoformat()
    with read_tx(ctx.engine) as conn:
        days = [d for (d,) in conn.execute(select(tickets.c.service_day).where(
            tickets.c.hall_id == ctx.hall_id, tickets.c.service_day < today).group_by(tickets.c.service_day))]
        done = {d for (d,) in conn.execute(select(report_days.c.service_day).where(
            report_days.c.hall_id == ctx.hall_id, report_days.c.dim == "hall"))}
    todo = sorted((d for d in days if d not in done), reverse=True)[:max_days]
    for d in todo:
        day = date.fromisoformat(d)
        day_summaries(ctx, day, day, ("hall",))
    return len(todo)


def _hist_percentile(h: list[int], n: int, p: float) -> float | None:
    """Nearest-rank percentile (the definition staff can check by hand), in minutes, to the bin's lower edge."""
    if not n:
        return None
    rank = max(1, math.ceil(p / 100 * n))
    seen = 0
    for b, count in enumerate(h):
        seen += count
        if seen >= rank:
            return BIN_EDGES[b] / 60
    return None


def _durations(g: dict[str, Any], kind: str) -> list[float | None]:
    n = g[f"{kind}_n"]
    if not n:
        return [None, None, None, None]
    p50, p90 = (_hist_percentile(g[f"{kind}_h"], n, p) for p in (50, 90))
    return [round(g[f"{kind}_sum"] / n / 60, 1), None if p50 is None else round(p50, 1),
            None if p90 is None else round(p90, 1), round(g[f"{kind}_max"] / 60, 1)]


def ticket_report(ctx: HallContext, start: date, end: date, by: str = "hall") -> dict[str, Any]:
    """Counts, waiting and service times per group; arrivals by weekday × hour; issued/served per day."""
    if by not in GROUPS:
        raise InvalidInput(f"group by one of {', '.join(GROUPS)}", code="bad_group")
    dim = "queue" if by == "zone" else by
    days = day_summaries(ctx, start, end, (dim,))
    zone_of = {q.id: q.zone for q in ctx.config.queues}
    groups: dict[str, dict[str, Any]] = {}
    grid = [[0] * 24 for _ in range(7)]
    daily = []
    for day in sorted(days):
        body = days[day]
        for key, g in body["dims"][dim].items():
            k = zone_of.get(key, key) if by == "zone" else key
            _merge(groups.setdefault(k, _blank()), g)
        weekday = date.fromisoformat(day).weekday()
        for h, n in enumerate(body["hours"]):
            grid[weekday][h] += n
        hall = body["dims"]["hall"].get("", _blank())
        daily.append([day, hall["issued"], hall["done"]])
    with read_tx(ctx.engine) as conn:
        names = {f"staff:{u}": n for u, n in conn.execute(select(staff.c.username, staff.c.display_name))}
    table_rows = []
    for k, g in sorted(groups.items(), key=lambda kv: -kv[1]["issued"]):
        _add_up(g)
        table_rows.append([_label(ctx, by, k or None, names), g["issued"], g["done"], g["no_show"], g["cancelled"],
                           g["transferred"], *_durations(g, "wait"), *_durations(g, "svc")])
    return {
        "start": start.isoformat(), "end": end.isoformat(), "by": by,
        "tables": [
            {"id": "tickets", "title": f"取号与办理（按{GROUPS[by]}）",
             "columns": [GROUPS[by], "取号", "办结", "过号", "取消", "转移", "等候均值(分)", "等候P50", "等候P90",
                         "等候最长", "办理均值(分)", "办理P50", "办理P90", "办理最长"],
             "rows": table_rows},
            {"id": "daily", "title": "每日取号与办结", "columns": ["日期", "取号", "办结"], "rows": daily},
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
                                      evaluation_followups.c.status, func.count().label("n")).select_from(
            evaluations.outerjoin(evaluation_followups, evaluation_followups.c.evaluation_id == evaluations.c.id))
            .where(evaluations.c.hall_id == ctx.hall_id, evaluations.c.at >= lo, evaluations.c.at < hi)
            .group_by(evaluations.c.window_id, evaluations.c.level, evaluation_followups.c.status)).all()
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
        g["total"] += r.n
        g[f"l{r.level}"] += r.n
        if r.level <= 2:
            g["bad"] += r.n
            g["closed" if r.status == "closed" else "open"] += r.n
    appt: dict[str, int] = dict(appts)
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
    served: dict[str, dict[str, Any]] = {}
    for body in day_summaries(ctx, first, last, ("staff",)).values():
        for key, g in body["dims"]["staff"].items():
            _merge(served.setdefault(key, _blank()), g)
    with read_tx(ctx.engine) as conn:
        ratings = conn.execute(select(evaluations.c.staff, evaluations.c.level, evaluation_followups.c.status)
                               .select_from(evaluations.outerjoin(
                                   evaluation_followups, evaluation_followups.c.evaluation_id == evaluations.c.id))
                               .where(evaluations.c.hall_id == ctx.hall_id, evaluations.c.at >= lo,
                                      evaluations.c.at < hi)).all()
        case_rows = conn.execute(select(cases.c.decided_by, cases.c.due_on, cases.c.decided_at).where(
            cases.c.hall_id == ctx.hall_id, cases.c.decided_at >= lo, cases.c.decided_at < hi,
            cases.c.kind == "promised")).all()
        names = dict(conn.execute(select(staff.c.username, staff.c.display_name)).all())
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"served": 0, "no_show": 0, "svc_n": 0, "svc_sum": 0.0,
                                                          "rated": 0, "good": 0, "bad": 0, "bad_closed": 0,
                                                          "cases": 0, "on_time": 0})
    for actor, g in served.items():
        if actor.startswith("staff:"):
            p = per[actor.split(":", 1)[1]]
            p.update(served=g["done"], no_show=g["no_show"], svc_n=g["svc_n"], svc_sum=g["svc_sum"])
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
        mean = round(p["svc_sum"] / p["svc_n"] / 60, 1) if p["svc_n"] else None
        out.append([names.get(user, user), user, p["served"], mean, pct(p["no_show"], calls), p["rated"],
                    pct(p["good"], p["rated"]), p["bad"], p["bad_closed"], p["cases"], pct(p["on_time"], p["cases"])])
    return {"month": first.strftime("%Y-%m"), "tables": [{
        "id": "assessment", "title": f"{first:%Y年%m月} 工作人员考核",
        "columns": ["姓名", "账号", "办结量", "平均办理(分)", "过号率%", "评价数", "满意率%", "差评", "差评已整改", "办件数",
                    "按时办结率%"],
        "rows": out}]}
