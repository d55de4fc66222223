"""好差评 against a real SQLite file: invitations, the pad, the QR and the kiosk; staff can never rate;
差评 opens a follow-up with its deadline; the follow-up's order; the export."""

import csv
import io
import json
from datetime import date, timedelta

import pytest

from queue_server.domain.errors import DomainError
from queue_server.domain.evaluations import Channel
from queue_server.services import devices
from queue_server.services import evaluations as ev
from queue_server.services import tickets as ts
from queue_server.services import windows as ws
from queue_server.services.cases import back_office, intake, outcomes, views
from queue_server.services.context import Actor

from .conftest import APPROVER, CITIZEN, ID, PAD, WINDOW

KIOSK = Actor("device", "kiosk-1")


def finished_ticket(hall):
    ws.open_window(hall, "w1", WINDOW)
    t = ts.issue_ticket(hall, ts.IssueRequest(item_id="relief"), CITIZEN).ticket
    ws.call_next(hall, "w1", WINDOW)
    ws.start(hall, "w1", WINDOW)
    ws.finish(hall, "w1", WINDOW)
    return t


def decided_case(hall):
    c = intake.intake(hall, intake.IntakeRequest(item_id="relief", applicant_name="王小娜", id_number=ID, window_id="w1",
                                         materials=["e_licence", "original", "original", "copy"]), WINDOW)["case"]
    outcomes.accept(hall, c["id"], WINDOW)
    back_office.decide(hall, c["id"], True, [], APPROVER)
    return c


def token_of(hall, inv):
    """The rating token as the citizen gets it (the pad, the notice's QR): never from the staff-facing reply."""
    from sqlalchemy import select

    from queue_server.store.cases_schema import evaluation_requests

    assert "token" not in inv and "url" not in inv
    with hall.engine.connect() as conn:
        return conn.execute(select(evaluation_requests.c.token).where(
            evaluation_requests.c.subject_kind == inv["subject_kind"],
            evaluation_requests.c.subject_label == inv["subject"])).scalar_one()


def code_of(call):
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value.code


def test_the_pad_asks_and_its_station_answers(hall):
    t = finished_ticket(hall)
    inv = ev.invite_for_ticket(hall, t["id"], WINDOW)
    command = hall.publisher.published[-1]["payload"]
    assert command["station"] == "window-1" and command["command"] == "start_evaluation"
    assert command["args"] == {"subject": f"ticket:{t['number']}", "ticket_id": t["id"], "staff_name": "李娜",
                               "post": "综合受理岗", "window": 1, "timeout_s": 120}
    assert ev.evaluation_url(hall, token_of(hall, inv)).startswith("https://hall.example/evaluate/")
    assert inv["staff"] == "li.na" and inv["window_id"] == "w1"
    assert code_of(lambda: ev.rate_from_pad(hall, "window-2", f"ticket:{t['number']}", 5, None,
                                            Actor("device", "window-2"))) == "evaluation_not_found"
    assert code_of(lambda: ev.rate_from_pad(hall, "window-1", t["number"], 5, None,
                                            Actor("device", "window-2"))) == "wrong_station"
    out = ev.rate_from_pad(hall, "window-1", f"ticket:{t['number']}", 5, None, PAD, session="0a1b2c3d")
    assert out["level"] == 5 and out["channel"] == "pad" and out["followup"] is None
    assert code_of(lambda: ev.rate(hall, token_of(hall, inv), 4, [], None, CITIZEN, Channel.QR)) == "already_rated"
    assert code_of(lambda: ev.invite_for_ticket(hall, t["id"], WINDOW)) == "already_rated"


