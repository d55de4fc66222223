from datetime import timedelta

import pytest
from sqlalchemy import select

from queue_server.api.errors import status_for
from queue_server.domain.errors import (
    CapReached,
    Closed,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from queue_server.services import tickets as T
from queue_server.services import window_views as WV
from queue_server.services import windows as W
from queue_server.services.context import Actor
from queue_server.services.rollover import roll_over
from queue_server.store.schema import ticket_transitions

from .conftest import at_local

CLERK = Actor("staff", "li")
KIOSK = Actor("kiosk", "k1")


def test_numbers_are_per_queue_and_day(hall):
    nums = [T.issue_ticket(hall, T.IssueRequest(queue_id=q), KIOSK).ticket["number"] for q in "aabab"]
    assert nums == ["A001", "A002", "B001", "A003", "B002"]


def test_issue_reports_people_ahead_and_estimate(hall):
    W.open_window(hall, "w2", CLERK)
    for _ in range(3):
        T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    t = T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).ticket
    assert t["ahead"] == 3
    # default 8 min per person, one window fully on queue a: (3 + 0.5) * 8
    assert t["estimated_wait_min"] == pytest.approx(28.0)
    assert t["tracker_url"].endswith(t["tracker_token"])


def test_idempotency_key_returns_the_same_ticket(hall):
    first = T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK, "key-1")
    again = T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK, "key-1")
    assert first.created and not again.created and again.reason == "idempotent_replay"
    assert again.ticket["id"] == first.ticket["id"]
    with pytest.raises(DomainError) as e:
        T.issue_ticket(hall, T.IssueRequest(queue_id="b"), KIOSK, "key-1")
    assert e.value.code == "idempotency_key_reused"
    assert T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).ticket["number"] == "A002"


def test_one_open_ticket_per_person_per_queue(hall):
    # an ID number is staff's entry (a kiosk sends its own reader's card_input_id instead)
    first = T.issue_ticket(hall, T.IssueRequest(queue_id="a", id_number="11010519491231002X", name="王小娜"), CLERK)
    again = T.issue_ticket(hall, T.IssueRequest(queue_id="a", id_number="11010519491231002X"), CLERK)
    assert not again.created and again.reason == "already_has_ticket"
    assert again.ticket["number"] == first.ticket["number"]
    assert first.ticket["priority"] == "elderly"  # born 1949
    other_queue = T.issue_ticket(hall, T.IssueRequest(queue_id="b", id_number="11010519491231002X"), CLERK)
    assert other_queue.created


def test_bad_id_number_is_a_clear_error(hall):
    with pytest.raises(InvalidInput, match="check character"):
        T.issue_ticket(hall, T.IssueRequest(queue_id="a", id_number="110105194912310021"), CLERK)


def test_daily_caps_per_queue_and_item(hall):
    for _ in range(3):
        T.issue_ticket(hall, T.IssueRequest(queue_id="b"), KIOSK)
    with pytest.raises(CapReached):
        T.issue_ticket(hall, T.IssueRequest(queue_id="b"), KIOSK)
    T.issue_ticket(hall, T.IssueRequest(item_id="i1"), KIOSK)
    T.issue_ticket(hall, T.IssueRequest(item_id="i1"), KIOSK)
    with pytest.raises(CapReached):
        T.issue_ticket(hall, T.IssueRequest(item_id="i1"), KIOSK)
    assert T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).ticket["number"] == "A003"


def test_refused_outside_hours_with_next_opening(hall):
    hall.clock.advance(at_local(12, 30) - hall.now())
    with pytest.raises(Closed) as e:
        T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    assert e.value.details["next_open"].startswith("2026-11-26T14:30")
    hall.clock.advance(at_local(14, 30) - hall.now())
    assert T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).created


def test_queue_issue_window(hall):
    hall.clock.advance(at_local(10, 5) - hall.now())
    with pytest.raises(Closed):
        T.issue_ticket(hall, T.IssueRequest(queue_id="c"), KIOSK)
    assert T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).created


def test_unknown_queue_and_item(hall):
    with pytest.raises(NotFound):
        T.issue_ticket(hall, T.IssueRequest(queue_id="zz"), KIOSK)
    with pytest.raises(NotFound):
        T.issue_ticket(hall, T.IssueRequest(item_id="zz"), KIOSK)


