"""Case use cases against a real SQLite file: intake, each outcome and its notice, back office, A/B posts,
suspension, supervision lights, issuance, the tracker and the append-only history."""

import json
import logging
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from devices.printer.document import TicketDocument
from queue_server.domain.errors import DomainError, InvalidInput, InvalidTransition, NotFound
from queue_server.services import tickets as ts
from queue_server.services import windows as ws
from queue_server.services.cases import back_office, intake, issuance, notices, outcomes, queues, views
from queue_server.store.cases_schema import case_log
from queue_server.store.schema import tickets

from .conftest import APPROVER, CITIZEN, ID, PHONE, TZ, WINDOW

COMPLETE = ["e_licence", "original", "original", "copy"]


def serve_ticket(hall, item="relief"):
    ws.open_window(hall, "w1", WINDOW)
    t = ts.issue_ticket(hall, ts.IssueRequest(item_id=item), CITIZEN).ticket
    ws.call_next(hall, "w1", WINDOW)
    ws.start(hall, "w1", WINDOW)
    return t


def take(hall, materials=COMPLETE, item="relief", **kw):
    fields = {"item_id": item, "applicant_name": "王小娜", "id_number": ID, "phone": PHONE, "materials": materials}
    req = intake.IntakeRequest(**(fields | kw))
    return intake.intake(hall, req, WINDOW)["case"]


def code_of(call):
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value.code


def test_intake_from_the_served_ticket_numbers_cases_per_day(hall):
    t = serve_ticket(hall)
    c1 = take(hall, ticket_id=t["id"])
    c2 = take(hall, source="online")
    assert (c1["number"], c2["number"]) == ("HZ-20261126-0001", "HZ-20261126-0002")
    assert c1["window_id"] == "w1" and c1["ticket_id"] == t["id"] and c1["status"] == "received"
    assert c1["applicant"] == "王*娜" and c1["applicant_id"] == "6230**********123" + ID[-1]
    assert c1["applicant_phone"] == "138****2345"
    hall.clock.advance(timedelta(days=1))
    assert take(hall)["number"] == "HZ-20261127-0001"


def test_intake_refusals(hall):
    assert code_of(lambda: take(hall, id_number="623001198001011230")) == "invalid_id_number"
    assert code_of(lambda: take(hall, phone="12345")) == "bad_phone"
    assert code_of(lambda: take(hall, materials=["original"])) == "checklist_incomplete"
    assert code_of(lambda: take(hall, materials=["original", "e_licence", "original", "original"])) == "no_e_licence"
    assert code_of(lambda: take(hall, item="nope")) == "item_not_found"
    waiting = ts.issue_ticket(hall, ts.IssueRequest(item_id="relief"), CITIZEN).ticket
    assert code_of(lambda: take(hall, ticket_id=waiting["id"])) == "ticket_not_served"
    assert code_of(lambda: take(hall, source="online", ticket_id=waiting["id"])) == "bad_source"


def test_accept_issues_the_acceptance_notice_and_routes_to_the_a_post(hall):
    c = take(hall)
    out = outcomes.accept(hall, c["id"], WINDOW)
    case, notice = out["case"], out["notice"]
    assert case["status"] == "accepted" and case["due_on"] == "2026-12-03" and case["assignee"] == "mz.zhang"
    assert notice["number"] == "合政服受〔2026〕0001号" and notice["kind"] == "acceptance"
    fields = dict(notice["fields"])
    assert fields["申请人"] == "王小娜" and fields["申请事项"] == "最低生活保障申请"
    assert fields["受理时间"] == "2026年11月26日 09:30" and fields["承诺办结时限"] == "5个工作日（2026年12月3日前）"
    assert fields["受理机构"] == "合作市政务服务中心" and fields["监督投诉电话"] == "0941-12345"
    assert code_of(lambda: outcomes.accept(hall, c["id"], WINDOW)) == "invalid_case_transition"


def test_accept_refuses_missing_materials_and_immediate_items(hall):
    c = take(hall, materials=["e_licence", "copy", "original", "copy"])
    with pytest.raises(InvalidTransition) as exc:
        outcomes.accept(hall, c["id"], WINDOW)
    assert exc.value.code == "materials_missing" and exc.value.details["missing"] == ["户口簿"]
    q = take(hall, item="quick", materials=["e_licence"])
    assert code_of(lambda: outcomes.accept(hall, q["id"], WINDOW)) == "immediate_item"
    assert code_of(lambda: outcomes.accept_with_deficiency(hall, q["id"], WINDOW, True)) == "immediate_item"