def test_a_pad_started_by_the_window_panel_is_recognised(hall):
    t = finished_ticket(hall)
    # the panel's own request-evaluation sends subject "ticket:A001" without an invitation of ours
    out = ev.rate_from_device_input(hall, "window-1", {"session": "0a1b2c3d", "subject": f"ticket:{t['number']}",
                                                       "level": "1", "reason": "2"}, PAD)
    assert out["level"] == 1 and out["indicators"] == [2] and out["followup"]["status"] == "verifying"
    rows = ev.export_rows(hall)
    assert rows[0]["staff"] == "li.na" and rows[0]["window_id"] == "w1"
    assert code_of(lambda: ev.rate_from_device_input(hall, "window-1", {"subject": "ticket:A999", "level": 5},
                                                     PAD)) == "evaluation_not_found"
    assert code_of(lambda: ev.rate_from_device_input(hall, "window-1", {"subject": "x", "level": "five"},
                                                     PAD)) == "bad_rating"


def test_staff_can_never_rate(hall):
    t = finished_ticket(hall)
    inv = ev.invite_for_ticket(hall, t["id"], WINDOW, start_pad=False)
    assert code_of(lambda: ev.rate(hall, token_of(hall, inv), 5, [], None, WINDOW, Channel.QR)) == "staff_cannot_rate"
    assert code_of(lambda: ev.rate(hall, token_of(hall, inv), 5, [], None, CITIZEN, Channel.QR,
                                   via_staff_session=True)) == "staff_cannot_rate"
    assert code_of(lambda: ev.rate_from_pad(hall, "window-1", t["number"], 5, None, WINDOW)) == "staff_cannot_rate"
    assert code_of(lambda: ev.rate(hall, token_of(hall, inv), 5, [], None, Actor("system", "x"), Channel.KIOSK)) == \
        "wrong_channel"
    assert ev.evaluation_form(hall, token_of(hall, inv))["rated"] is False


def test_qr_and_kiosk_ratings_of_a_case(hall):
    c = decided_case(hall)
    tracker = views.get_case(hall, c["id"])["tracker_token"]
    assert views.case_status_for_tracker(hall, tracker)["evaluation"] == {"rated": False}  # no token in that view
    token = views.evaluation_link_for_tracker(hall, tracker).removeprefix("/evaluate/")  # the citizen's own page
    form = ev.evaluation_form(hall, token)
    assert form["subject"] == c["number"] and form["item_name"] == "最低生活保障申请" and form["staff_name"] == "李娜"
    assert [lv["label"] for lv in form["levels"]] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert code_of(lambda: ev.rate(hall, token, 2, [], None, KIOSK, Channel.KIOSK)) == "reason_required"
    out = ev.rate(hall, token, 2, [3], "跑了三次", KIOSK, Channel.KIOSK)
    assert out["channel"] == "kiosk" and out["followup"]["due_on"] == "2026-12-03"  # 5 working days
    assert ev.evaluation_form(hall, token)["rated"] is True
    assert code_of(lambda: ev.rate(hall, "forged", 5, [], None, CITIZEN, Channel.QR)) == "evaluation_not_found"


def test_invitations_only_after_the_service(hall):
    waiting = ts.issue_ticket(hall, ts.IssueRequest(item_id="relief"), CITIZEN).ticket
    assert code_of(lambda: ev.invite_for_ticket(hall, waiting["id"], WINDOW)) == "not_served"
    c = intake.intake(hall, intake.IntakeRequest(item_id="relief", applicant_name="王小娜", id_number=ID,
                                         materials=["e_licence", "original", "original", "copy"]), WINDOW)["case"]
    assert code_of(lambda: ev.invite_for_case(hall, c["id"], WINDOW, "w1")) == "not_decided"
    assert code_of(lambda: ev.invite_for_ticket(hall, 999, WINDOW)) == "ticket_not_found"


def test_an_invitation_expires(hall):
    c = decided_case(hall)
    inv = ev.invite_for_case(hall, c["id"], WINDOW, start_pad=False)
    hall.clock.advance(timedelta(days=31))
    assert code_of(lambda: ev.rate(hall, token_of(hall, inv), 5, [], None, CITIZEN, Channel.QR)) == "evaluation_expired"


