"""好差评: the five levels and the fixed 差评 reasons, as the evaluator pad sends them and the server records them."""

from __future__ import annotations

from enum import IntEnum


class Level(IntEnum):
    """The five levels; 1 and 2 are 差评, which need a reason and open a follow-up."""

    VERY_DISSATISFIED = 1
    DISSATISFIED = 2
    BASIC = 3
    SATISFIED = 4
    VERY_SATISFIED = 5

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self]

    @property
    def is_bad(self) -> bool:
        """差评: 不满意 and 非常不满意."""
        return self <= Level.DISSATISFIED


LEVEL_LABELS: dict[Level, str] = {
    Level.VERY_SATISFIED: "非常满意",
    Level.SATISFIED: "满意",
    Level.BASIC: "基本满意",
    Level.DISSATISFIED: "不满意",
    Level.VERY_DISSATISFIED: "非常不满意",
}

# The fixed list a 差评 names: the code travels on the wire (pad keys, REST), the text is what people read.
REASONS: dict[int, str] = {
    1: "办事效率低",
    2: "服务态度差",
    3: "多次跑腿",
    4: "材料要求不明确",
    5: "其他",
}
OTHER_REASON = 5  # 其他: needs a few words of comment