def test_correction_tells_everything_at_once_then_resubmission(hall):
    c = take(hall, materials=["e_licence", "copy", "missing", "copy"])
    out = outcomes.request_correction(hall, c["id"], WINDOW)
    assert out["case"]["status"] == "correction"
    assert out["notice"]["lists"][0]["items"] == ["户口簿（需提交原件（仅收到复印件））", "家庭收入证明（未提交原件）"]
    assert views.case_status_for_tracker(hall, out["case"]["tracker_token"])["missing"] == ["户口簿", "家庭收入证明"]
    assert code_of(lambda: outcomes.accept(hall, c["id"], WINDOW)) == "invalid_case_transition"
    # only the household register comes back: the income proof is still missing, it was told before -> allowed
    outcomes.resubmit(hall, c["id"], ["e_licence", "original", "missing", "copy"], WINDOW)
    again = outcomes.request_correction(hall, c["id"], WINDOW)
    assert again["notice"]["lists"][0]["items"] == ["家庭收入证明（未提交原件）"]
    # now the photo (never asked for before) goes missing too: that breaks 一次性告知
    outcomes.resubmit(hall, c["id"], ["e_licence", "original", "missing", "missing"], WINDOW)
    with pytest.raises(InvalidTransition) as exc:
        outcomes.request_correction(hall, c["id"], WINDOW)
    assert exc.value.code == "not_told_at_once" and exc.value.details["not_told"] == ["近期照片"]
    assert code_of(lambda: outcomes.resubmit(hall, c["id"], COMPLETE, WINDOW)) == "invalid_case_transition"
    assert outcomes.accept_with_deficiency(hall, c["id"], WINDOW, True)["case"]["status"] == "accepted"


def test_correction_must_come_within_five_working_days(hall):
    c = take(hall, materials=["e_licence", "copy", "original", "copy"])
    assert code_of(lambda: outcomes.request_correction(hall, take(hall)["id"], WINDOW)) == "nothing_missing"
    hall.clock.advance(timedelta(days=8))  # Thu 11/26 -> Fri 12/4: 6 working days later
    assert code_of(lambda: outcomes.request_correction(hall, c["id"], WINDOW)) == "correction_too_late"


def test_deficiency_acceptance_rules_and_notice(hall):
    main_missing = take(hall, materials=["e_licence", "missing", "missing", "copy"])
    assert code_of(lambda: outcomes.accept_with_deficiency(hall, main_missing["id"], WINDOW, True)) == \
        "main_material_missing"
    assert code_of(lambda: outcomes.accept_with_deficiency(hall, take(hall)["id"], WINDOW, True)) == "nothing_missing"
    c = take(hall, materials=["e_licence", "original", "missing", "missing"])
    assert code_of(lambda: outcomes.accept_with_deficiency(hall, c["id"], WINDOW, False)) == "undertaking_required"
    with pytest.raises(InvalidInput) as exc:
        outcomes.accept_with_deficiency(hall, c["id"], WINDOW, True, date(2026, 12, 4))
    assert exc.value.code == "deficiency_deadline_too_late" and exc.value.details == {"due_on": "2026-12-03"}
    out = outcomes.accept_with_deficiency(hall, c["id"], WINDOW, True, date(2026, 12, 1))
    n = out["notice"]
    assert n["title"] == "容缺受理通知书" and n["signature"] and n["extra"]["supply_by"] == "2026-12-01"
    assert n["lists"][0]["items"] == ["家庭收入证明（未提交原件）", "近期照片（未提交复印件2份）"]
    assert "2026年12月1日前补齐" in " ".join(n["closing"])
    assert dict(n["fields"])["容缺材料补齐期限"] == "2026年12月1日"
    # the result waits until the missing materials are in
    assert code_of(lambda: back_office.decide(hall, c["id"], True, [], APPROVER)) == "deficiency_outstanding"
    supplied = back_office.supply_deficiency(hall, c["id"], APPROVER)["case"]
    assert supplied["shortfalls"] == [] and supplied["deficiency"]["late"] is False
    assert code_of(lambda: back_office.supply_deficiency(hall, c["id"], APPROVER)) == "nothing_outstanding"
    assert back_office.decide(hall, c["id"], True, ["符合条件"], APPROVER)["case"]["status"] == "ready"


