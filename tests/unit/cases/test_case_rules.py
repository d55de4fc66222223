"""The pure rules of each case step (domain/cases.py): who may be accepted, 容缺 deadlines, 一次性告知, decisions,
suspensions, courier details and the settings' cross-references. Dates are checked against chinesecalendar: 2026-10-01
to 2026-10-07 are the National Day holiday and 2026-10-10 (Sat) a make-up working day."""

from datetime import UTC, date, datetime

import pytest

from queue_server.domain.cases import (
    ABPost,
    CaseSettings,
    Mark,
    Shortfall,
    check_acceptable,
    check_applicant,
    check_approval,
    check_courier,
    check_decide_now,
    check_deficiency_acceptable,
    check_settings,
    check_source,
    check_suspension,
    clean_reasons,
    correction_record,
    default_legal_basis,
    deficiency_deadline,
    pickup_message,
    supplied,
)
from queue_server.domain.errors import DomainError
from queue_server.domain.hall import HallConfig, ItemCategory
from queue_server.domain.workdays import WorkCalendar
from tests.unit.cases.conftest import CASE_HALL

CAL = WorkCalendar()
MAIN = Shortfall(1, "户口簿", "未提交原件及复印件1份", tolerance=False)
MINOR = Shortfall(2, "家庭收入证明", "未提交原件", tolerance=True)
AT = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)


def code(call, *args):
    with pytest.raises(DomainError) as caught:
        call(*args)
    return caught.value.code


def test_applicant_name_and_phone():
    assert check_applicant("  王小娜 ", " 138 9391 2345 ") == ("王小娜", "13893912345")
    assert check_applicant("王小娜", "0941-8212345") == ("王小娜", "0941-8212345")
    assert check_applicant("王小娜", "  ") == ("王小娜", None)
    assert code(check_applicant, " ", None) == "bad_name"
    assert code(check_applicant, "王" * 81, None) == "bad_name"
    assert code(check_applicant, "王小娜", "12345") == "bad_phone"


def test_sources():
    check_source("window", 7)
    check_source("online", None)
    assert code(check_source, "phone", None) == "bad_source"
    assert code(check_source, "online", 7) == "bad_source"


def test_reasons_and_legal_basis():
    assert clean_reasons([" 材料不实 ", "", "  "], "不予受理") == ["材料不实"]
    assert code(clean_reasons, ["", " "], "不予受理") == "reasons_required"
    assert clean_reasons([], "不予许可", required=False) == []
    s = CaseSettings(default_legal_basis="《行政许可法》第三十二条")
    assert default_legal_basis(ItemCategory.LICENSING, s) == "《行政许可法》第三十二条"
    assert default_legal_basis(ItemCategory.BENEFIT, s) == "有关法律、法规和政策规定"


def test_acceptance_needs_a_promised_item_with_everything():
    check_acceptable("HZ-1", "promised", [])
    assert code(check_acceptable, "HZ-1", "immediate", []) == "immediate_item"
    assert code(check_acceptable, "HZ-1", "promised", [MINOR]) == "materials_missing"


def test_deficiency_acceptance_only_for_secondary_materials_with_an_undertaking():
    check_deficiency_acceptable("HZ-1", "promised", [MINOR], True)
    assert code(check_deficiency_acceptable, "HZ-1", "immediate", [MINOR], True) == "immediate_item"
    assert code(check_deficiency_acceptable, "HZ-1", "promised", [], True) == "nothing_missing"
    assert code(check_deficiency_acceptable, "HZ-1", "promised", [MINOR, MAIN], True) == "main_material_missing"
    assert code(check_deficiency_acceptable, "HZ-1", "promised", [MINOR], False) == "undertaking_required"


def test_deficiency_deadline_counts_working_days_and_never_passes_the_promised_deadline():
    on, due = date(2026, 9, 29), date(2026, 10, 12)
    # 9/30, [10/1-10/7 off], 10/8, 10/9 -> the 3rd working day
    assert deficiency_deadline(CAL, on, due, 5, 3, None) == date(2026, 10, 9)
    assert deficiency_deadline(CAL, on, due, 5, 5, None) == due  # as long as the promise: the promised deadline
    assert deficiency_deadline(CAL, on, due, 5, 3, date(2026, 10, 8)) == date(2026, 10, 8)
    assert code(deficiency_deadline, CAL, on, due, 5, 3, date(2026, 10, 13)) == "deficiency_deadline_too_late"
    assert code(deficiency_deadline, CAL, on, due, 5, 3, on) == "bad_deadline"


