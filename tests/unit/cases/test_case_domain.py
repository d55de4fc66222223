"""Pure rules: every case transition (allowed and forbidden), the checklist, A/B routing, notice content,
好差评 levels and the follow-up order."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from devices.printer.document import TicketDocument
from queue_server.domain import notices as nt
from queue_server.domain.cases import (
    TRANSITIONS,
    ABPost,
    Approver,
    CaseAction,
    CaseSettings,
    CaseStatus,
    Mark,
    case_number,
    check_marks,
    next_status,
    route,
    shortfalls,
)
from queue_server.domain.errors import InvalidInput, InvalidTransition
from queue_server.domain.evaluations import (
    Channel,
    FollowUpStatus,
    FollowUpStep,
    StaffCannotRate,
    check_rater,
    check_rating,
    next_followup,
)
from queue_server.domain.hall import Material

S = CaseStatus
EXPECTED = {
    CaseAction.ACCEPT: {S.RECEIVED: S.ACCEPTED},
    CaseAction.ACCEPT_WITH_DEFICIENCY: {S.RECEIVED: S.ACCEPTED},
    CaseAction.REQUEST_CORRECTION: {S.RECEIVED: S.CORRECTION},
    CaseAction.RESUBMIT: {S.CORRECTION: S.RECEIVED},
    CaseAction.REJECT: {S.RECEIVED: S.REJECTED},
    CaseAction.DECIDE_NOW: {S.RECEIVED: S.READY},
    CaseAction.SUPPLY: {S.ACCEPTED: S.ACCEPTED, S.SUSPENDED: S.SUSPENDED},
    CaseAction.APPROVE: {S.ACCEPTED: S.READY},
    CaseAction.DENY: {S.ACCEPTED: S.READY},
    CaseAction.SUSPEND: {S.ACCEPTED: S.SUSPENDED},
    CaseAction.RESUME: {S.SUSPENDED: S.ACCEPTED},
    CaseAction.REASSIGN: {S.ACCEPTED: S.ACCEPTED, S.SUSPENDED: S.SUSPENDED},
    CaseAction.ISSUANCE_TICKET: {S.READY: S.READY},
    CaseAction.HAND_OVER: {S.READY: S.ISSUED},
    CaseAction.COURIER: {S.READY: S.ISSUED},
    CaseAction.WITHDRAW: {S.RECEIVED: S.WITHDRAWN, S.CORRECTION: S.WITHDRAWN, S.ACCEPTED: S.WITHDRAWN,
                          S.SUSPENDED: S.WITHDRAWN},
}


def test_the_table_covers_every_action():
    assert set(EXPECTED) == set(TRANSITIONS) == set(CaseAction)


@pytest.mark.parametrize("action", list(CaseAction))
@pytest.mark.parametrize("status", list(CaseStatus))
def test_every_transition_allowed_or_refused(action, status):
    allowed = EXPECTED[action]
    if status in allowed:
        assert next_status(action, status, "HZ-20261126-0001") is allowed[status]
    else:
        with pytest.raises(InvalidTransition) as exc:
            next_status(action, status, "HZ-20261126-0001")
        assert exc.value.code == "invalid_case_transition"
        assert "HZ-20261126-0001" in exc.value.message and status.value in exc.value.message
        assert exc.value.details["allowed"] == [a.value for a, m in EXPECTED.items() if status in m]


def test_final_states_allow_nothing():
    for status in (S.ISSUED, S.REJECTED, S.WITHDRAWN):
        assert not [a for a in CaseAction if status in TRANSITIONS[a][0]]


MATERIALS = [Material(name="身份证", e_licence=True), Material(name="户口簿", copies=1),
             Material(name="收入证明", tolerance=True), Material(name="照片", original=False, copies=2, tolerance=True)]


def test_checklist_marks_and_shortfalls():
    marks = check_marks(MATERIALS, ["e_licence", "copy", "missing", "original"])
    found = shortfalls(MATERIALS, marks)
    assert [(s.index, s.name, s.why, s.tolerance) for s in found] == [
        (1, "户口簿", "需提交原件（仅收到复印件）", False), (2, "收入证明", "未提交原件", True)]
    assert shortfalls(MATERIALS, check_marks(MATERIALS, ["e_licence", "original", "original", "copy"])) == []
    assert shortfalls(MATERIALS, [Mark.MISSING] * 4)[3].why == "未提交复印件2份"
    with pytest.raises(InvalidInput, match="mark each one") as exc:
        check_marks(MATERIALS, ["original"])
    assert exc.value.code == "checklist_incomplete"
    with pytest.raises(InvalidInput) as exc:
        check_marks(MATERIALS, ["original", "e_licence", "original", "original"])
    assert exc.value.code == "no_e_licence"
    with pytest.raises(InvalidInput) as exc:
        check_marks(MATERIALS, ["original", "lost", "original", "original"])
    assert exc.value.code == "bad_mark"


def test_case_numbers_are_readable():
    assert case_number(CaseSettings(), date(2026, 11, 26), 1) == "HZ-20261126-0001"
    assert case_number(CaseSettings(number_prefix="HZK", number_digits=5), date(2026, 1, 4), 12) == "HZK-20260104-00012"


def test_ab_routing():
    posts = {"civil": ABPost(primary="a", backup="b")}
    a, b = Approver("a", ("civil",), False), Approver("b", ("civil",), False)
    assert route("civil", posts, [a, b]) == "a"
    assert route("civil", posts, [Approver("a", ("civil",), True), b]) == "b"  # A absent: new work to B
    assert route("civil", posts, [Approver("a", ("civil",), True), Approver("b", ("civil",), True)]) is None
    assert route("civil", posts, [Approver("a", ("hr",), False), b]) == "b"  # A no longer in the department
    assert route("hr", posts, [a, b]) is None  # no A/B posts: the department's shared list
    assert route("civil", posts, []) is None


TZ = ZoneInfo("Asia/Shanghai")
PARTY = nt.NoticeParty(case_number="HZ-20261126-0001", applicant="王小娜", applicant_id_masked="6230**********123X",
                       item="最低生活保障申请", department="市民政局", office="合作市政务服务中心",
                       complaint_phone="12345", tracker_url="https://hall.example/case/tok",
                       received_at=datetime(2026, 11, 26, 9, 30, tzinfo=TZ))
AT = datetime(2026, 11, 26, 9, 40, tzinfo=TZ)


def _text(n: nt.Notice) -> str:
    d = n.to_dict()
    return " ".join([d["title"], d["number"], *d["paragraphs"], *(f"{k}:{v}" for k, v in d["fields"]),
                     *(x for lst in d["lists"] for x in [lst["title"], *lst["items"]]), *d["closing"]])


def test_acceptance_notice_names_everything_the_law_asks():
    n = nt.acceptance(PARTY, "合政服受〔2026〕0001号", AT, 5, date(2026, 12, 3))
    text = _text(n)
    for needed in ("受理通知书", "合政服受〔2026〕0001号", "王小娜", "最低生活保障申请", "2026年11月26日 09:40",
                   "5个工作日（2026年12月3日前）", "合作市政务服务中心", "12345", "HZ-20261126-0001", "第三十二条"):
        assert needed in text, needed
    assert "6230**********123X" in text and n.qr == PARTY.tracker_url


def test_rejection_notice_has_reasons_basis_and_rights():
    n = nt.rejection(PARTY, "合政服不受〔2026〕0001号", AT, ["不属于本机关职权范围", "申请人不具备主体资格"],
                     "《中华人民共和国行政许可法》第三十二条第一款第二项", "合作市人民政府", 60, "合作市人民法院", 6)
    text = _text(n)
    for needed in ("不予受理通知书", "不属于本机关职权范围", "申请人不具备主体资格", "第三十二条第一款第二项",
                   "60日内向合作市人民政府申请行政复议", "6个月内向合作市人民法院提起行政诉讼"):
        assert needed in text, needed


def test_correction_notice_lists_everything_at_once():
    n = nt.correction(PARTY, "合政服补〔2026〕0001号", AT, ["户口簿（需提交原件）", "收入证明（未提交原件）"])
    text = _text(n)
    assert "一次性告知" in text and "户口簿（需提交原件）" in text and "收入证明（未提交原件）" in text
    assert n.lists[0][1] == ("户口簿（需提交原件）", "收入证明（未提交原件）")


def test_deficiency_notice_has_items_deadline_and_undertaking():
    n = nt.deficiency(PARTY, "合政服容〔2026〕0001号", AT, 5, date(2026, 12, 3), ["收入证明（未提交原件）"],
                      date(2026, 12, 1))
    text = _text(n)
    for needed in ("容缺受理通知书", "收入证明（未提交原件）", "2026年12月1日前补齐", "申请人承诺", "2026年12月3日前办结"):
        assert needed in text, needed
    assert n.signature
    with pytest.raises(ValueError, match="promised deadline"):
        nt.deficiency(PARTY, "x", AT, 5, date(2026, 12, 3), ["收入证明"], date(2026, 12, 4))


def test_decision_notice_approved_and_denied():
    ok = _text(nt.decision(PARTY, "合政服结〔2026〕0001号", AT, True, [], "法", "复议机关", 60, "法院", 6))
    assert "准予许可" in ok and "行政复议" not in ok
    no = _text(nt.decision(PARTY, "合政服结〔2026〕0002号", AT, False, ["收入超过标准"], "《最低生活保障审核确认办法》",
                           "合作市人民政府", 60, "合作市人民法院", 6))
    assert "不予许可" in no and "收入超过标准" in no and "行政复议" in no and "《最低生活保障审核确认办法》" in no


def test_a_benefit_is_granted_not_licensed():
    """最低生活保障 is 行政给付: its notices use the words of a benefit, never the licensing law."""
    from dataclasses import replace

    benefit = replace(PARTY, category="benefit")
    accepted = _text(nt.acceptance(benefit, "N1", AT, 5, date(2026, 12, 3)))
    assert "决定予以受理" in accepted and "行政许可法" not in accepted
    ok = nt.decision(benefit, "N2", AT, True, [], "有关规定", "复议机关", 60, "法院", 6)
    assert ok.title == "准予给付决定（办结通知）" and "准予给付" in _text(ok) and "许可" not in _text(ok)
    no = _text(nt.decision(benefit, "N3", AT, False, ["收入超过标准"], "《最低生活保障审核确认办法》",
                           "合作市人民政府", 60, "合作市人民法院", 6))
    assert "不予给付决定书" in no and "不予给付的理由" in no and "许可" not in no
    marriage = _text(nt.decision(replace(PARTY, category="confirmation"), "N4", AT, True, [], "b", "x", 60, "y", 6))
    assert "予以确认" in marriage and "许可" not in marriage


@pytest.mark.parametrize("builder", [
    lambda: nt.acceptance(PARTY, "N1", AT, 5, date(2026, 12, 3)),
    lambda: nt.rejection(PARTY, "N2", AT, ["r"], "b", "x", 60, "y", 6),
    lambda: nt.correction(PARTY, "N3", AT, ["m"]),
    lambda: nt.deficiency(PARTY, "N4", AT, 5, date(2026, 12, 3), ["m"], date(2026, 12, 1)),
    lambda: nt.decision(PARTY, "N5", AT, False, ["r"], "b", "x", 60, "y", 6),
])
def test_every_notice_is_a_valid_80mm_printer_document_and_round_trips(builder):
    n = builder()
    assert nt.Notice.from_dict(n.to_dict()) == n
    doc = TicketDocument.from_dict(nt.slip_document(n, "合作市政务服务中心"))
    texts = [getattr(b, "text", "") for b in doc.blocks]
    assert n.title in texts and n.number in texts
    assert any(getattr(b, "payload", None) == PARTY.tracker_url for b in doc.blocks)
    assert doc.blocks[-1].type == "cut"


def test_notice_numbers():
    assert nt.notice_number("合政服", nt.NoticeKind.REJECTION, 2026, 7) == "合政服不受〔2026〕0007号"


def test_rating_levels_and_indicators():
    assert check_rating(5, [], None)[0].label == "非常满意"
    for bad in (1, 2):
        with pytest.raises(InvalidInput) as exc:
            check_rating(bad, [], "x")
        assert exc.value.code == "reason_required"
        assert check_rating(bad, [2, 1, 2], None)[1] == [1, 2]
    with pytest.raises(InvalidInput) as exc:
        check_rating(2, [5], " ")
    assert exc.value.code == "reason_required"  # 其他 needs words
    with pytest.raises(InvalidInput) as exc:
        check_rating(4, [1], None)
    assert exc.value.code == "reason_not_allowed"
    with pytest.raises(InvalidInput):
        check_rating(6, [], None)
    with pytest.raises(InvalidInput):
        check_rating(2, [9], None)


def test_only_citizen_channels_rate():
    check_rater("device", Channel.PAD, False)
    check_rater("device", Channel.KIOSK, False)
    check_rater("citizen", Channel.QR, False)
    for kind, channel, session in (("staff", Channel.QR, False), ("citizen", Channel.QR, True),
                                   ("staff", Channel.PAD, False), ("citizen", Channel.PAD, False),
                                   ("system", Channel.KIOSK, False)):
        with pytest.raises(StaffCannotRate):
            check_rater(kind, channel, session)


def test_followup_order():
    F, st = FollowUpStatus, FollowUpStep
    assert next_followup(st.VERIFY, F.VERIFYING, True) is F.RECTIFYING
    assert next_followup(st.VERIFY, F.VERIFYING, False) is F.REPLYING  # unfounded: no rectification
    assert next_followup(st.RECTIFY, F.RECTIFYING) is F.REPLYING
    assert next_followup(st.REPLY, F.REPLYING) is F.RETURN_VISIT
    assert next_followup(st.RETURN_VISIT, F.RETURN_VISIT) is F.CLOSED
    allowed = {(st.VERIFY, F.VERIFYING), (st.RECTIFY, F.RECTIFYING), (st.REPLY, F.REPLYING),
               (st.RETURN_VISIT, F.RETURN_VISIT)}
    for step in FollowUpStep:
        for status in FollowUpStatus:
            if (step, status) not in allowed:
                with pytest.raises(InvalidTransition):
                    next_followup(step, status, True)
