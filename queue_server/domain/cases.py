"""Cases (办件): states and the moves between them, the materials checklist, A/B routing, case numbers.

前台综合受理、后台分类审批、统一窗口出件::

    received ──accept──────────────▶ accepted ──approve/deny──▶ ready ──hand_over/courier──▶ issued
       │  ├─accept_with_deficiency─▶ (容缺)  ◀─resume── suspended
       │  ├─request_correction──▶ correction ──resubmit──▶ received
       │  ├─reject──────────────▶ rejected
       │  └─decide_now (即办件)─────────────────────────▶ ready
       └─withdraw (also from correction, accepted, suspended) ──▶ withdrawn

Every other move is refused with the case number, its state and what is possible instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import InvalidInput, InvalidTransition
from .hall import HallConfig, ItemCategory, ItemKind, Material
from .workdays import WorkCalendar


class CaseStatus(StrEnum):
    RECEIVED = "received"  # 收件: recorded, not yet decided whether to accept
    CORRECTION = "correction"  # 补齐补正: waiting for the applicant's missing materials
    ACCEPTED = "accepted"  # 受理 (or 容缺受理): in the back office, the clock runs
    SUSPENDED = "suspended"  # clock stopped for an excluded procedure
    READY = "ready"  # 办结: the result (licence or written refusal) waits for issuance
    ISSUED = "issued"  # 出件: handed over at the window or sent by courier
    REJECTED = "rejected"  # 不予受理
    WITHDRAWN = "withdrawn"  # 撤回


STATUS_ZH = {
    CaseStatus.RECEIVED: "已收件",
    CaseStatus.CORRECTION: "待补齐补正",
    CaseStatus.ACCEPTED: "已受理，审批中",
    CaseStatus.SUSPENDED: "审批中（特别程序，时限暂停）",
    CaseStatus.READY: "已办结，待领取",
    CaseStatus.ISSUED: "已出件",
    CaseStatus.REJECTED: "不予受理",
    CaseStatus.WITHDRAWN: "已撤回",
}

FINAL = frozenset({CaseStatus.ISSUED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN})
# States in which the promised deadline runs or is paused: what supervision watches.
IN_PROGRESS = frozenset({CaseStatus.ACCEPTED, CaseStatus.SUSPENDED})
# A case can be rated (一事一评) once the applicant has an outcome.
EVALUABLE = frozenset({CaseStatus.READY, CaseStatus.ISSUED, CaseStatus.REJECTED})


class CaseAction(StrEnum):
    ACCEPT = "accept"
    ACCEPT_WITH_DEFICIENCY = "accept_with_deficiency"
    REQUEST_CORRECTION = "request_correction"
    RESUBMIT = "resubmit"
    REJECT = "reject"
    DECIDE_NOW = "decide_now"
    SUPPLY = "supply"  # 容缺 materials handed in later
    APPROVE = "approve"
    DENY = "deny"
    SUSPEND = "suspend"
    RESUME = "resume"
    REASSIGN = "reassign"
    ISSUANCE_TICKET = "issuance_ticket"
    HAND_OVER = "hand_over"
    COURIER = "courier"
    WITHDRAW = "withdraw"


_S = CaseStatus
TRANSITIONS: dict[CaseAction, tuple[frozenset[CaseStatus], CaseStatus | None]] = {
    # None as target: the state does not change
    CaseAction.ACCEPT: (frozenset({_S.RECEIVED}), _S.ACCEPTED),
    CaseAction.ACCEPT_WITH_DEFICIENCY: (frozenset({_S.RECEIVED}), _S.ACCEPTED),
    CaseAction.REQUEST_CORRECTION: (frozenset({_S.RECEIVED}), _S.CORRECTION),
    CaseAction.RESUBMIT: (frozenset({_S.CORRECTION}), _S.RECEIVED),
    CaseAction.REJECT: (frozenset({_S.RECEIVED}), _S.REJECTED),
    CaseAction.DECIDE_NOW: (frozenset({_S.RECEIVED}), _S.READY),
    CaseAction.SUPPLY: (frozenset({_S.ACCEPTED, _S.SUSPENDED}), None),
    CaseAction.APPROVE: (frozenset({_S.ACCEPTED}), _S.READY),
    CaseAction.DENY: (frozenset({_S.ACCEPTED}), _S.READY),
    CaseAction.SUSPEND: (frozenset({_S.ACCEPTED}), _S.SUSPENDED),
    CaseAction.RESUME: (frozenset({_S.SUSPENDED}), _S.ACCEPTED),
    CaseAction.REASSIGN: (frozenset({_S.ACCEPTED, _S.SUSPENDED}), None),
    CaseAction.ISSUANCE_TICKET: (frozenset({_S.READY}), None),
    CaseAction.HAND_OVER: (frozenset({_S.READY}), _S.ISSUED),
    CaseAction.COURIER: (frozenset({_S.READY}), _S.ISSUED),
    CaseAction.WITHDRAW: (frozenset({_S.RECEIVED, _S.CORRECTION, _S.ACCEPTED, _S.SUSPENDED}), _S.WITHDRAWN),
}


def next_status(action: CaseAction, current: CaseStatus, number: str) -> CaseStatus:
    """The state after ``action``, or InvalidTransition naming the case, its state and the allowed moves."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        allowed = [a.value for a, (src, _t) in TRANSITIONS.items() if current in src]
        raise InvalidTransition(
            f"办件 {number} is {current.value} ({STATUS_ZH[current]}); {action.value} is possible only from "
            f"{', '.join(sorted(s.value for s in sources))}. Possible now: {', '.join(allowed) or 'nothing'}",
            code="invalid_case_transition",
            details={"case": number, "status": current.value, "action": action.value, "allowed": allowed},
        )
    return target if target is not None else current


