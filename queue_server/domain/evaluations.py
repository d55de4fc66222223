"""好差评: five levels, the fixed indicators, who may rate, and the 差评 follow-up (核实 → 整改 → 回复 → 回访).

Staff can never rate on a citizen's behalf: a rating comes only from the citizen's own channels — the
evaluator pad at the window (its station's device token, answering the session the window opened), the kiosk
(its device token, with the citizen's QR), or the QR link on the ticket or notice (its own secret token).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from devices.contract.ratings import LEVEL_LABELS, REASONS, Level

from .errors import DomainError, InvalidInput, InvalidTransition

# The levels and the fixed indicators are the wire contract's (the pad's reason keys are the same codes).
LEVEL_ZH = LEVEL_LABELS
INDICATORS = REASONS


class Channel(StrEnum):
    PAD = "pad"  # 评价器 at the window
    KIOSK = "kiosk"  # 自助终端
    QR = "qr"  # 扫码评价 (phone)


class StaffCannotRate(DomainError):
    code = "staff_cannot_rate"


def check_rating(level: int, indicators: Sequence[int], comment: str | None) -> tuple[Level, list[int]]:
    """The level and indicators of a rating, or InvalidInput saying what is missing."""
    if isinstance(level, bool) or level not in Level._value2member_map_:
        raise InvalidInput(f"level {level!r} is not one of 1..5 (5 非常满意 ... 1 非常不满意)", code="bad_level")
    lvl = Level(level)
    codes = sorted(set(indicators))
    unknown = [c for c in codes if c not in INDICATORS]
    if unknown:
        raise InvalidInput(f"unknown indicators {unknown}; the fixed list: {INDICATORS}", code="bad_indicator")
    if lvl.is_bad and not codes:
        raise InvalidInput(f"{lvl.label} needs a reason: pick one or more of {INDICATORS}", code="reason_required")
    if lvl.is_bad and codes == [5] and not (comment and comment.strip()):
        raise InvalidInput("reason 其他 needs a few words saying what went wrong", code="reason_required")
    if not lvl.is_bad and codes:
        raise InvalidInput(f"{lvl.label} takes no reason; only 不满意 and 非常不满意 do", code="reason_not_allowed")
    return lvl, codes


def check_rater(actor_kind: str, channel: Channel, via_staff_session: bool) -> None:
    """Refuse any rating that could come from staff; each channel has exactly one kind of sender."""
    if via_staff_session or actor_kind == "staff":
        raise StaffCannotRate("staff may not rate on a citizen's behalf; the citizen rates on the evaluator pad, "
                              "the kiosk or their own phone (QR)")
    allowed = {Channel.PAD: ("device",), Channel.KIOSK: ("device", "kiosk"), Channel.QR: ("citizen",)}[channel]
    if actor_kind not in allowed:
        raise StaffCannotRate(f"a {channel.value} rating must come from {' or '.join(allowed)}, not {actor_kind}",
                              code="wrong_channel")


# ---------------------------------------------------------------- the 差评 follow-up


class FollowUpStatus(StrEnum):
    VERIFYING = "verifying"  # 核实
    RECTIFYING = "rectifying"  # 整改
    REPLYING = "replying"  # 回复 the citizen
    RETURN_VISIT = "return_visit"  # 回访
    CLOSED = "closed"


FOLLOWUP_ZH = {
    FollowUpStatus.VERIFYING: "核实中",
    FollowUpStatus.RECTIFYING: "整改中",
    FollowUpStatus.REPLYING: "待回复",
    FollowUpStatus.RETURN_VISIT: "待回访",
    FollowUpStatus.CLOSED: "已办结",
}


class FollowUpStep(StrEnum):
    VERIFY = "verify"
    RECTIFY = "rectify"
    REPLY = "reply"
    RETURN_VISIT = "return_visit"


_F = FollowUpStatus
FOLLOWUP_STEPS: dict[FollowUpStep, tuple[FollowUpStatus, FollowUpStatus]] = {
    FollowUpStep.VERIFY: (_F.VERIFYING, _F.RECTIFYING),
    FollowUpStep.RECTIFY: (_F.RECTIFYING, _F.REPLYING),
    FollowUpStep.REPLY: (_F.REPLYING, _F.RETURN_VISIT),
    FollowUpStep.RETURN_VISIT: (_F.RETURN_VISIT, _F.CLOSED),
}


def next_followup(step: FollowUpStep, current: FollowUpStatus, substantiated: bool | None = None) -> FollowUpStatus:
    """The follow-up's state after ``step``. A complaint found unsubstantiated at verification skips
    rectification and goes straight to the reply; every other order is refused."""
    source, target = FOLLOWUP_STEPS[step]
    if current is not source:
        raise InvalidTransition(
            f"the follow-up is {current.value} ({FOLLOWUP_ZH[current]}); {step.value} comes only after "
            f"{source.value}", code="invalid_followup_step",
            details={"status": current.value, "step": step.value},
        )
    if step is FollowUpStep.VERIFY and substantiated is False:
        return FollowUpStatus.REPLYING
    return target
