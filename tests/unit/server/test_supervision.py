"""电子监察 rules (pure), the alert life cycle (raised once, closed when cleared, acknowledged with a note),
the report figures of a generated day whose true values are known, exports that cannot carry a formula."""

from __future__ import annotations

import csv
import io
import sys
import types
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from queue_server.domain import alerts as A
from queue_server.domain.errors import DomainError
from queue_server.services import alerts, reports
from queue_server.services import tickets as T
from queue_server.services import windows as W
from queue_server.services.context import Actor
from queue_server.services.devices import report_health
from queue_server.services.exports import to_csv, to_xlsx
from queue_server.store.supervision_schema import report_days

TZ = ZoneInfo("Asia/Shanghai")
CLERK = Actor("staff", "li")
KIOSK = Actor("kiosk", "k1")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)


def facts(**kw) -> A.HallFacts:  # type: ignore[no-untyped-def]
    return A.HallFacts(now=NOW, local_date=NOW.date(), in_opening_hours=True, **kw)


def test_rules_fire_only_past_their_thresholds() -> None:
    rules = A.SupervisionRules(ticket_wait_min=30, window_paused_min=15, queue_targets={"a": 20})
    f = facts(
        waiting=[A.WaitingTicket(1, "A001", "a", NOW - timedelta(minutes=31)),
                 A.WaitingTicket(2, "A002", "a", NOW - timedelta(minutes=29)),
                 A.WaitingTicket(3, "A003", "a", NOW - timedelta(minutes=61))],
        windows=[A.WindowFact("w1", 1, "paused", NOW - timedelta(minutes=16), 0),
                 A.WindowFact("w2", 2, "paused", NOW - timedelta(minutes=14), 0),
                 A.WindowFact("w3", 3, "closed", None, 4), A.WindowFact("w4", 4, "closed", None, 0)],
        queues=[A.QueueFact("a", "综合", 21.0), A.QueueFact("b", "分领域", 29.0)],
        cases=[A.CaseFact(7, "HZ-1", "yellow"), A.CaseFact(8, "HZ-2", "red")],
        bad_ratings=[A.BadRating(5, "A009", 1, 2, NOW - timedelta(hours=1), False),
                     A.BadRating(6, "A010", 1, 1, NOW - timedelta(hours=1), True)],
        devices=[A.DeviceFact("kiosk-1", "printer", "error", "paper_out"),
                 A.DeviceFact("kiosk-2", "printer", "warning", "paper_near_end"),
                 A.DeviceFact("window-1", "agent", "offline")],
    )
    got = {c.key: c for c in A.evaluate(rules, f)}
    assert set(got) == {"ticket_wait:1", "ticket_wait:3", "window_paused:w1", "window_closed:w3",
                        "queue_over_target:a", "case_light:7:yellow", "case_light:8:red", "bad_rating:5",
                        "device:kiosk-1:printer:error:paper_out", "device:window-1:agent:offline:"}
    assert got["ticket_wait:3"].level == "critical" and got["ticket_wait:1"].level == "warning"
    assert "缺纸" in got["device:kiosk-1:printer:error:paper_out"].message
    # outside opening hours a closed window with people waiting is not a problem
    assert not any(c.kind == "window_closed" for c in A.evaluate(rules, A.HallFacts(
        now=NOW, local_date=NOW.date(), in_opening_hours=False, windows=f.windows)))


def test_calendar_rule_from_november() -> None:
    assert A.calendar_rule(NOW.date().replace(month=10), 11, False) == []
    assert "2027" in A.calendar_rule(NOW.date(), 11, False)[0]
    assert A.calendar_rule(NOW.date(), 11, True) == []