# ---------------------------------------------------------------- the materials checklist


class Mark(StrEnum):
    ORIGINAL = "original"  # 原件已收 (with the copies the item asks for)
    COPY = "copy"  # 仅收复印件
    MISSING = "missing"  # 缺
    E_LICENCE = "e_licence"  # 电子证照共享: never asked for on paper


MARK_ZH = {Mark.ORIGINAL: "已收原件", Mark.COPY: "已收复印件", Mark.MISSING: "缺", Mark.E_LICENCE: "电子证照共享"}


@dataclass(frozen=True)
class Shortfall:
    """A checklist entry that is not satisfied, and why (in the words the notice uses)."""

    index: int
    name: str
    why: str
    tolerance: bool  # secondary material: 容缺 may accept without it


def check_marks(materials: Sequence[Material], marks: Sequence[str]) -> list[Mark]:
    """Validate one mark per checklist entry, in the item's order."""
    if len(marks) != len(materials):
        raise InvalidInput(
            f"the checklist of this item has {len(materials)} materials; mark each one (got {len(marks)} marks): "
            + "; ".join(f"{i}: {m.name}" for i, m in enumerate(materials)),
            code="checklist_incomplete",
        )
    out: list[Mark] = []
    for i, (material, raw) in enumerate(zip(materials, marks, strict=True)):
        try:
            mark = Mark(raw)
        except ValueError:
            raise InvalidInput(f"material {i} ({material.name}): mark {raw!r} unknown; one of "
                               f"{', '.join(m.value for m in Mark)}", code="bad_mark") from None
        if mark is Mark.E_LICENCE and not material.e_licence:
            raise InvalidInput(f"material {i} ({material.name}) is not available as a shared electronic licence",
                               code="no_e_licence")
        out.append(mark)
    return out


def shortfalls(materials: Sequence[Material], marks: Sequence[Mark]) -> list[Shortfall]:
    """Everything missing, all at once (一次性告知): missing entries, and originals where only a copy came."""
    out = []
    for i, (m, mark) in enumerate(zip(materials, marks, strict=True)):
        if mark is Mark.MISSING:
            why = (f"未提交原件及复印件{m.copies}份" if m.original and m.copies else
                   "未提交原件" if m.original else f"未提交复印件{max(m.copies, 1)}份")
        elif mark is Mark.COPY and m.original:
            why = "需提交原件（仅收到复印件）"
        else:
            continue
        out.append(Shortfall(i, m.name, why, m.tolerance))
    return out


# ---------------------------------------------------------------- settings (config/cases.yaml)