def test_default_deficiency_deadline_is_capped_by_the_promised_deadline(hall):
    c = take(hall, materials=["e_licence", "original", "missing", "copy"])
    assert hall.case_settings is not None
    hall.case_settings = hall.case_settings.model_copy(update={"deficiency_days": 30})
    out = outcomes.accept_with_deficiency(hall, c["id"], WINDOW, True)
    assert out["case"]["deficiency"]["supply_by"] == out["case"]["due_on"] == "2026-12-03"


def test_reject_with_reasons_basis_and_rights(hall):
    c = take(hall)
    assert code_of(lambda: outcomes.reject(hall, c["id"], [" "], WINDOW)) == "reasons_required"
    out = outcomes.reject(hall, c["id"], ["申请事项不属于本中心受理范围"], WINDOW, "《行政许可法》第三十二条第一款第二项")
    n = out["notice"]
    assert out["case"]["status"] == "rejected" and n["title"] == "不予受理通知书"
    assert n["lists"] == [{"title": "不予受理的理由", "items": ["申请事项不属于本中心受理范围"]}]
    assert "《行政许可法》第三十二条第一款第二项" in n["paragraphs"][0]
    assert "行政复议" in n["paragraphs"][1] and "行政诉讼" in n["paragraphs"][1]
    for action in (lambda: outcomes.accept(hall, c["id"], WINDOW), lambda: outcomes.withdraw(hall, c["id"], "x", WINDOW),
                   lambda: issuance.hand_over(hall, c["id"], "王小娜", WINDOW)):
        assert code_of(action) == "invalid_case_transition"


def test_immediate_item_decided_on_the_spot_and_handed_over(hall):
    q = take(hall, item="quick", materials=["e_licence"])
    out = outcomes.decide_now(hall, q["id"], True, [], WINDOW)
    assert out["case"]["status"] == "ready" and out["notice"]["kind"] == "decision"
    assert issuance.hand_over(hall, q["id"], "王小娜", WINDOW, window_id="w1")["case"]["status"] == "issued"
    p = take(hall)
    assert code_of(lambda: outcomes.decide_now(hall, p["id"], True, [], WINDOW)) == "promised_item"
    denied = take(hall, item="quick", materials=["missing"])
    assert code_of(lambda: outcomes.decide_now(hall, denied["id"], True, [], WINDOW)) == "materials_missing"
    assert code_of(lambda: outcomes.decide_now(hall, denied["id"], False, [], WINDOW)) == "reasons_required"
    out = outcomes.decide_now(hall, denied["id"], False, ["未参保"], WINDOW)
    assert out["case"]["decision"] == "denied" and "行政复议" in out["notice"]["paragraphs"][1]


def test_back_office_decisions_and_department_restriction(hall):
    c = take(hall)
    assert code_of(lambda: back_office.decide(hall, c["id"], True, [], APPROVER)) == "invalid_case_transition"
    outcomes.accept(hall, c["id"], WINDOW)
    assert code_of(lambda: back_office.decide(hall, c["id"], True, [], APPROVER, departments=["hr"])) == "wrong_department"
    assert code_of(lambda: views.get_case(hall, c["id"], departments=["hr"])) == "wrong_department"
    assert code_of(lambda: back_office.decide(hall, c["id"], False, [], APPROVER)) == "reasons_required"
    out = back_office.decide(hall, c["id"], False, ["家庭收入超过当地标准"], APPROVER, departments=["civil"])
    assert out["case"]["status"] == "ready" and out["case"]["decision"] == "denied"
    assert out["notice"]["title"] == "不予许可决定书"
    assert code_of(lambda: back_office.decide(hall, c["id"], True, [], APPROVER)) == "invalid_case_transition"
    assert [x["number"] for x in queues.list_cases(hall, departments=["civil"])] == [c["number"]]
    assert queues.list_cases(hall, departments=["hr"]) == []


