"""Calling policies: which waiting ticket a window calls next. Pluggable; the default is described below."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from .hall import CallingPolicyConfig, PriorityClass


@dataclass(frozen=True)
class Candidate:
    """A waiting ticket as the policy sees it."""

    ticket_id: int
    queue_id: str
    priority: PriorityClass
    position: datetime  # FIFO key: issue time, or where a transfer or re-queue put it
    issued_at: datetime
    target_window: str | None = None


@dataclass(frozen=True)
class WindowState:
    window_id: str
    queue_weights: dict[str, int]
    priority_streak: int = 0  # priority calls in a row at this window since the last normal one
    served: dict[str, int] = field(default_factory=dict)  # calls this window made today, per queue


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    priority_streak: int
    rule: str  # which rule picked it, for the record and for tests


class CallingPolicy(Protocol):
    def choose(self, candidates: Sequence[Candidate], window: WindowState, now: datetime) -> Choice | None: ...

    def rank(self, candidates: Sequence[Candidate], now: datetime) -> list[Candidate]:
        """Candidates of one queue in the order they would be called (for "people ahead")."""
        ...


class DefaultCallingPolicy:
    """Green channel first; an optional long-wait rule; priority tickets interleaved with normal ones.

    - Only tickets of the window's queues (and those transferred to this window or to none) are eligible.
    - Green channel tickets go first, oldest first.
    - With ``long_wait_min`` set, a ticket that has waited longer is next, oldest first.
    - Otherwise a priority ticket (legal, elderly, appointment, in ``priority_order``) is called unless the window
      has already called ``priority_per_normal`` priority tickets in a row and a normal ticket waits: nobody starves.
    - Inside a class FIFO; across queues the window's weights decide the share of its calls: the queue that is
      furthest behind its share (calls made today ÷ weight) goes next, ties to the longest wait. Weights 3:1 give
      three calls from the first queue for every one from the second while both have people waiting.
    """

    # What the store may rely on to read only a few candidates (see services.common.call_candidates): every choice
    # is the head of a (queue, class) line by (position, id), or with the long-wait rule the first issued.
    picks_from_heads = True

    def __init__(self, config: CallingPolicyConfig) -> None:
        self.config = config
        self.uses_issue_time = config.long_wait_min is not None
        self._order = {cls: i for i, cls in enumerate(config.priority_order)}

    def _eligible(self, candidates: Sequence[Candidate], window: WindowState) -> list[Candidate]:
        return [
            c
            for c in candidates
            if c.queue_id in window.queue_weights and c.target_window in (None, window.window_id)
        ]

    @staticmethod
    def _fifo(group: Sequence[Candidate]) -> Candidate:
        return min(group, key=lambda c: (c.position, c.ticket_id))

    def _by_weight(self, group: Sequence[Candidate], window: WindowState, now: datetime) -> Candidate:
        heads: dict[str, Candidate] = {}
        for c in group:
            head = heads.get(c.queue_id)
            if head is None or (c.position, c.ticket_id) < (head.position, head.ticket_id):
                heads[c.queue_id] = c

        def score(c: Candidate) -> tuple[float, int, datetime, int]:
            weight = window.queue_weights[c.queue_id]
            return ((window.served.get(c.queue_id, 0) + 1) / weight, -weight, c.position, c.ticket_id)

        return min(heads.values(), key=score)

    def choose(self, candidates: Sequence[Candidate], window: WindowState, now: datetime) -> Choice | None:
        eligible = self._eligible(candidates, window)
        if not eligible:
            return None
        streak = window.priority_streak
        green = [c for c in eligible if c.priority is PriorityClass.GREEN]
        if green:
            return Choice(self._fifo(green), streak, "green")
        if self.config.long_wait_min is not None:
            limit = self.config.long_wait_min * 60
            overdue = [c for c in eligible if (now - c.issued_at).total_seconds() > limit]
            if overdue:
                pick = min(overdue, key=lambda c: (c.issued_at, c.ticket_id))
                new_streak = 0 if pick.priority is PriorityClass.NORMAL else streak + 1
                return Choice(pick, new_streak, "long_wait")
        priority = [c for c in eligible if c.priority in self._order]
        normal = [c for c in eligible if c.priority is PriorityClass.NORMAL]
        if priority and (not normal or streak < self.config.priority_per_normal):
            best = min(self._order[c.priority] for c in priority)
            group = [c for c in priority if self._order[c.priority] == best]
            return Choice(self._by_weight(group, window, now), streak + 1, "priority")
        return Choice(self._by_weight(normal, window, now), 0, "normal")

    def class_rank(self, priority: PriorityClass) -> int:
        """Where a class stands in a queue's order: green first, the priority classes, normal last."""
        if priority is PriorityClass.GREEN:
            return -1
        return self._order.get(priority, len(self._order))

    def rank(self, candidates: Sequence[Candidate], now: datetime) -> list[Candidate]:
        return sorted(candidates, key=lambda c: (self.class_rank(c.priority), c.position, c.ticket_id))


def people_ahead(policy: CallingPolicy, queue_waiting: Sequence[Candidate], ticket_id: int, now: datetime) -> int:
    """How many waiting tickets of the same queue the policy would call before this one (an estimate:
    interleaving across windows can move a normal ticket up)."""
    for i, c in enumerate(policy.rank(queue_waiting, now)):
        if c.ticket_id == ticket_id:
            return i
    return 0