def test_bad_rating_follow_up_runs_verify_rectify_reply_return_visit(hall):
    c = decided_case(hall)
    inv = ev.invite_for_case(hall, c["id"], WINDOW, "w1")
    out = ev.rate_from_pad(hall, "window-1", f"case:{c['number']}", 1, 2, PAD)
    fid = out["followup"]["id"]
    [open_one] = ev.list_followups(hall)
    assert open_one["status"] == "verifying" and open_one["indicators"] == ["服务态度差"] and open_one["light"] == "green"
    assert code_of(lambda: ev.followup_step(hall, fid, "rectify", "x", APPROVER)) == "invalid_followup_step"
    assert code_of(lambda: ev.followup_step(hall, fid, "verify", "x", APPROVER)) == "substantiated_required"
    assert code_of(lambda: ev.followup_step(hall, fid, "verify", " ", APPROVER, True)) == "note_required"
    assert code_of(lambda: ev.followup_step(hall, fid, "apologise", "x", APPROVER)) == "bad_step"
    assert ev.followup_step(hall, fid, "verify", "调取录像，属实", APPROVER, substantiated=True)["status"] == "rectifying"
    assert ev.followup_step(hall, fid, "rectify", "窗口人员批评教育", APPROVER)["status"] == "replying"
    assert code_of(lambda: ev.followup_step(hall, fid, "return_visit", "x", APPROVER, satisfied=True)) == \
        "invalid_followup_step"
    assert ev.followup_step(hall, fid, "reply", "电话回复申请人", APPROVER)["status"] == "return_visit"
    assert code_of(lambda: ev.followup_step(hall, fid, "return_visit", "x", APPROVER)) == "satisfied_required"
    done = ev.followup_step(hall, fid, "return_visit", "回访满意", APPROVER, satisfied=True)
    assert done["status"] == "closed" and done["closed_at"] and done["light"] is None
    assert ev.list_followups(hall) == [] and len(ev.list_followups(hall, open_only=False)) == 1
    history = ev.get_followup(hall, fid)["history"]
    assert [h["action"] for h in history] == ["open", "verify", "rectify", "reply", "return_visit"]
    assert code_of(lambda: ev.followup_step(hall, fid, "verify", "x", APPROVER, True)) == "invalid_followup_step"
    assert inv["subject"] == c["number"]


def test_unfounded_complaint_skips_rectification_and_deadline_turns_red(hall):
    t = finished_ticket(hall)
    inv = ev.invite_for_ticket(hall, t["id"], WINDOW, start_pad=False)
    fid = ev.rate(hall, token_of(hall, inv), 2, [5], "等太久", CITIZEN, Channel.QR)["followup"]["id"]
    assert ev.followup_step(hall, fid, "verify", "核实不属实", APPROVER, substantiated=False)["status"] == "replying"
    hall.clock.advance(timedelta(days=6))  # Wed 12/2: one working day before 12/3
    assert ev.get_followup(hall, fid)["light"] == "yellow"
    hall.clock.advance(timedelta(days=2))
    assert ev.get_followup(hall, fid)["light"] == "red"


def test_export_jsonl_and_csv(hall):
    t = finished_ticket(hall)
    c = decided_case(hall)
    ev.rate(hall, token_of(hall, ev.invite_for_ticket(hall, t["id"], WINDOW, start_pad=False)), 5, [], None, CITIZEN,
            Channel.QR)
    ev.rate(hall, token_of(hall, ev.invite_for_case(hall, c["id"], WINDOW, start_pad=False)), 1, [1, 4], "材料说不清",
            KIOSK, Channel.KIOSK)
    lines = "".join(ev.export(hall, "jsonl")).splitlines()
    rows = [json.loads(x) for x in lines]
    assert [r["subject_number"] for r in rows] == [t["number"], c["number"]]
    good, bad = rows
    assert set(good) == set(ev.EXPORT_FIELDS)
    assert good["level"] == 5 and good["level_label"] == "非常满意" and good["bad"] is False
    assert good["evaluated_at"].startswith("2026-11-26T09:30") and good["evaluated_at"].endswith("+08:00")
    assert bad["indicators"] == [1, 4] and bad["indicator_labels"] == ["办事效率低", "材料要求不明确"]
    assert bad["followup_status"] == "verifying" and bad["followup_due_on"] == "2026-12-03"
    assert bad["department_name"] == "市民政局" and bad["window_number"] == 1 and bad["channel"] == "kiosk"
    assert ID not in "".join(lines)
    table = list(csv.DictReader(io.StringIO("".join(ev.export(hall, "csv")))))
    assert table[1]["indicators"] == "1;4" and table[1]["bad"] == "true" and table[0]["comment"] == ""
    assert list(ev.export(hall, "jsonl", since=date(2026, 11, 27))) == []
    assert len(list(ev.export(hall, "jsonl", until=date(2026, 11, 26)))) == 2
    assert code_of(lambda: list(ev.export(hall, "xml"))) == "bad_format"