def test_ab_posts_route_new_work_to_the_backup_while_the_primary_is_absent(hall):
    first = take(hall)
    assert outcomes.accept(hall, first["id"], WINDOW)["case"]["assignee"] == "mz.zhang"
    queues.set_absence(hall, "mz.zhang", True, "出差", APPROVER)
    second = take(hall)
    assert outcomes.accept(hall, second["id"], WINDOW)["case"]["assignee"] == "mz.li"
    assert views.get_case(hall, first["id"])["assignee"] == "mz.zhang"  # only new work moves
    queues.set_absence(hall, "mz.li", True, None, APPROVER)
    third = take(hall)
    assert outcomes.accept(hall, third["id"], WINDOW)["case"]["assignee"] is None  # both away: the shared list
    queues.set_absence(hall, "mz.zhang", False, None, APPROVER)
    fourth = take(hall)
    assert outcomes.accept(hall, fourth["id"], WINDOW)["case"]["assignee"] == "mz.zhang"
    assert queues.reassign(hall, third["id"], "mz.zhang", WINDOW)["case"]["assignee"] == "mz.zhang"
    assert code_of(lambda: queues.reassign(hall, third["id"], "hr.wang", WINDOW)) == "not_an_approver"
    assert code_of(lambda: queues.set_absence(hall, "nobody", True, None, APPROVER)) == "user_not_found"


def test_suspension_stops_the_clock_and_resume_moves_the_deadline(hall):
    c = take(hall)
    outcomes.accept(hall, c["id"], WINDOW)  # Thu 11/26, due Thu 12/3
    assert code_of(lambda: back_office.suspend(hall, c["id"], "party", "x", APPROVER)) == "bad_procedure"
    assert code_of(lambda: back_office.suspend(hall, c["id"], "hearing", " ", APPROVER)) == "reason_required"
    hall.clock.advance(timedelta(days=1))  # Fri 11/27
    out = back_office.suspend(hall, c["id"], "expert_review", "组织专家评审", APPROVER)["case"]
    assert out["status"] == "suspended" and out["due_on"] is None and out["light"] == "paused"
    assert code_of(lambda: back_office.decide(hall, c["id"], True, [], APPROVER)) == "invalid_case_transition"
    assert code_of(lambda: back_office.suspend(hall, c["id"], "hearing", "x", APPROVER)) == "invalid_case_transition"
    hall.clock.advance(timedelta(days=4))  # Tue 12/1: 11/30 and 12/1 are excluded
    out = back_office.resume(hall, c["id"], APPROVER)["case"]
    assert out["status"] == "accepted" and out["due_on"] == "2026-12-07"
    page = views.get_case(hall, c["id"])
    assert page["suspensions"][0]["started_on"] == "2026-11-27" and page["suspensions"][0]["ended_on"] == "2026-12-01"
    assert page["days_used"] == 1 and page["workdays_left"] == 4
    assert code_of(lambda: back_office.resume(hall, c["id"], APPROVER)) == "invalid_case_transition"


def test_supervision_yellow_and_red(hall):
    a, b = take(hall), take(hall)
    outcomes.accept(hall, a["id"], WINDOW)  # due 12/3
    hall.clock.advance(timedelta(days=1))
    outcomes.accept(hall, b["id"], WINDOW)  # due 12/4
    hall.clock.advance(timedelta(days=4))  # Tue 12/1: a has 2 left, b 3
    lists = queues.supervision(hall)
    assert lists["yellow"] == lists["red"] == []
    hall.clock.advance(timedelta(days=1))  # Wed 12/2: a is yellow
    lists = queues.supervision(hall)
    assert [c["number"] for c in lists["yellow"]] == [a["number"]] and lists["yellow"][0]["workdays_left"] == 1
    hall.clock.advance(timedelta(days=2))  # Fri 12/4: a is red, b is yellow (due today)
    lists = queues.supervision(hall)
    assert [c["number"] for c in lists["red"]] == [a["number"]]
    assert [c["number"] for c in lists["yellow"]] == [b["number"]]
    assert lists["red"][0]["workdays_left"] == -1
    back_office.decide(hall, a["id"], True, [], APPROVER)
    assert queues.supervision(hall)["red"] == []