def test_correction_within_the_legal_days_and_told_all_at_once():
    first = correction_record(CAL, "HZ-1", [MAIN, MINOR], {}, date(2026, 9, 28), date(2026, 9, 30), 5, AT)
    assert first == {"told": [1, 2], "told_all": [1, 2], "names": ["户口簿", "家庭收入证明"], "at": AT.isoformat(),
                     "resubmitted_at": None, "rounds": 1}
    again = correction_record(CAL, "HZ-1", [MINOR], first, date(2026, 9, 30), date(2026, 9, 30), 5, AT)
    assert again["told"] == [2] and again["told_all"] == [1, 2] and again["rounds"] == 2
    # a material not in the first notice may not be asked for later
    assert code(correction_record, CAL, "HZ-1", [Shortfall(3, "近期照片", "x", True)], first, date(2026, 9, 30),
                date(2026, 9, 30), 5, AT) == "not_told_at_once"
    assert code(correction_record, CAL, "HZ-1", [], {}, date(2026, 9, 28), date(2026, 9, 30), 5, AT) \
        == "nothing_missing"
    # submitted 9/28: 9/29, 9/30, [holiday], 10/8, 10/9, 10/10 (make-up) are 5 working days; 10/12 is the 6th
    assert correction_record(CAL, "HZ-1", [MAIN], {}, date(2026, 9, 28), date(2026, 10, 10), 5, AT)["rounds"] == 1
    assert code(correction_record, CAL, "HZ-1", [MAIN], {}, date(2026, 9, 28), date(2026, 10, 12), 5, AT) \
        == "correction_too_late"


def test_decisions():
    check_decide_now("HZ-1", "immediate", True, [])
    check_decide_now("HZ-1", "immediate", False, [MAIN])  # a denial may be for what is missing
    assert code(check_decide_now, "HZ-1", "promised", True, []) == "promised_item"
    assert code(check_decide_now, "HZ-1", "immediate", True, [MAIN]) == "materials_missing"
    outstanding = {"names": ["家庭收入证明"], "supply_by": "2026-10-09", "supplied_at": None}
    check_approval("HZ-1", True, None)
    check_approval("HZ-1", False, outstanding)
    check_approval("HZ-1", True, {**outstanding, "supplied_at": AT.isoformat()})
    assert code(check_approval, "HZ-1", True, outstanding) == "deficiency_outstanding"


def test_supplied_deficiency_marks_originals_and_says_whether_late():
    marks = [Mark.E_LICENCE.value, Mark.ORIGINAL.value, Mark.MISSING.value, Mark.COPY.value]
    deficiency = {"items": [2, 3], "supply_by": "2026-10-09", "supplied_at": None}
    assert supplied("HZ-1", marks, deficiency, date(2026, 10, 9)) == (
        [Mark.E_LICENCE.value, Mark.ORIGINAL.value, Mark.ORIGINAL.value, Mark.ORIGINAL.value], False)
    assert supplied("HZ-1", marks, deficiency, date(2026, 10, 10))[1] is True
    assert code(supplied, "HZ-1", marks, None, date(2026, 10, 9)) == "nothing_outstanding"
    assert code(supplied, "HZ-1", marks, {**deficiency, "supplied_at": "x"}, date(2026, 10, 9)) == \
        "nothing_outstanding"


def test_suspension_and_courier_details():
    assert check_suspension("hearing", "  听证会 ") == "听证会"
    assert code(check_suspension, "holiday", "x") == "bad_procedure"
    assert code(check_suspension, "testing", "  ") == "reason_required"
    assert check_courier(" 中国邮政EMS ", " EA123456789CN ") == ("中国邮政EMS", "EA123456789CN")
    assert code(check_courier, "EMS", "12 34") == "bad_tracking_number"
    assert code(check_courier, " ", "EA123456789CN") == "carrier_required"


def test_pickup_message_names_the_issuance_windows():
    assert "28、29号统一出件窗口" in pickup_message([28, 29])
    assert "到统一出件窗口" in pickup_message([])


def test_settings_cross_references_name_the_setting():
    hall = HallConfig.model_validate(CASE_HALL)
    assert check_settings(CaseSettings(), hall) == []
    wrong = CaseSettings(issuance_queue="pickup", issuance_item="nothing",
                         ab_posts={"tax": ABPost(primary="a", backup="b")})
    assert [where for where, _ in check_settings(wrong, hall)] == ["issuance_queue", "issuance_item", "ab_posts > tax"]
    assert check_settings(CaseSettings(issuance_item=None), hall) == []