class ABPost(BaseModel):
    """AB岗: the primary approver of a department and the named backup who takes new work while A is absent."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    primary: str = Field(min_length=1)
    backup: str = Field(min_length=1)


class CaseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Case numbers: {prefix}-{YYYYMMDD}-{seq}, sequence per service day.
    number_prefix: Annotated[str, Field(pattern=r"^[A-Z]{1,6}$")] = "HZ"
    number_digits: int = Field(default=4, ge=3, le=6)
    # Notice numbers: {office_short}{kind}〔{year}〕{seq}号, sequence per year and kind.
    office_short: str = Field(default="合政服", min_length=1, max_length=10)
    accepting_office: str = Field(default="合作市政务服务中心", min_length=1)
    # Supervision: yellow this many working days before the deadline; red when overdue.
    warning_days: int = Field(default=1, ge=0, le=20)
    # 一次性告知 is due within this many working days of receipt (licensing law: 5).
    correction_within_days: int = Field(default=5, ge=1, le=20)
    # 容缺 materials: default deadline in working days after acceptance (never after the promised deadline).
    deficiency_days: int = Field(default=5, ge=1, le=60)
    # 差评 follow-up (核实 → 整改 → 回复 → 回访): deadline in working days (hall rule: 1 to 15).
    followup_days: int = Field(default=5, ge=1, le=15)
    # How long a rating invitation (QR, pad) stays valid, in days.
    evaluation_valid_days: int = Field(default=30, ge=1, le=365)
    # The queue of the issuance window (统一出件) and the item a pick-up ticket is issued for.
    issuance_queue: str = "issuance"
    issuance_item: str | None = "result-pickup"
    # Station of a window's evaluator pad, from the window's number.
    evaluator_station: str = "window-{number}"
    evaluator_timeout_s: int = Field(default=120, ge=10, le=600)
    complaint_phone: str | None = None  # None: the hall's complaint_phone
    # 行政复议 and 行政诉讼 bodies named in refusals.
    review_body: str = "合作市人民政府"
    court: str = "合作市人民法院"
    review_days: int = Field(default=60, ge=1, description="复议 within this many days (natural days, by law)")
    litigation_months: int = Field(default=6, ge=1)
    default_legal_basis: str = "《中华人民共和国行政许可法》第三十二条"
    ab_posts: dict[str, ABPost] = {}

    @field_validator("evaluator_station")
    @classmethod
    def _station(cls, v: str) -> str:
        if "{number}" not in v and "{window}" not in v:
            raise ValueError("evaluator_station needs {number} (window number) or {window} (window id)")
        return v


def check_settings(settings: CaseSettings, hall: HallConfig) -> list[tuple[str, str]]:
    """Cross-references between config/cases.yaml and the hall, as (setting, problem): the issuance queue and item
    and the A/B posts' departments must exist."""
    problems = []
    if settings.issuance_queue not in {q.id for q in hall.queues}:
        problems.append(("issuance_queue", f"queue {settings.issuance_queue!r} is not in the hall's queues"))
    if settings.issuance_item is not None and settings.issuance_item not in {i.id for i in hall.items}:
        problems.append(("issuance_item", f"item {settings.issuance_item!r} is not in the hall's items (or set null)"))
    departments = {d.id for d in hall.departments}
    for dept in settings.ab_posts:
        if dept not in departments:
            problems.append((f"ab_posts > {dept}", f"department {dept!r} is not in the hall's departments"))
    return problems


def case_number(settings: CaseSettings, day: date, seq: int) -> str:
    """Readable and unique per hall: HZ-20261126-0001."""
    return f"{settings.number_prefix}-{day:%Y%m%d}-{seq:0{settings.number_digits}d}"


CASE_NUMBER_RE = re.compile(r"^[A-Z]{1,6}-\d{8}-\d{3,6}$")


# ---------------------------------------------------------------- A/B posts


@dataclass(frozen=True)
class Approver:
    username: str
    departments: tuple[str, ...]
    absent: bool


def route(department: str, posts: Mapping[str, ABPost], approvers: Iterable[Approver]) -> str | None:
    """Who gets a new case of ``department``: the A post if present, else the named B post if present;
    None (the department's shared list) when the department has no A/B posts or both are absent."""
    post = posts.get(department)
    if post is None:
        return None
    known = {a.username: a for a in approvers}
    for username in (post.primary, post.backup):
        a = known.get(username)
        if a is not None and not a.absent and department in a.departments:
            return username
    return None


def may_decide(department: str, member_departments: Iterable[str] | None) -> bool:
    """An approver decides the cases of the departments they belong to (None: no restriction)."""
    return member_departments is None or department in set(member_departments)