def test_alert_raised_once_closed_when_cleared_and_acknowledged(hall) -> None:  # type: ignore[no-untyped-def]
    report_health(hall, "kiosk-1", "printer", "error", {"state": "paper_out"}, Actor("device", "kiosk-1"))
    first = alerts.evaluate(hall)
    again = alerts.evaluate(hall)
    assert again["raised"] == 0 and first["raised"] >= 1
    open_ = [a for a in alerts.list_alerts(hall, open_only=True) if a["kind"] == "device"]
    assert len(open_) == 1 and open_[0]["level"] == "critical"
    sent = [e for e in hall.publisher.published if e["type"] == "alert_raised" and e["payload"]["kind"] == "device"]
    assert len(sent) == 1 and sent[0]["rooms"] == ["staff:test"]  # never the public hall room

    with pytest.raises(DomainError):
        alerts.acknowledge(hall, open_[0]["id"], "  ", CLERK)
    acked = alerts.acknowledge(hall, open_[0]["id"], "已换纸卷", Actor("staff", "boss"))
    assert acked["acknowledged_by"] == "staff:boss" and acked["ack_note"] == "已换纸卷"
    with pytest.raises(DomainError):
        alerts.acknowledge(hall, open_[0]["id"], "again", CLERK)

    report_health(hall, "kiosk-1", "printer", "ok", {"state": "ready"}, Actor("device", "kiosk-1"))
    assert alerts.evaluate(hall)["closed"] >= 1
    log = [a for a in alerts.list_alerts(hall) if a["kind"] == "device"]
    assert len(log) == 1 and log[0]["closed_at"] is not None and log[0]["ack_note"] == "已换纸卷"


def test_waiting_too_long_and_paused_window(hall) -> None:  # type: ignore[no-untyped-def]
    W.open_window(hall, "w1", CLERK)
    W.pause(hall, "w1", CLERK, "午休")
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    alerts.evaluate(hall)
    assert not {a["kind"] for a in alerts.list_alerts(hall, open_only=True)} & {"ticket_wait", "window_paused"}
    hall.clock.advance(timedelta(minutes=31))
    alerts.evaluate(hall)
    kinds = {a["kind"]: a for a in alerts.list_alerts(hall, open_only=True)}
    assert "A001" in kinds["ticket_wait"]["message"] and kinds["window_paused"]["subject"] == "1号窗口"
    W.resume(hall, "w1", CLERK)
    W.call_next(hall, "w1", CLERK)
    alerts.evaluate(hall)
    assert not {a["kind"] for a in alerts.list_alerts(hall, open_only=True)} & {"ticket_wait", "window_paused"}


def test_a_backlog_is_one_alert_beyond_the_longest_waiters() -> None:
    """Past the per-queue cap, the longest waiters keep their own alerts and the rest are one alert per queue."""
    rules = A.SupervisionRules(ticket_wait_min=30, ticket_wait_alerts_per_queue=3)
    over = [A.WaitingTicket(i, f"A{i:03d}", "a", NOW - timedelta(minutes=90 - i)) for i in range(1, 9)]
    f = facts(waiting=[*reversed(over), A.WaitingTicket(50, "B050", "b", NOW - timedelta(minutes=40))],
              long_waits={"a": 8, "b": 1}, queues=[A.QueueFact("a", "综合", None), A.QueueFact("b", "分领域", None)])
    got = {c.key: c for c in A.evaluate(rules, f)}
    assert set(got) == {"ticket_wait:1", "ticket_wait:2", "ticket_wait:3", "ticket_wait:50",
                        "ticket_wait_backlog:a"}
    backlog = got["ticket_wait_backlog:a"]
    assert backlog.kind == "ticket_wait" and backlog.subject == "综合" and "8 张" in backlog.message
    # at the cap exactly, no backlog alert
    f.long_waits = {"a": 3}
    assert "ticket_wait_backlog:a" not in {c.key for c in A.evaluate(rules, f)}


