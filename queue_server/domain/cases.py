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
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import InvalidInput, InvalidTransition
from .hall import Material


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


def check_settings(settings: CaseSettings, hall: Any) -> list[str]:
    """Cross-references between config/cases.yaml and the hall: queue, item and departments must exist."""
    problems = []
    if settings.issuance_queue not in {q.id for q in hall.queues}:
        problems.append(f"issuance_queue: queue {settings.issuance_queue!r} is not in the hall's queues")
    if settings.issuance_item is not None and settings.issuance_item not in {i.id for i in hall.items}:
        problems.append(f"issuance_item: item {settings.issuance_item!r} is not in the hall's items (or set null)")
    departments = {d.id for d in hall.departments}
    for dept in settings.ab_posts:
        if dept not in departments:
            problems.append(f"ab_posts: department {dept!r} is not in the hall's departments")
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
