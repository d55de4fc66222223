from datetime import UTC, datetime, timedelta

import pytest

from queue_server.domain.calling import Candidate, DefaultCallingPolicy, WindowState, people_ahead
from queue_server.domain.hall import CallingPolicyConfig, PriorityClass

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
N, E, L, A, G = (PriorityClass.NORMAL, PriorityClass.ELDERLY, PriorityClass.LEGAL, PriorityClass.APPOINTMENT,
                 PriorityClass.GREEN)


def cand(i: int, prio=N, queue="a", minute=None, target=None) -> Candidate:
    at = T0 + timedelta(minutes=i if minute is None else minute)
    return Candidate(i, queue, prio, at, at, target)


def drain(policy, pool, window, now):
    """Call until empty, feeding back the streak like the store does."""
    order = []
    pool = list(pool)
    while True:
        choice = policy.choose(pool, window, now)
        if choice is None:
            return order
        order.append(choice.candidate.ticket_id)
        pool.remove(choice.candidate)
        served = dict(window.served)
        served[choice.candidate.queue_id] = served.get(choice.candidate.queue_id, 0) + 1
        window = WindowState(window.window_id, window.queue_weights, choice.priority_streak, served)


def test_fifo_inside_normal_class():
    policy = DefaultCallingPolicy(CallingPolicyConfig())
    pool = [cand(3), cand(1), cand(2)]
    assert drain(policy, pool, WindowState("w1", {"a": 1}), T0 + timedelta(hours=1)) == [1, 2, 3]


def test_green_channel_first_even_when_latest():
    policy = DefaultCallingPolicy(CallingPolicyConfig())
    pool = [cand(1), cand(2, E), cand(9, G)]
    choice = policy.choose(pool, WindowState("w1", {"a": 1}), T0 + timedelta(hours=1))
    assert choice.candidate.ticket_id == 9 and choice.rule == "green"


def test_priority_interleaved_with_normal_at_ratio():
    policy = DefaultCallingPolicy(CallingPolicyConfig(priority_per_normal=2))
    pool = [cand(1), cand(2), cand(3), *(cand(10 + i, E) for i in range(5))]
    order = drain(policy, pool, WindowState("w1", {"a": 1}), T0 + timedelta(hours=1))
    # two priority, one normal, two priority, one normal, ...: nobody starves
    assert order == [10, 11, 1, 12, 13, 2, 14, 3]


def test_ratio_one_alternates():
    policy = DefaultCallingPolicy(CallingPolicyConfig(priority_per_normal=1))
    pool = [cand(1), cand(2), cand(10, L), cand(11, L)]
    assert drain(policy, pool, WindowState("w1", {"a": 1}), T0 + timedelta(hours=1)) == [10, 1, 11, 2]


def test_priority_order_between_classes():
    policy = DefaultCallingPolicy(CallingPolicyConfig())
    pool = [cand(1, A), cand(2, E), cand(3, L)]
    assert drain(policy, pool, WindowState("w1", {"a": 1}), T0 + timedelta(hours=1)) == [3, 2, 1]


def test_window_calls_only_its_queues_and_transfers_to_it():
    policy = DefaultCallingPolicy(CallingPolicyConfig())
    pool = [cand(1, queue="b"), cand(2, queue="a", target="w2"), cand(3, queue="a", target="w1")]
    order = drain(policy, pool, WindowState("w1", {"a": 1}), T0 + timedelta(hours=1))
    assert order == [3]


def test_weights_favour_the_queue_behind_its_share():
    policy = DefaultCallingPolicy(CallingPolicyConfig())
    now = T0 + timedelta(minutes=20)
    pool = [cand(1, queue="a", minute=0), cand(2, queue="b", minute=8)]
    # equal shares so far: the heavier queue first; equal weights: the longer wait first
    assert policy.choose(pool, WindowState("w1", {"a": 1, "b": 3}), now).candidate.ticket_id == 2
    assert policy.choose(pool, WindowState("w1", {"a": 1, "b": 1}), now).candidate.ticket_id == 1
    # b has had 3 calls at weight 3 (share 1.33 next), a none at weight 1 (share 1.0 next): a goes
    assert policy.choose(pool, WindowState("w1", {"a": 1, "b": 3}, served={"b": 3}), now).candidate.ticket_id == 1


def test_weighted_share_over_a_long_run():
    policy = DefaultCallingPolicy(CallingPolicyConfig())
    pool = [cand(i, queue="a", minute=i * 0.01) for i in range(60)] + [
        cand(100 + i, queue="b", minute=i * 0.01) for i in range(60)
    ]
    first40 = drain(policy, pool, WindowState("w1", {"a": 3, "b": 1}), T0 + timedelta(hours=1))[:40]
    from_a = sum(1 for t in first40 if t < 100)
    assert 26 <= from_a <= 34  # about 3 of every 4


def test_long_wait_rule_jumps_classes():
    policy = DefaultCallingPolicy(CallingPolicyConfig(long_wait_min=30))
    now = T0 + timedelta(minutes=40)
    pool = [cand(1, minute=0), cand(2, E, minute=35)]
    choice = policy.choose(pool, WindowState("w1", {"a": 1}), now)
    assert choice.candidate.ticket_id == 1 and choice.rule == "long_wait"
    off = DefaultCallingPolicy(CallingPolicyConfig())
    assert off.choose(pool, WindowState("w1", {"a": 1}), now).candidate.ticket_id == 2


def test_nobody_waiting_returns_none():
    policy = DefaultCallingPolicy(CallingPolicyConfig())
    assert policy.choose([], WindowState("w1", {"a": 1}), T0) is None


def test_people_ahead_counts_priority_first():
    policy = DefaultCallingPolicy(CallingPolicyConfig())
    pool = [cand(1), cand(2), cand(3, E)]
    assert people_ahead(policy, pool, 3, T0) == 0
    assert people_ahead(policy, pool, 2, T0) == 2


def test_priority_order_must_list_each_class():
    with pytest.raises(ValueError, match="exactly once"):
        CallingPolicyConfig(priority_order=[L, L, E])