def test_call_start_finish_records_every_transition(hall):
    t = T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).ticket
    called = W.call_next(hall, "w1", CLERK)
    assert called["ticket"]["number"] == "A001" and called["status"] == "open"
    W.start(hall, "w1", CLERK)
    done = W.finish(hall, "w1", CLERK)
    assert done["ticket"]["status"] == "done" and done["current"] is None
    with hall.engine.connect() as conn:
        rows = conn.execute(select(ticket_transitions).where(ticket_transitions.c.ticket_id == t["id"])
                            .order_by(ticket_transitions.c.id)).all()
    assert [r.action for r in rows] == ["issue", "call", "start", "finish"]
    assert {r.actor for r in rows[1:]} == {"staff:li"} and rows[0].actor == "kiosk:k1"
    assert rows[1].window_id == "w1"


def test_call_next_finishes_the_one_being_served(hall):
    for _ in range(2):
        T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    W.call_next(hall, "w1", CLERK)
    with pytest.raises(InvalidTransition, match="no-show"):
        W.call_next(hall, "w1", CLERK)  # called but not started
    W.start(hall, "w1", CLERK)
    second = W.call_next(hall, "w1", CLERK)
    assert second["ticket"]["number"] == "A002"
    assert T.get_ticket_view(hall, 1)["status"] == "done"


def test_two_windows_never_call_the_same_ticket(hall):
    for _ in range(2):
        T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    a = W.call_next(hall, "w1", CLERK)["ticket"]["number"]
    b = W.call_next(hall, "w2", CLERK)["ticket"]["number"]
    assert {a, b} == {"A001", "A002"}
    with pytest.raises(InvalidTransition):
        W.call_ticket(hall, "w2", 1, CLERK)  # already called by w1 (and w2 has its own pending)
    W.start(hall, "w1", CLERK)
    W.finish(hall, "w1", CLERK)
    assert W.call_next(hall, "w1", CLERK)["ticket"] is None  # nobody left: A002 is w2's


def test_recall_limit(hall):
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    W.call_next(hall, "w1", CLERK)
    W.recall(hall, "w1", CLERK)
    W.recall(hall, "w1", CLERK)
    with pytest.raises(InvalidTransition, match="limit"):
        W.recall(hall, "w1", CLERK)


def test_no_show_then_requeue_at_the_back(hall):
    for _ in range(3):
        T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    W.call_next(hall, "w2", CLERK)
    W.no_show(hall, "w2", CLERK)
    view = T.requeue(hall, 1, CLERK)
    assert view["status"] == "waiting" and view["ahead"] == 2
    with pytest.raises(InvalidTransition):
        T.requeue(hall, 1, CLERK)  # waiting already


def test_requeue_too_late(hall):
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    W.call_next(hall, "w2", CLERK)
    W.no_show(hall, "w2", CLERK)
    hall.clock.advance(timedelta(minutes=31))
    with pytest.raises(InvalidTransition) as e:
        T.requeue(hall, 1, CLERK)
    assert e.value.code == "requeue_too_late"


def test_hold_and_call_back(hall):
    for _ in range(2):
        T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    W.call_next(hall, "w2", CLERK)
    W.start(hall, "w2", CLERK)
    W.hold(hall, "w2", CLERK, "去复印")
    assert [t["number"] for t in WV.held_tickets(hall, "w2")] == ["A001"]
    W.call_next(hall, "w2", CLERK)  # A002
    with pytest.raises(InvalidTransition):
        W.call_back(hall, "w2", 1, CLERK)  # window busy
    W.start(hall, "w2", CLERK)
    W.finish(hall, "w2", CLERK)
    W.open_window(hall, "w1", CLERK)
    with pytest.raises(InvalidTransition, match="held by window"):
        W.call_back(hall, "w1", 1, CLERK)
    back = W.call_back(hall, "w2", 1, CLERK)
    assert back["current"]["number"] == "A001" and back["current"]["status"] == "called"


def test_transfer_to_another_queue_front_back_original(hall):
    for q in "bbb":
        T.issue_ticket(hall, T.IssueRequest(queue_id=q), KIOSK)
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)  # A001, issued last
    W.call_ticket(hall, "w2", 4, CLERK)
    W.transfer(hall, "w2", CLERK, to_queue="b", position="front")
    assert T.get_ticket_view(hall, 4)["ahead"] == 0 and T.get_ticket_view(hall, 4)["number"] == "A001"
    W.call_ticket(hall, "w1", 4, CLERK)
    W.transfer(hall, "w1", CLERK, to_queue="b", position="back")
    assert T.get_ticket_view(hall, 4)["ahead"] == 3
    W.call_ticket(hall, "w1", 4, CLERK)
    W.transfer(hall, "w1", CLERK, to_queue="b", position="original")
    assert T.get_ticket_view(hall, 4)["ahead"] == 3  # issued after the three B tickets


