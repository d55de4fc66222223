"""Written notices of a case (受理 / 不予受理 / 补齐补正 / 容缺受理 / 办结决定): their content as plain data.

A notice is built once, numbered and stored as issued; the A4 page (HTML with print CSS) and the 80 mm slip
(a printer document: ``{"blocks": [...]}``, see devices/printer/document.py) are two renderings of the same
content, so a reprint says exactly what the first print said.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class NoticeKind(StrEnum):
    ACCEPTANCE = "acceptance"  # 受理通知书
    REJECTION = "rejection"  # 不予受理通知书
    CORRECTION = "correction"  # 补齐补正通知书
    DEFICIENCY = "deficiency"  # 容缺受理通知书
    DECISION = "decision"  # 准予 / 不予行政许可决定 (办结)


TITLES = {
    NoticeKind.ACCEPTANCE: "受理通知书",
    NoticeKind.REJECTION: "不予受理通知书",
    NoticeKind.CORRECTION: "补齐补正材料通知书",
    NoticeKind.DEFICIENCY: "容缺受理通知书",
    NoticeKind.DECISION: "办结通知书",
}

# The character of the notice number: 合政服受〔2026〕0001号
NUMBER_CODES = {
    NoticeKind.ACCEPTANCE: "受",
    NoticeKind.REJECTION: "不受",
    NoticeKind.CORRECTION: "补",
    NoticeKind.DEFICIENCY: "容",
    NoticeKind.DECISION: "结",
}


def notice_number(office_short: str, kind: NoticeKind, year: int, seq: int) -> str:
    return f"{office_short}{NUMBER_CODES[kind]}〔{year}〕{seq:04d}号"


def zh_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def zh_datetime(moment: datetime) -> str:
    return f"{zh_date(moment.date())} {moment:%H:%M}"


@dataclass(frozen=True)
class NoticeParty:
    """What every notice names: who, what, which office, how to complain, where to follow the case."""

    case_number: str
    applicant: str  # the applicant's full name: the notice is handed to them, it is not a public surface
    applicant_id_masked: str
    item: str
    department: str
    office: str
    complaint_phone: str
    tracker_url: str
    received_at: datetime  # local time
    category: str = "licensing"  # the item's ItemCategory value: which law's words the notice uses


@dataclass(frozen=True)
class Wording:
    """The words of one kind of item: a pension claim is granted (给付), not licensed (许可)."""

    accept_basis: str  # the clause acceptance and correction notices cite
    grant: str
    deny: str
    grant_title: str
    deny_title: str


_LICENSING = Wording("根据《中华人民共和国行政许可法》第三十二条的规定，", "准予许可", "不予许可",
                     "准予许可决定（办结通知）", "不予许可决定书")
WORDING: dict[str, Wording] = {
    "licensing": _LICENSING,
    "benefit": Wording("根据有关规定，", "准予给付", "不予给付", "准予给付决定（办结通知）", "不予给付决定书"),
    "confirmation": Wording("根据有关规定，", "予以确认", "不予确认", "确认决定（办结通知）", "不予确认决定书"),
    "public_service": Wording("根据有关规定，", "予以办理", "不予办理", "办结通知", "不予办理决定书"),
}


def wording(p: NoticeParty) -> Wording:
    return WORDING.get(p.category, _LICENSING)


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    number: str
    title: str
    issued_at: str  # local time, ISO 8601
    case_number: str
    addressee: str
    paragraphs: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]
    lists: tuple[tuple[str, tuple[str, ...]], ...] = ()
    closing: tuple[str, ...] = ()
    signature: bool = False  # a line for the applicant's signature (容缺 undertaking)
    office: str = ""
    qr: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind.value
        d["fields"] = [list(f) for f in self.fields]
        d["lists"] = [{"title": t, "items": list(items)} for t, items in self.lists]
        d["paragraphs"] = list(self.paragraphs)
        d["closing"] = list(self.closing)
        d["issued_on_zh"] = zh_date(datetime.fromisoformat(self.issued_at).date())
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Notice:
        return cls(
            kind=NoticeKind(d["kind"]), number=d["number"], title=d["title"], issued_at=d["issued_at"],
            case_number=d["case_number"], addressee=d["addressee"], paragraphs=tuple(d["paragraphs"]),
            fields=tuple((a, b) for a, b in d["fields"]),
            lists=tuple((x["title"], tuple(x["items"])) for x in d.get("lists", [])),
            closing=tuple(d.get("closing", [])), signature=bool(d.get("signature")), office=d.get("office", ""),
            qr=d.get("qr"), extra=dict(d.get("extra") or {}),
        )


def _common_fields(p: NoticeParty) -> list[tuple[str, str]]:
    return [("办件编号", p.case_number), ("申请人", p.applicant), ("证件号码", p.applicant_id_masked),
            ("申请事项", p.item), ("承办部门", p.department)]


def _tail(p: NoticeParty) -> list[tuple[str, str]]:
    return [("受理机构", p.office), ("监督投诉电话", p.complaint_phone)]


def _rights(review_body: str, review_days: int, court: str, litigation_months: int) -> str:
    return (f"如不服本决定，可以自收到本通知书之日起{review_days}日内向{review_body}申请行政复议，"
            f"或者自收到本通知书之日起{litigation_months}个月内向{court}提起行政诉讼。")


def acceptance(p: NoticeParty, number: str, at: datetime, promised_days: int, due: date) -> Notice:
    return Notice(
        NoticeKind.ACCEPTANCE, number, TITLES[NoticeKind.ACCEPTANCE], at.isoformat(), p.case_number, p.applicant,
        (f"{p.applicant}：您于{zh_datetime(p.received_at)}提交的“{p.item}”申请，申请材料齐全、符合法定形式，"
         f"{wording(p).accept_basis}决定予以受理。",
         f"本事项承诺办结时限为{promised_days}个工作日，将于{zh_date(due)}前办结（依法需要听证、检验检测、"
         "专家评审等的时间不计算在内）。办结后请凭本通知书到统一出件窗口领取结果，或按您选择的方式邮寄送达。"),
        (*_common_fields(p), ("受理时间", zh_datetime(at)),
         ("承诺办结时限", f"{promised_days}个工作日（{zh_date(due)}前）"), *_tail(p)),
        office=p.office, qr=p.tracker_url,
    )


def deficiency(p: NoticeParty, number: str, at: datetime, promised_days: int, due: date,
               missing: list[str], supply_by: date) -> Notice:
    if supply_by > due:
        raise ValueError("the deadline for 容缺 materials may not be after the promised deadline")
    return Notice(
        NoticeKind.DEFICIENCY, number, TITLES[NoticeKind.DEFICIENCY], at.isoformat(), p.case_number, p.applicant,
        (f"{p.applicant}：您于{zh_datetime(p.received_at)}提交的“{p.item}”申请，主要申请材料齐全，"
         "下列次要材料暂缺，经您书面承诺，依照容缺受理规定予以受理。",
         f"请于{zh_date(supply_by)}前补齐下列材料。材料补齐前不出具办理结果；逾期未补齐的，"
         f"视为撤回申请或依法作出{wording(p).deny}决定。",
         f"本事项承诺办结时限为{promised_days}个工作日，将于{zh_date(due)}前办结。"),
        (*_common_fields(p), ("受理时间", zh_datetime(at)),
         ("承诺办结时限", f"{promised_days}个工作日（{zh_date(due)}前）"),
         ("容缺材料补齐期限", zh_date(supply_by)), *_tail(p)),
        lists=(("容缺材料（暂缺的次要材料）", tuple(missing)),),
        closing=(f"申请人承诺：本人对所提交材料的真实性负责，并承诺于{zh_date(supply_by)}前补齐上述全部容缺材料；"
                 f"逾期未补齐的，同意撤回申请或由审批部门依法{wording(p).deny}，并承担相应责任。",),
        signature=True, office=p.office, qr=p.tracker_url, extra={"supply_by": supply_by.isoformat()},
    )


def correction(p: NoticeParty, number: str, at: datetime, missing: list[str]) -> Notice:
    return Notice(
        NoticeKind.CORRECTION, number, TITLES[NoticeKind.CORRECTION], at.isoformat(), p.case_number, p.applicant,
        (f"{p.applicant}：您于{zh_datetime(p.received_at)}提交的“{p.item}”申请，申请材料不齐全或者不符合法定形式。"
         f"{wording(p).accept_basis}现一次性告知您需要补齐补正的全部内容如下：",
         "请补齐补正上述全部材料后重新提交，自收到全部补正材料之日起受理。如有疑问，请咨询窗口工作人员或拨打监督投诉电话。"),
        (*_common_fields(p), ("收件时间", zh_datetime(p.received_at)), ("告知时间", zh_datetime(at)), *_tail(p)),
        lists=(("需补齐补正的材料（一次性告知）", tuple(missing)),),
        office=p.office, qr=p.tracker_url,
    )


def rejection(p: NoticeParty, number: str, at: datetime, reasons: list[str], legal_basis: str,
              review_body: str, review_days: int, court: str, litigation_months: int) -> Notice:
    return Notice(
        NoticeKind.REJECTION, number, TITLES[NoticeKind.REJECTION], at.isoformat(), p.case_number, p.applicant,
        (f"{p.applicant}：您于{zh_datetime(p.received_at)}提交的“{p.item}”申请，经审查，因下列理由，"
         f"依据{legal_basis}的规定，决定不予受理。",
         _rights(review_body, review_days, court, litigation_months)),
        (*_common_fields(p), ("收件时间", zh_datetime(p.received_at)), ("决定时间", zh_datetime(at)),
         ("法律依据", legal_basis), *_tail(p)),
        lists=(("不予受理的理由", tuple(reasons)),),
        office=p.office, qr=p.tracker_url,
    )


def decision(p: NoticeParty, number: str, at: datetime, approved: bool, reasons: list[str], legal_basis: str,
             review_body: str, review_days: int, court: str, litigation_months: int) -> Notice:
    w = wording(p)
    if approved:
        paragraphs = (f"{p.applicant}：您申请的“{p.item}”已办结，经审查，符合法定条件，{w.grant}。",
                      "请凭本通知书和身份证件到统一出件窗口领取办理结果，或按您选择的方式邮寄送达。")
        lists: tuple[tuple[str, tuple[str, ...]], ...] = (("审批意见", tuple(reasons)),) if reasons else ()
    else:
        paragraphs = (f"{p.applicant}：您申请的“{p.item}”已办结，经审查，因下列理由，依据{legal_basis}的规定，"
                      f"决定{w.deny}。",
                      _rights(review_body, review_days, court, litigation_months))
        lists = ((f"{w.deny}的理由", tuple(reasons)),)
    return Notice(
        NoticeKind.DECISION, number, w.grant_title if approved else w.deny_title,
        at.isoformat(), p.case_number, p.applicant, paragraphs,
        (*_common_fields(p), ("办结时间", zh_datetime(at)), ("办理结果", w.grant if approved else w.deny),
         *(() if approved else (("法律依据", legal_basis),)), *_tail(p)),
        lists=lists, office=p.office, qr=p.tracker_url, extra={"approved": approved},
    )


def slip_document(n: Notice, hall_name: str) -> dict[str, Any]:
    """The notice as an 80 mm slip: a printer document (blocks) the printer agent validates and prints."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": hall_name[:200]},
        {"type": "text", "text": n.title, "align": "center", "bold": True, "double": True},
        {"type": "text", "text": n.number, "align": "center"},
        {"type": "separator", "char": "-"},
    ]
    for para in n.paragraphs:
        blocks.append({"type": "text", "text": para[:2000]})
    for title, items in n.lists:
        blocks.append({"type": "text", "text": title, "bold": True})
        blocks.append({"type": "text", "text": "\n".join(f"{i}. {x}" for i, x in enumerate(items, 1))[:2000]})
    blocks.append({"type": "separator", "char": "-"})
    blocks.append({"type": "text", "text": "\n".join(f"{k}：{v}" for k, v in n.fields)[:2000]})
    for c in n.closing:
        blocks.append({"type": "text", "text": c[:2000]})
    if n.signature:
        blocks.append({"type": "text", "text": "申请人签字：____________\n日期：____________"})
    if n.qr:
        blocks.append({"type": "qr", "payload": n.qr, "size": 5, "ec": "M"})
        blocks.append({"type": "footer", "text": "扫码查询办件进度、评价服务"})
    blocks.append({"type": "footer", "text": f"{n.office}  {n.issued_at[:16].replace('T', ' ')}"})
    blocks.append({"type": "cut", "partial": False})
    return {"blocks": blocks}
