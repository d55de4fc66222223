"""电子监察 rules: from a picture of the hall at one moment, the conditions a supervisor must see.

Pure: the service gathers the facts (tickets, windows, queues, cases, ratings, devices, calendar) and hands them
here with the clock's "now"; the result is the set of conditions that hold now, each with a stable key so an
alert is raised once per condition and closed when its key no longer comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class SupervisionRules(BaseModel):
    """The hall config's ``supervision:`` section (every threshold has a sensible default)."""

    model_config = ConfigDict(extra="forbid")
    ticket_wait_min: int = Field(default=30, ge=1, le=600, description="a ticket waiting longer than this")
    ticket_wait_alerts_per_queue: int = Field(
        default=10, ge=1, le=200, description="at most this many 等候超时 alerts per queue, for its longest waiters; "
        "beyond them one alert for the queue counts the rest (a backlog of hundreds is one problem, not hundreds)")
    window_paused_min: int = Field(default=15, ge=1, le=600, description="a window paused longer than this")
    queue_target_min: int = Field(default=30, ge=1, le=600, description="a queue's estimated wait target")
    queue_targets: dict[str, int] = Field(default_factory=dict, description="per-queue target wait, minutes")
    bad_rating_hours: int = Field(default=24, ge=1, le=24 * 30, description="差评 alerts stay this long unless "
                                                                               "the follow-up closes first")
    calendar_from_month: int = Field(default=11, ge=1, le=12, description="next year's calendar due from")
    evaluate_every_s: int = Field(default=15, ge=2, le=600, description="the background re-check interval")

    def target_for(self, queue_id: str) -> int:
        return self.queue_targets.get(queue_id, self.queue_target_min)


KINDS_ZH = {
    "ticket_wait": "等候超时",
    "window_paused": "窗口暂停过久",
    "window_closed": "窗口未开但有人等候",
    "queue_over_target": "队列超出目标等候",
    "case_light": "限时办结预警",
    "bad_rating": "收到差评",
    "device": "设备故障",
    "calendar": "工作日历未加载",
}


@dataclass(frozen=True)
class Condition:
    """One thing wrong now. ``key`` is stable while the condition lasts (the dedup key)."""

    key: str
    kind: str
    level: str  # warning | critical
    subject: str  # what it is about: a ticket number, a window, a queue, a case, a station
    message: str  # Chinese, for the supervisor


@dataclass(frozen=True)
class WaitingTicket:
    id: int
    number: str
    queue_id: str
    issued_at: datetime


@dataclass(frozen=True)
class WindowFact:
    id: str
    number: int
    status: str  # open | paused | closed | closed_for_day
    since: datetime | None
    waiting: int  # tickets waiting in the window's queues


@dataclass(frozen=True)
class QueueFact:
    id: str
    name: str
    estimated_wait_min: float | None


@dataclass(frozen=True)
class CaseFact:
    id: int
    number: str
    light: str  # yellow | red


@dataclass(frozen=True)
class BadRating:
    id: int
    subject: str
    window_number: int | None
    level: int
    at: datetime
    followup_closed: bool


@dataclass(frozen=True)
class DeviceFact:
    station: str
    device: str
    status: str  # ok | warning | error | offline | unknown
    state: str | None = None  # a printer's state word (paper_out, cover_open...)
    error: str | None = None


@dataclass
class HallFacts:
    now: datetime
    local_date: date
    in_opening_hours: bool
    # At least each queue's longest waiters past ticket_wait_min, up to ticket_wait_alerts_per_queue of them.
    waiting: list[WaitingTicket] = field(default_factory=list)
    long_waits: dict[str, int] = field(default_factory=dict)  # per queue: how many wait past ticket_wait_min
    windows: list[WindowFact] = field(default_factory=list)
    queues: list[QueueFact] = field(default_factory=list)
    cases: list[CaseFact] = field(default_factory=list)
    bad_ratings: list[BadRating] = field(default_factory=list)
    devices: list[DeviceFact] = field(default_factory=list)
    calendar_warnings: list[str] = field(default_factory=list)