def test_issuance_at_the_window_and_by_courier(hall):
    c = take(hall)
    outcomes.accept(hall, c["id"], WINDOW)
    assert code_of(lambda: issuance.issuance_ticket(hall, c["id"], WINDOW)) == "invalid_case_transition"
    back_office.decide(hall, c["id"], True, ["同意"], APPROVER)
    tracker = views.case_status_for_tracker(hall, views.get_case(hall, c["id"])["tracker_token"])
    assert tracker["ready"] and "28号统一出件窗口" in tracker["message"]
    first = issuance.issuance_ticket(hall, c["id"], WINDOW)
    assert first["created"] and first["ticket"]["queue_id"] == "issuance" and first["ticket"]["number"] == "M001"
    again = issuance.issuance_ticket(hall, c["id"], WINDOW)
    assert not again["created"] and again["ticket"]["id"] == first["ticket"]["id"]
    with hall.engine.connect() as conn:
        t = conn.execute(select(tickets).where(tickets.c.id == first["ticket"]["id"])).one()
    assert t.item_id == "result-pickup" and t.source == f"case:{c['number']}"
    out = issuance.hand_over(hall, c["id"], "王大明", WINDOW, proxy=True, window_id="w28")["case"]
    assert out["status"] == "issued" and out["delivery"]["receiver"] == "王大明" and out["delivery"]["proxy"]
    assert code_of(lambda: issuance.send_by_courier(hall, c["id"], "EMS", "EA123456789CN", WINDOW)) == \
        "invalid_case_transition"
    d = take(hall)
    outcomes.accept(hall, d["id"], WINDOW)
    back_office.decide(hall, d["id"], True, [], APPROVER)
    assert code_of(lambda: issuance.send_by_courier(hall, d["id"], "EMS", "12", WINDOW)) == "bad_tracking_number"
    out = issuance.send_by_courier(hall, d["id"], "中国邮政EMS", "EA123456789CN", WINDOW)["case"]
    assert out["delivery"]["tracking_number"] == "EA123456789CN"
    seen = views.case_status_for_tracker(hall, out["tracker_token"])
    assert seen["delivery"] == {"method": "courier", "carrier": "中国邮政EMS", "tracking_number": "EA123456789CN"}


def test_kiosk_takes_a_pickup_ticket_by_the_notice_qr(hall):
    c = take(hall)
    outcomes.accept(hall, c["id"], WINDOW)
    back_office.decide(hall, c["id"], True, [], APPROVER)
    out = issuance.issuance_ticket_for_token(hall, views.get_case(hall, c["id"])["tracker_token"], CITIZEN)
    assert out["ticket"]["queue_id"] == "issuance" and out["case"]["number"] == c["number"]
    assert "applicant_id" not in out["case"]


def test_withdraw(hall):
    c = take(hall)
    outcomes.accept(hall, c["id"], WINDOW)
    assert outcomes.withdraw(hall, c["id"], "申请人撤回", WINDOW)["case"]["status"] == "withdrawn"
    assert code_of(lambda: outcomes.withdraw(hall, c["id"], "x", WINDOW)) == "invalid_case_transition"


def test_no_personal_data_on_public_surfaces_events_or_logs(hall, caplog):
    caplog.set_level(logging.DEBUG)
    c = take(hall, materials=["e_licence", "original", "missing", "copy"])
    outcomes.accept_with_deficiency(hall, c["id"], WINDOW, True)
    back_office.supply_deficiency(hall, c["id"], APPROVER)
    back_office.decide(hall, c["id"], True, [], APPROVER)
    token = views.get_case(hall, c["id"])["tracker_token"]
    public = json.dumps([views.case_status_for_tracker(hall, token), hall.publisher.published, queues.supervision(hall)],
                        ensure_ascii=False)
    for secret in (ID, PHONE, "王小娜"):
        assert secret not in public
        assert secret not in caplog.text
    assert "王*娜" in public
    staff_list = json.dumps(queues.list_cases(hall), ensure_ascii=False)  # the approver's list: name, masked numbers
    assert ID not in staff_list and PHONE not in staff_list
    with hall.engine.connect() as conn:
        log_text = json.dumps([dict(r._mapping) for r in conn.execute(select(case_log))], default=str,
                              ensure_ascii=False)
    assert ID not in log_text and PHONE not in log_text
    assert views.get_case(hall, c["id"])["applicant_id"] == ID  # the case file keeps it whole