def test_many_alerts_are_raised_and_closed_in_a_few_statements(hall) -> None:  # type: ignore[no-untyped-def]
    """Many alerts at once (a hall's first evaluation, a long line) are written under the hall's lock, so
    their number must not multiply its statements (10,000 waiting held every window's call for seconds); and a
    line of 200 past the wait limit is the cap's longest waiters plus one backlog alert, not 200."""
    from sqlalchemy import event, insert

    from queue_server.store.schema import tickets

    day = hall.today().isoformat()
    with hall.engine.begin() as conn:
        conn.execute(insert(tickets), [
            {"hall_id": hall.hall_id, "service_day": day, "queue_id": "a", "seq": i, "number": f"A{i:03d}",
             "priority": "normal", "status": "waiting", "position": hall.now(), "issued_at": hall.now(),
             "recalls": 0, "tracker_token": f"tok{i}"} for i in range(1, 201)])
    hall.clock.advance(timedelta(minutes=31))
    writes: list[str] = []

    def count(_c, _cur, statement: str, *_a) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("INSERT INTO ALERTS", "UPDATE ALERTS")):
            writes.append(statement)

    event.listen(hall.engine, "before_cursor_execute", count)
    try:
        cap = hall.config.supervision.ticket_wait_alerts_per_queue
        assert alerts.evaluate(hall)["raised"] >= cap + 1  # and the windows closed while people wait
        assert len(writes) == 1
        with hall.engine.begin() as conn:
            conn.execute(tickets.update().values(status="cancelled"))
        writes.clear()
        assert alerts.evaluate(hall)["closed"] >= cap + 1
        assert len(writes) == 1
    finally:
        event.remove(hall.engine, "before_cursor_execute", count)
    assert not [a for a in alerts.list_alerts(hall, open_only=True) if a["kind"] == "ticket_wait"]
    raised = [a for a in alerts.list_alerts(hall, limit=1000) if a["kind"] == "ticket_wait"]
    assert sorted(a["subject"] for a in raised if a["key"].startswith("ticket_wait:")) == \
        [f"A{i:03d}" for i in range(1, cap + 1)]  # the longest waiters (issued first, by id)
    backlog = [a for a in raised if a["key"] == "ticket_wait_backlog:a"]
    assert len(raised) == cap + 1 and len(backlog) == 1 and "200 张" in backlog[0]["message"]


def _generated_day(hall):  # type: ignore[no-untyped-def]
    """Six tickets on queue a at known times; w1 serves with known durations. True figures below."""
    W.open_window(hall, "w1", CLERK)
    for _ in range(6):
        T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)  # all at 09:30
    services: list[int] = []
    for wait_extra, svc in [(2, 4), (3, 6), (5, 10)]:
        hall.clock.advance(timedelta(minutes=wait_extra))
        W.call_next(hall, "w1", CLERK)
        W.start(hall, "w1", CLERK)
        hall.clock.advance(timedelta(minutes=svc))
        W.finish(hall, "w1", CLERK)
        services.append(svc)
    W.call_next(hall, "w1", CLERK)  # the 4th: no-show
    W.no_show(hall, "w1", CLERK)
    T.cancel(hall, 6, CLERK)
    return services


def test_report_figures_match_a_generated_day(hall) -> None:  # type: ignore[no-untyped-def]
    services = _generated_day(hall)
    day = hall.today()
    rep = reports.ticket_report(hall, day, day, "queue")
    tickets = next(t for t in rep["tables"] if t["id"] == "tickets")
    row = dict(zip(tickets["columns"], tickets["rows"][0], strict=True))
    # waits (issue 09:30 → call): 2, 2+4+3=9, 9+6+5=20, 20+10=30 minutes (the no-show was called too)
    assert row["取号"] == 6 and row["办结"] == 3 and row["过号"] == 1 and row["取消"] == 1
    assert row["等候均值(分)"] == pytest.approx((2 + 9 + 20 + 30) / 4, abs=0.06)  # shown to 0.1 min
    assert row["等候P50"] == pytest.approx(9, abs=0.05) and row["等候最长"] == pytest.approx(30, abs=0.05)
    assert row["办理均值(分)"] == pytest.approx(sum(services) / 3, abs=0.05)
    assert row["办理P90"] == pytest.approx(10, abs=0.05) and row["办理P50"] == pytest.approx(6, abs=0.05)
    arrivals = next(t for t in rep["tables"] if t["id"] == "arrivals")
    thursday = arrivals["rows"][3]
    assert thursday[0] == "周四" and thursday[1 + 9] == 6 and sum(thursday[1:]) == 6  # all at 09:30 local
    by_staff = reports.ticket_report(hall, day, day, "staff")["tables"][0]["rows"]
    assert [(r[0], r[2]) for r in by_staff if r[0] != "（未指定）"] == [("staff:li", 3)]
    # the next day, yesterday's summary is kept and gives the same figures
    hall.clock.advance(timedelta(days=1))
    again = reports.ticket_report(hall, day, day, "queue")["tables"][0]["rows"]
    assert again == tickets["rows"]
    with hall.engine.connect() as conn:
        kept = set(conn.execute(select(report_days.c.service_day)).scalars())
    assert kept == {day.isoformat()}
    assert reports.ticket_report(hall, day, day, "queue")["tables"][0]["rows"] == tickets["rows"]  # from the store
    month = reports.assessment(hall, day)["tables"][0]
    li = next(r for r in month["rows"] if r[1] == "li")
    assert li[2] == 3 and li[3] == pytest.approx(20 / 3, abs=0.05) and li[4] == 25.0  # 1 no-show of 4 calls