# ---------------------------------------------------------------- the rules of each step (no I/O: the service
# reads the case and the clock, these decide)

PHONE_RE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
TRACKING_RE = re.compile(r"[A-Za-z0-9-]{6,40}")
PROCEDURES = {"hearing": "听证", "testing": "检验检测", "expert_review": "专家评审", "other": "其他特别程序"}


def check_applicant(name: str, phone: str | None) -> tuple[str, str | None]:
    """The applicant's name and phone as recorded (trimmed; the phone without spaces)."""
    clean = name.strip()
    if not 1 <= len(clean) <= 80:
        raise InvalidInput("applicant_name: 1 to 80 characters", code="bad_name")
    number = (phone or "").strip().replace(" ", "") or None
    if number is not None and not PHONE_RE.match(number):
        raise InvalidInput("phone: a mobile number (11 digits) or a landline like 0941-8212345", code="bad_phone")
    return clean, number


def check_source(source: str, ticket_id: int | None) -> None:
    """At a window (from a served ticket, or none) or an online filing (never with a ticket)."""
    if source not in ("window", "online"):
        raise InvalidInput("source: window or online", code="bad_source")
    if source == "online" and ticket_id is not None:
        raise InvalidInput("an online filing has no ticket", code="bad_source")


def clean_reasons(reasons: Iterable[str], what: str, required: bool = True) -> list[str]:
    """The non-blank reasons, trimmed; a refusal (``required``) needs at least one."""
    clean = [r.strip() for r in reasons if r and r.strip()]
    if required and not clean:
        raise InvalidInput(f"{what} needs at least one reason", code="reasons_required")
    return clean


def default_legal_basis(category: ItemCategory, settings: CaseSettings) -> str:
    """The legal basis a notice cites when the clerk names none: the licensing law only for a licensing item."""
    if category is ItemCategory.LICENSING:
        return settings.default_legal_basis
    return "有关法律、法规和政策规定"


def _not_immediate(number: str, kind: str) -> None:
    if kind == ItemKind.IMMEDIATE.value:
        raise InvalidTransition(f"办件 {number} is an immediate item (即办件): decide it on the spot",
                                code="immediate_item")


def check_acceptable(number: str, kind: str, missing: Sequence[Shortfall]) -> None:
    """受理 needs a promised item with every material."""
    _not_immediate(number, kind)
    if missing:
        raise InvalidTransition(
            f"办件 {number} is missing {len(missing)} material(s): "
            + "; ".join(f"{m.name}（{m.why}）" for m in missing)
            + ". Request a correction (补齐补正) or, for secondary materials only, accept with deficiency (容缺)",
            code="materials_missing", details={"missing": [m.name for m in missing]})


def check_deficiency_acceptable(number: str, kind: str, missing: Sequence[Shortfall], undertaking: bool) -> None:
    """容缺受理: a promised item missing secondary materials only, with the applicant's signed undertaking."""
    _not_immediate(number, kind)
    if not missing:
        raise InvalidTransition(f"办件 {number} has every material; accept it normally", code="nothing_missing")
    primary = [m for m in missing if not m.tolerance]
    if primary:
        raise InvalidTransition(
            "容缺受理 is only for secondary materials; these main materials are missing: "
            + "; ".join(m.name for m in primary) + ". Request a correction (补齐补正) instead",
            code="main_material_missing", details={"missing": [m.name for m in primary]})
    if not undertaking:
        raise InvalidInput("容缺受理 needs the applicant's written undertaking (承诺书): set undertaking true once "
                           "signed", code="undertaking_required")


def deficiency_deadline(calendar: WorkCalendar, accepted_on: date, due: date, promised_days: int,
                        deficiency_days: int, supply_by: date | None) -> date:
    """When the 容缺 materials are due: the one asked for, else ``deficiency_days`` working days after acceptance;
    never after the promised deadline (and never counting past it), always after the day of acceptance."""
    if supply_by is None:
        supply_by = due if deficiency_days >= promised_days else calendar.add_workdays(accepted_on, deficiency_days)
    if supply_by > due:
        raise InvalidInput(f"the deadline for the missing materials ({supply_by}) may not be after the promised "
                           f"deadline ({due})", code="deficiency_deadline_too_late", details={"due_on": str(due)})
    if supply_by <= accepted_on:
        raise InvalidInput("the deadline for the missing materials must be after today", code="bad_deadline")
    return supply_by