def test_kiosk_id_tap_finds_the_persons_cases(hall):
    c = take(hall)
    found = views.cases_for_person(hall, ID)
    assert [x["number"] for x in found] == [c["number"]] and "applicant_id" not in found[0]
    assert views.cases_for_person(hall, "11010519491231002X") == []
    assert code_of(lambda: views.cases_for_person(hall, "123")) == "invalid_id_number"


def test_history_is_complete_and_append_only(hall):
    c = take(hall)
    outcomes.accept(hall, c["id"], WINDOW)
    back_office.suspend(hall, c["id"], "testing", "检验检测", APPROVER)
    back_office.resume(hall, c["id"], APPROVER)
    back_office.decide(hall, c["id"], True, [], APPROVER)
    issuance.hand_over(hall, c["id"], "王小娜", WINDOW)
    h = views.get_case(hall, c["id"])["history"]
    assert [(x["action"], x["to"], x["actor"]) for x in h] == [
        ("intake", "received", "staff:li.na"), ("accept", "accepted", "staff:li.na"),
        ("notice", "accepted", "staff:li.na"), ("suspend", "suspended", "staff:mz.zhang"),
        ("resume", "accepted", "staff:mz.zhang"), ("approve", "ready", "staff:mz.zhang"),
        ("notice", "ready", "staff:mz.zhang"), ("hand_over", "issued", "staff:li.na")]
    assert all(datetime.fromisoformat(x["at"]).tzinfo for x in h)
    with pytest.raises(Exception, match="append-only"), hall.engine.begin() as conn:
        conn.execute(text("UPDATE case_log SET actor = 'staff:someone'"))
    with pytest.raises(Exception, match="append-only"), hall.engine.begin() as conn:
        conn.execute(text("DELETE FROM case_log"))


def test_notices_read_back_and_print_as_80mm_slips(hall):
    c = take(hall)
    notice = outcomes.accept(hall, c["id"], WINDOW)["notice"]
    assert notices.get_notice(hall, notice["id"])["number"] == notice["number"]
    assert code_of(lambda: notices.get_notice(hall, 999)) == "notice_not_found"
    doc = notices.notice_slip(hall, notice["id"])
    TicketDocument.from_dict(doc)
    sent = notices.print_notice(hall, notice["id"], "kiosk-1", WINDOW)
    event = hall.publisher.published[-1]
    assert sent["command"] == "print" and event["type"] == "device_command"
    assert event["payload"]["args"]["document"] == doc and event["rooms"][0] == "station:kiosk-1"


def test_case_lookup_by_number(hall):
    c = take(hall)
    assert views.case_id_for_number(hall, c["number"].lower()) == c["id"]
    with pytest.raises(NotFound):
        views.case_id_for_number(hall, "HZ-20261126-9999")


def test_notice_numbers_count_per_kind_and_year_and_2027_needs_calendar_data(hall_at):
    from queue_server.domain.workdays import WorkCalendar

    h = hall_at(datetime(2026, 12, 31, 10, 0, tzinfo=TZ))
    b = take(h)
    assert outcomes.reject(h, b["id"], ["x"], WINDOW)["notice"]["number"] == "合政服不受〔2026〕0001号"
    a = take(h)
    with pytest.raises(DomainError) as exc:  # the promised deadline runs into 2027, which nobody knows yet
        outcomes.accept(h, a["id"], WINDOW)
    assert exc.value.code == "calendar_missing" and exc.value.details == {"year": 2027}
    h.calendar = WorkCalendar({date(2027, 1, 1): False}, {2027})  # config/calendar.yaml gets the 2027 schedule
    out = outcomes.accept(h, a["id"], WINDOW)
    assert out["notice"]["number"] == "合政服受〔2026〕0001号" and out["case"]["due_on"] == "2027-01-08"
    h.clock.advance(timedelta(days=4))  # 2027-01-04
    c = take(h)
    assert c["number"] == "HZ-20270104-0001"
    assert outcomes.accept(h, c["id"], WINDOW)["notice"]["number"] == "合政服受〔2027〕0001号"