def _minutes(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds() / 60


DEVICE_ZH = {"printer": "打印机", "idcard": "身份证读卡器", "scanner": "扫码器", "camera": "摄像头", "led": "窗口屏",
             "evaluator": "评价器", "agent": "设备代理"}
STATE_ZH = {"paper_out": "缺纸", "paper_near_end": "纸将用尽", "cover_open": "上盖打开", "cutter_error": "切刀故障",
            "offline": "离线", "unknown": "无响应"}


def evaluate(rules: SupervisionRules, facts: HallFacts) -> list[Condition]:
    """Every condition that holds at ``facts.now``, in a stable order."""
    now = facts.now
    out: list[Condition] = []
    cap = rules.ticket_wait_alerts_per_queue
    listed: dict[str, int] = {}
    for t in sorted(facts.waiting, key=lambda t: t.issued_at):
        waited = _minutes(now, t.issued_at)
        if waited > rules.ticket_wait_min and listed.get(t.queue_id, 0) < cap:
            listed[t.queue_id] = listed.get(t.queue_id, 0) + 1
            level = "critical" if waited > 2 * rules.ticket_wait_min else "warning"
            out.append(Condition(f"ticket_wait:{t.id}", "ticket_wait", level, t.number,
                                 f"{t.number} 已等候 {int(waited)} 分钟（超过 {rules.ticket_wait_min} 分钟）"))
    names = {q.id: q.name for q in facts.queues}
    for queue_id, n in sorted(facts.long_waits.items()):
        if n > cap:
            name = names.get(queue_id, queue_id)
            # One key per queue while the backlog lasts; the message gives the count when it was raised.
            out.append(Condition(f"ticket_wait_backlog:{queue_id}", "ticket_wait", "critical", name,
                                 f"{name} 有 {n} 张号等候超过 {rules.ticket_wait_min} 分钟（逐张提醒最久的 {cap} 张）"))
    for w in facts.windows:
        if w.status == "paused" and w.since is not None:
            paused = _minutes(now, w.since)
            if paused > rules.window_paused_min:
                out.append(Condition(f"window_paused:{w.id}", "window_paused", "warning", f"{w.number}号窗口",
                                     f"{w.number}号窗口已暂停 {int(paused)} 分钟（超过 {rules.window_paused_min} 分钟）"))
        elif w.status in ("closed", "closed_for_day") and facts.in_opening_hours and w.waiting > 0:
            out.append(Condition(f"window_closed:{w.id}", "window_closed", "warning", f"{w.number}号窗口",
                                 f"{w.number}号窗口在办公时间未开放，其队列有 {w.waiting} 人等候"))
    for q in facts.queues:
        target = rules.target_for(q.id)
        if q.estimated_wait_min is not None and q.estimated_wait_min > target:
            out.append(Condition(f"queue_over_target:{q.id}", "queue_over_target", "warning", q.name,
                                 f"{q.name} 预计等候 {int(q.estimated_wait_min)} 分钟，超过目标 {target} 分钟"))
    for c in facts.cases:
        level = "critical" if c.light == "red" else "warning"
        what = "已超期" if c.light == "red" else "临近办结期限"
        # The colour is part of the key: yellow → red is a new, more serious alert.
        out.append(Condition(f"case_light:{c.id}:{c.light}", "case_light", level, c.number, f"办件 {c.number} {what}"))
    for r in facts.bad_ratings:
        if r.followup_closed or _minutes(now, r.at) > rules.bad_rating_hours * 60:
            continue
        where = f"{r.window_number}号窗口 " if r.window_number else ""
        out.append(Condition(f"bad_rating:{r.id}", "bad_rating", "critical", r.subject,
                             f"{where}{r.subject} 收到差评（{r.level} 级），请跟进整改"))
    for d in facts.devices:
        if d.status not in ("offline", "error"):
            continue
        name = DEVICE_ZH.get(d.device, d.device)
        what = STATE_ZH.get(d.state or "", "") or ("离线" if d.status == "offline" else (d.error or "故障"))
        level = "critical" if d.state == "paper_out" or d.device == "agent" else "warning"
        out.append(Condition(f"device:{d.station}:{d.device}:{d.status}:{d.state or ''}", "device", level,
                             d.station, f"{d.station} {name}：{what}"))
    for i, text in enumerate(facts.calendar_warnings):
        out.append(Condition(f"calendar:{facts.local_date.year}:{i}", "calendar", "warning", "工作日历", text))
    return out


def calendar_rule(local_date: date, from_month: int, knows_next_year: bool) -> list[str]:
    """The fallback calendar rule: from ``from_month`` on, next year's working-day calendar must be loaded."""
    if local_date.month >= from_month and not knows_next_year:
        return [f"{local_date.year + 1} 年工作日历尚未加载（节假日与调休），请在 config/calendar.yaml 中补充"]
    return []
