"""Ticket states and the transitions a window may make; every other move is refused with a clear reason."""

from __future__ import annotations

from enum import StrEnum

from .errors import InvalidTransition


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    HELD = "held"  # 挂起
    NO_SHOW = "no_show"  # 过号
    DONE = "done"
    CLOSED = "closed"  # closed by the roll-over or the window closing for the day
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset({TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING, TicketStatus.HELD})


class Action(StrEnum):
    CALL = "call"
    RECALL = "recall"
    START = "start"
    FINISH = "finish"
    NO_SHOW = "no_show"
    REQUEUE = "requeue"  # a late arrival after 过号
    HOLD = "hold"
    CALL_BACK = "call_back"
    TRANSFER = "transfer"
    CLOSE = "close"
    CANCEL = "cancel"


# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[TicketStatus], TicketStatus]] = {
    Action.CALL: (frozenset({TicketStatus.WAITING}), TicketStatus.CALLED),
    Action.RECALL: (frozenset({TicketStatus.CALLED}), TicketStatus.CALLED),
    Action.START: (frozenset({TicketStatus.CALLED}), TicketStatus.SERVING),
    Action.FINISH: (frozenset({TicketStatus.SERVING}), TicketStatus.DONE),
    Action.NO_SHOW: (frozenset({TicketStatus.CALLED}), TicketStatus.NO_SHOW),
    Action.REQUEUE: (frozenset({TicketStatus.NO_SHOW}), TicketStatus.WAITING),
    Action.HOLD: (frozenset({TicketStatus.CALLED, TicketStatus.SERVING}), TicketStatus.HELD),
    Action.CALL_BACK: (frozenset({TicketStatus.HELD}), TicketStatus.CALLED),
    Action.TRANSFER: (
        frozenset({TicketStatus.CALLED, TicketStatus.SERVING, TicketStatus.HELD, TicketStatus.WAITING}),
        TicketStatus.WAITING,
    ),
    Action.CLOSE: (OPEN_STATUSES, TicketStatus.CLOSED),
    Action.CANCEL: (frozenset({TicketStatus.WAITING}), TicketStatus.CANCELLED),
}

_STATUS_ZH = {
    TicketStatus.WAITING: "等候中",
    TicketStatus.CALLED: "已叫号",
    TicketStatus.SERVING: "办理中",
    TicketStatus.HELD: "已挂起",
    TicketStatus.NO_SHOW: "已过号",
    TicketStatus.DONE: "已办结",
    TicketStatus.CLOSED: "已关闭",
    TicketStatus.CANCELLED: "已取消",
}


def status_label(status: TicketStatus) -> str:
    return _STATUS_ZH[status]


def next_status(action: Action, current: TicketStatus, number: str = "") -> TicketStatus:
    """The status after ``action``, or ``InvalidTransition`` naming what is allowed from here."""
    allowed_from, to = TRANSITIONS[action]
    if current not in allowed_from:
        possible = sorted(a.value for a, (src, _) in TRANSITIONS.items() if current in src)
        raise InvalidTransition(
            f"ticket {number or ''} is {current.value} ({status_label(current)}); '{action.value}' needs it to be "
            f"{' or '.join(sorted(s.value for s in allowed_from))}. From {current.value} you may: "
            f"{', '.join(possible) or 'nothing (the ticket is finished)'}",
            details={"status": current.value, "action": action.value, "allowed_actions": possible},
        )
    return to
