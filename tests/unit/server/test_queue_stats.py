"""Queue figures (screens' waiting counts, the last number called, the estimate's window capacity): the statements
are built once per set of queues, so they must stay right for whichever set is asked, in whatever order."""

from __future__ import annotations

from queue_server.services import tickets as T
from queue_server.services import windows as W
from queue_server.services.common import queue_stats
from queue_server.services.context import Actor
from queue_server.store.db import read_tx

CLERK = Actor("staff", "li")
KIOSK = Actor("kiosk", "k1")


def _stats(hall, ids=None):  # type: ignore[no-untyped-def]
    with read_tx(hall.engine) as conn:
        return {s["queue_id"]: s for s in queue_stats(conn, hall, hall.today().isoformat(), ids)}


def test_counts_last_called_and_capacity_per_queue(hall) -> None:  # type: ignore[no-untyped-def]
    W.open_window(hall, "w1", CLERK)  # serves a and b, weight 1 each
    W.open_window(hall, "w2", CLERK)  # serves a only
    for q in "aaabbc":
        T.issue_ticket(hall, T.IssueRequest(queue_id=q), KIOSK)
    W.call_next(hall, "w2", CLERK)  # A001

    every = _stats(hall)
    assert [every[q]["waiting"] for q in "abc"] == [2, 2, 1]
    assert [every[q]["last_called"] for q in "abc"] == ["A001", None, None]
    # a: all of w2 and half of w1 (b waits too); b: half of w1; c: no window open for it
    assert [every[q]["open_capacity"] for q in "abc"] == [1.5, 0.5, 0.0]
    assert every["c"]["estimated_wait_min"] is None

    # Asked for b alone, in another order and with a repeat: a (sharing w1) is probed for anyone waiting.
    only_b = _stats(hall, ["b", "b"])
    assert list(only_b) == ["b"] and only_b["b"]["waiting"] == 2 and only_b["b"]["open_capacity"] == 0.5
    assert list(_stats(hall, ["c", "a"])) == ["c", "a"]

    # Nobody left waiting in a: b has the whole of w1.
    W.start(hall, "w2", CLERK)
    for _ in range(2):
        W.call_next(hall, "w2", CLERK)
        W.start(hall, "w2", CLERK)
    after = _stats(hall, ["b"])
    assert after["b"]["open_capacity"] == 1.0
    assert _stats(hall, ["a"])["a"] | {"estimated_wait_min": None} == {
        "queue_id": "a", "name": "综合", "zone_id": "z1", "waiting": 0, "estimated_wait_min": None,
        "open_capacity": 1.5, "last_called": "A003"}