def correction_record(calendar: WorkCalendar, number: str, missing: Sequence[Shortfall], prior: Mapping[str, Any],
                      submitted_on: date, today: date, within_days: int, at: datetime) -> dict[str, Any]:
    """补齐补正: the correction to record, or why it may not be asked for: nothing missing, too late after the
    (re)submission (the application then counts as accepted), or a material not told the first time (一次性告知)."""
    if not missing:
        raise InvalidTransition(f"办件 {number} has every material; nothing to correct", code="nothing_missing")
    if calendar.workdays_between(submitted_on, today) > within_days:
        raise InvalidTransition(
            f"办件 {number} was submitted on {submitted_on}; a correction must be requested within "
            f"{within_days} working days, after that the application counts as accepted on receipt "
            "(行政许可法第三十二条). Accept it", code="correction_too_late")
    told_before = set(prior.get("told_all", []))
    if told_before and any(m.index not in told_before for m in missing):
        new = [m.name for m in missing if m.index not in told_before]
        raise InvalidTransition(
            "一次性告知: these materials were not in the earlier correction notice and may not be asked for now: "
            + "; ".join(new), code="not_told_at_once", details={"not_told": new})
    return {"told": [m.index for m in missing], "told_all": sorted(told_before | {m.index for m in missing}),
            "names": [m.name for m in missing], "at": at.isoformat(),
            "resubmitted_at": None, "rounds": int(prior.get("rounds", 0)) + 1}


def check_decide_now(number: str, kind: str, approved: bool, missing: Sequence[Shortfall]) -> None:
    """即办件 only; approving needs every material (a denial may be for what is missing)."""
    if kind != ItemKind.IMMEDIATE.value:
        raise InvalidTransition(f"办件 {number} is a promised item (承诺件): accept it and let the back office "
                                "decide", code="promised_item")
    if approved and missing:
        raise InvalidTransition(f"办件 {number} is missing: " + "; ".join(m.name for m in missing),
                                code="materials_missing", details={"missing": [m.name for m in missing]})


def check_approval(number: str, approved: bool, deficiency: Mapping[str, Any] | None) -> None:
    """An approval waits for the 容缺 materials; a denial does not."""
    if approved and deficiency and not deficiency.get("supplied_at"):
        raise InvalidTransition(
            f"办件 {number}: the 容缺 materials ({'; '.join(deficiency['names'])}) are not yet handed in "
            f"(due {deficiency['supply_by']}); record them first, or deny", code="deficiency_outstanding")


def supplied(number: str, marks: Sequence[str], deficiency: Mapping[str, Any] | None, today: date
             ) -> tuple[list[str], bool]:
    """The checklist once the 容缺 materials are handed in (those entries now originals), and whether late."""
    if not deficiency or deficiency.get("supplied_at"):
        raise InvalidTransition(f"办件 {number} has no outstanding 容缺 materials", code="nothing_outstanding")
    out = list(marks)
    for i in deficiency["items"]:
        out[i] = Mark.ORIGINAL.value
    return out, today > date.fromisoformat(deficiency["supply_by"])


def check_suspension(procedure: str, reason: str) -> str:
    """Only the excluded procedures stop the clock, each with a reason (returned trimmed)."""
    if procedure not in PROCEDURES:
        raise InvalidInput(f"procedure {procedure!r} unknown; one of {', '.join(PROCEDURES)}", code="bad_procedure")
    if not reason.strip():
        raise InvalidInput("a suspension needs a reason", code="reason_required")
    return reason.strip()


def check_courier(carrier: str, tracking_number: str) -> tuple[str, str]:
    """快递送达: a carrier and a plausible tracking number (both trimmed)."""
    tracking = tracking_number.strip()
    if not TRACKING_RE.fullmatch(tracking):
        raise InvalidInput("tracking_number: 6 to 40 letters, digits or '-'", code="bad_tracking_number")
    if not carrier.strip():
        raise InvalidInput("carrier: e.g. 中国邮政EMS", code="carrier_required")
    return carrier.strip(), tracking


def pickup_message(windows: Sequence[int]) -> str:
    """What the tracker says once the result is ready: where to collect it."""
    where = f"{'、'.join(str(n) for n in windows)}号统一出件窗口" if windows else "统一出件窗口"
    return f"办理结果已出，请凭通知书和身份证件到{where}领取（可在自助终端取出件号）"