def test_transfer_to_a_window_only_that_window_calls_it(hall):
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    W.call_next(hall, "w1", CLERK)
    W.transfer(hall, "w1", CLERK, to_window="w2")
    assert W.call_next(hall, "w1", CLERK)["ticket"] is None
    assert W.call_next(hall, "w2", CLERK)["ticket"]["number"] == "A001"


def test_pause_resume_close(hall):
    W.open_window(hall, "w1", CLERK)
    W.pause(hall, "w1", CLERK, "午休")
    with pytest.raises(InvalidTransition) as e:
        W.call_next(hall, "w1", CLERK)
    assert e.value.code == "window_paused"
    W.resume(hall, "w1", CLERK)
    W.close_for_day(hall, "w1", CLERK)
    with pytest.raises(InvalidTransition):
        W.call_next(hall, "w1", CLERK)


def test_impossible_transitions_name_the_allowed_actions(hall):
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    with pytest.raises(InvalidTransition, match="no current ticket"):
        W.finish(hall, "w1", CLERK)
    W.call_next(hall, "w1", CLERK)
    with pytest.raises(InvalidTransition) as e:
        W.finish(hall, "w1", CLERK)
    assert "start" in e.value.details["allowed_actions"]


def test_roll_over_closes_yesterdays_tickets_and_restarts_numbering(hall):
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    W.call_next(hall, "w1", CLERK)
    hall.clock.advance(at_local(9, 30, day=27) - hall.now())
    assert roll_over(hall) == "2026-11-27"
    old = T.get_ticket_view(hall, 1)
    assert old["status"] == "closed"
    fresh = T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).ticket
    assert fresh["number"] == "A001" and fresh["service_day"] == "2026-11-27"
    assert WV.windows_overview(hall)[0]["status"] == "closed"
    types = [e["type"] for e in hall.publisher.published]
    assert "day_rolled_over" in types


def test_events_carry_increasing_sequence_numbers(hall):
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    W.call_next(hall, "w1", CLERK)
    seqs = [e["seq"] for e in hall.publisher.published]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    called = [e for e in hall.publisher.published if e["type"] == "ticket_called"][0]
    assert called["payload"]["call_text"] == "请 A001 号到 1 号窗口办理"
    assert {"hall:test", "window:w1", "zone:z1", "ticket:1"} <= set(called["rooms"])


def test_people_ahead_follows_the_policy_order(hall):
    from queue_server.domain.calling import Candidate

    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
    legal = T.issue_ticket(hall, T.IssueRequest(queue_id="a", legal_reason="military"), CLERK).ticket
    green = T.issue_ticket(hall, T.IssueRequest(queue_id="a", green=True), CLERK).ticket
    last = T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).ticket
    assert (green["ahead"], legal["ahead"], last["ahead"]) == (0, 0, 4)
    assert T.get_ticket_view(hall, legal["id"])["ahead"] == 1  # behind the green channel now
    # the same answer as ranking the whole queue with the policy (the path any other policy takes)
    with hall.engine.connect() as conn:
        from queue_server.services.common import candidates

        waiting: list[Candidate] = candidates(conn, hall, "2026-11-26", ["a"])
    ranked = [c.ticket_id for c in hall.policy.rank(waiting, hall.now())]
    for t in (legal, green, last):
        assert T.get_ticket_view(hall, t["id"])["ahead"] == ranked.index(t["id"])


def test_a_write_that_would_queue_too_long_is_refused_as_busy(hall, monkeypatch):
    import threading

    from queue_server.store import db

    monkeypatch.setattr(db, "WRITE_WAIT_LIMIT", 0.2)
    held = threading.Event()
    release = threading.Event()

    def hold_the_hall() -> None:
        with db.write_tx(hall.engine, hall.hall_id):
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_hall)
    holder.start()
    try:
        assert held.wait(5)
        with pytest.raises(db.HallBusy) as e:
            T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK)
        assert status_for(e.value) == 503 and e.value.code == "busy"
    finally:
        release.set()
        holder.join(5)
    assert T.issue_ticket(hall, T.IssueRequest(queue_id="a"), KIOSK).ticket["number"] == "A001"