def test_periods_and_bad_ranges() -> None:
    d = NOW.date()
    assert reports.period("week", d) == (d - timedelta(days=3), d + timedelta(days=3))  # Thu → Mon..Sun
    assert reports.period("month", d)[1].day == 30
    for args in [("range", d, None, d), ("range", d, d, d - timedelta(days=1)), ("year", d, None, None),
                 ("range", d, d, d + timedelta(days=500))]:
        with pytest.raises(DomainError):
            reports.period(*args)


def test_exports_never_carry_a_formula() -> None:
    cols = ["意见", "n"]
    rows = [["=HYPERLINK(\"http://x\",\"y\")", 1], ["+1", 2], ["-2", 3], ["@SUM(A1)", 4], ["正常", 5]]
    text = to_csv(cols, rows).decode("utf-8-sig")
    got = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in got[1:]] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'-2", "'@SUM(A1)", "正常"]
    wb = load_workbook(io.BytesIO(to_xlsx([{"id": "t", "title": "表", "columns": cols, "rows": rows}])))
    ws = wb["表"]
    assert ws["A2"].data_type == "s" and ws["A2"].value.startswith("=HYPERLINK")
    assert all(ws.cell(row=i, column=1).data_type == "s" for i in range(2, 7))
    assert ws["B6"].value == 5


def test_finished_days_are_summarised_in_the_background_once(hall) -> None:  # type: ignore[no-untyped-def]
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    watch = alerts.AlertWatch(hall)
    watch.summarise_finished_days()
    with hall.engine.connect() as conn:
        assert conn.execute(select(report_days)).first() is None  # today is never kept
    hall.clock.advance(timedelta(days=1))
    watch.summarise_finished_days()
    with hall.engine.connect() as conn:
        kept = {(r.service_day, r.dim) for r in conn.execute(select(report_days))}
    assert {d for _, d in kept} == {"hall", "queue", "item", "window", "staff", "hours"}
    assert watch.summarised_for == hall.today().isoformat()


def test_calendar_alert_uses_the_calendar_module_when_there_is_one(hall, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the fallback rule: November, and the calendar does not know next year
    assert any("2027" in w for w in alerts.gather(hall).calendar_warnings)
    plugged = types.ModuleType("queue_server.services.calendar_health")
    plugged.calendar_warnings = lambda ctx: [{"message": "2027 年调休未确认"}]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "queue_server.services.calendar_health", plugged)
    assert alerts.gather(hall).calendar_warnings == ["2027 年调休未确认"]


def test_hall_config_checks_the_supervision_section() -> None:
    from queue_server.domain.hall import HallConfig

    from .conftest import SMALL_HALL

    ok = HallConfig.model_validate({**SMALL_HALL, "supervision": {"ticket_wait_min": 20, "queue_targets": {"a": 10}}})
    assert ok.supervision.target_for("a") == 10 and ok.supervision.target_for("b") == 30
    for bad, words in [({"queue_targets": {"nope": 10}}, "queue 'nope' is not defined"),
                       ({"ticket_wait_min": 0}, "ticket_wait_min"), ({"sound": True}, "sound")]:
        with pytest.raises(ValueError, match=words):
            HallConfig.model_validate({**SMALL_HALL, "supervision": bad})