def test_pad_station_follows_the_agents_report(hall):
    devices.report_health(hall, "pc-window-one", "agent", "ok", {"window_id": "w1"}, Actor("device", "pc-window-one"))
    t = finished_ticket(hall)
    ev.invite_for_ticket(hall, t["id"], WINDOW)
    assert hall.publisher.published[-1]["payload"]["station"] == "pc-window-one"
    out = ev.rate_from_pad(hall, "pc-window-one", f"ticket:{t['number']}", 4, None, Actor("device", "pc-window-one"))
    assert out["level"] == 4


def test_the_rated_clerk_and_window_come_from_the_service_record(hall):
    """Issue 9 finding 4b/4c: whoever asks, the rating is about who served the ticket at its window."""
    t = finished_ticket(hall)  # served by li.na at w1
    other_clerk = Actor("staff", "clerk2")
    # a clerk of another window cannot ask, neither by naming their window nor by leaving it out
    assert code_of(lambda: ev.invite_for_ticket(hall, t["id"], other_clerk, "w28", windows=("w28",))) == \
        "wrong_window"
    assert code_of(lambda: ev.invite_for_ticket(hall, t["id"], other_clerk, windows=("w28",))) == "wrong_window"
    # nor can anyone point the rating at another window than the one that served it
    assert code_of(lambda: ev.invite_for_ticket(hall, t["id"], Actor("staff", "boss"), "w28")) == "wrong_window"
    # a supervisor may ask; the pad still shows (and the rating records) the clerk who served
    inv = ev.invite_for_ticket(hall, t["id"], Actor("staff", "boss"))
    command = hall.publisher.published[-1]["payload"]
    assert command["station"] == "window-1" and command["args"]["staff_name"] == "李娜"
    assert inv["staff"] == "li.na" and inv["window_id"] == "w1" and "token" not in inv
    ev.rate_from_pad(hall, "window-1", f"ticket:{t['number']}", 4, None, PAD)
    assert [(r["staff"], r["window_id"]) for r in ev.export_rows(hall)] == [("li.na", "w1")]
    # one rating per subject: the QR link of the same ticket is spent
    assert code_of(lambda: ev.rate(hall, token_of(hall, inv), 5, [], None, CITIZEN, Channel.QR)) == "already_rated"


def test_a_formula_comment_is_text_in_the_csv_export(hall):
    """Issue 9 finding 8: =HYPERLINK(...) in a citizen's comment must not run in Excel/WPS."""
    t = finished_ticket(hall)
    inv = ev.invite_for_ticket(hall, t["id"], WINDOW, start_pad=False)
    comment = '=HYPERLINK("http://evil.example","点我")'
    ev.rate(hall, token_of(hall, inv), 2, [5], comment, CITIZEN, Channel.QR)
    table = list(csv.DictReader(io.StringIO("".join(ev.export(hall, "csv")))))
    assert table[0]["comment"] == "'" + comment
    assert json.loads("".join(ev.export(hall, "jsonl")))["comment"] == comment  # JSON keeps the data as given
