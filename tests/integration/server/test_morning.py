"""A simulated morning on SQLite: kiosks issuing, windows calling and screens listening, all at once."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest_server import SHARED_WINDOWS, Api, Screen, ServerFactory, order_stress

KIOSKS = 4
TICKETS_PER_KIOSK = 15
SCREENS = 3


def _kiosk_fields(k: int, i: int) -> dict[str, Any]:
    fields: dict[str, Any] = {"queue_id": "qa" if (k + i) % 2 else "qb", "source": f"kiosk-{k}"}
    if i % 5 == 3:
        fields["birth_date"] = "1950-03-01"  # elderly
    elif i % 7 == 6:
        fields["legal_reason"] = "military"
    return fields


def _granted_by_staff(fields: dict[str, Any]) -> bool:
    """A kiosk may not grant priority (issue 9): these tickets are the help desk's entries, made by staff."""
    return "birth_date" in fields or "legal_reason" in fields


def _run_threads(targets: list[threading.Thread], timeout: float) -> None:
    for t in targets:
        t.start()
    deadline = time.monotonic() + timeout
    for t in targets:
        t.join(max(deadline - time.monotonic(), 0.1))
    stuck = [t.name for t in targets if t.is_alive()]
    assert not stuck, f"threads still running after {timeout}s: {stuck}"


@pytest.mark.timeout(90)
def test_simulated_morning_sqlite(servers: ServerFactory, hall_yaml: Path, tmp_path: Path) -> None:
    srv = servers.start(database=str(tmp_path / "hall.db"), config=hall_yaml)
    api = Api(srv.api)
    screens = [Screen(srv.url, f"screen{i}").connect() for i in range(SCREENS)]
    starts = [s.subscribe(hall=True)["seq"] for s in screens]

    issued: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    failures: list[str] = []
    lock = threading.Lock()
    kiosks_done = threading.Event()

    def kiosk(k: int) -> None:
        use_socket = k % 2 == 1
        client = Screen(srv.url, f"kiosk{k}", actor=f"kiosk:k{k}").connect() if use_socket else None
        rest = Api(srv.api, actor=f"kiosk:k{k}")
        desk = Api(srv.api)  # the help desk beside the kiosk: staff, who may grant a priority
        try:
            for i in range(TICKETS_PER_KIOSK):
                fields = _kiosk_fields(k, i)
                key = f"k{k}-{i}-{secrets.token_hex(4)}"
                if _granted_by_staff(fields):
                    t = desk.issue(key=key, **fields)
                elif client is not None:
                    reply = client.call("issue_ticket", {**fields, "idempotency_key": key})
                    assert reply.get("ok") and reply["created"], reply
                    t = reply["ticket"]
                else:
                    t = rest.issue(key=key, **fields)
                with lock:
                    issued.append(t)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            with lock:
                failures.append(f"kiosk{k}: {exc!r}")
        finally:
            rest.close()
            desk.close()
            if client is not None:
                client.disconnect()

    def window(w: str, n: int) -> None:
        use_socket = n % 2 == 0
        client = Screen(srv.url, w, actor=f"staff:{w}").connect() if use_socket else None
        rest = Api(srv.api, actor=f"staff:{w}")

        def act(action: str) -> dict[str, Any]:
            if client is not None:
                reply = client.call("window_action", {"window_id": w, "action": action})
                assert reply.get("ok"), (w, action, reply)
                return reply
            return rest.post(f"/windows/{w}/{action}")

        try:
            idle = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                t = act("call-next")["ticket"]
                if t is None:
                    if kiosks_done.is_set():
                        idle += 1
                        if idle >= 3:
                            return
                    time.sleep(0.02)
                    continue
                idle = 0
                with lock:
                    calls.append({"window": w, "id": t["id"], "number": t["number"]})
                assert act("start")["ticket"]["id"] == t["id"]
                assert act("finish")["ticket"]["status"] == "done"
        except Exception as exc:  # noqa: BLE001
            with lock:
                failures.append(f"window {w}: {exc!r}")
        finally:
            rest.close()
            if client is not None:
                client.disconnect()

    kiosk_threads = [threading.Thread(target=kiosk, args=(k,), name=f"kiosk{k}") for k in range(KIOSKS)]
    window_threads = [threading.Thread(target=window, args=(w, n), name=w) for n, w in enumerate(SHARED_WINDOWS)]
    for t in window_threads:
        t.start()
    _run_threads(kiosk_threads, timeout=45)
    kiosks_done.set()
    deadline = time.monotonic() + 60
    for t in window_threads:
        t.join(max(deadline - time.monotonic(), 0.1))
    assert not [t.name for t in window_threads if t.is_alive()], "window threads did not finish"
    assert not failures, failures

    # Numbering: every ticket has its own number, and each queue's numbers are 001..n without holes.
    total = KIOSKS * TICKETS_PER_KIOSK
    assert len(issued) == total
    assert len({t["id"] for t in issued}) == total
    numbers = Counter(t["number"] for t in issued)
    assert not [n for n, c in numbers.items() if c > 1], f"duplicate numbers: {numbers.most_common(5)}"
    for queue_id, prefix in (("qa", "A"), ("qb", "B")):
        got = sorted(t["number"] for t in issued if t["queue_id"] == queue_id)
        assert got == [f"{prefix}{i:03d}" for i in range(1, len(got) + 1)], got

    # Calling: every ticket called exactly once, by exactly one window.
    called = Counter(c["id"] for c in calls)
    assert not [i for i, c in called.items() if c > 1], f"tickets called twice: {called.most_common(5)}"
    assert set(called) == {t["id"] for t in issued}
    for t in issued:
        state = api.get(f"/tickets/{t['id']}")["ticket"]
        assert state["status"] == "done", state
    assert all(q["waiting"] == 0 for q in api.get("/queues")["queues"])

    # The stored event log of the hall room has no gap either.
    head = api.head_seq()
    log = api.get(f"/events?since={starts[0]}")
    assert log["complete"]
    stored = [e["seq"] for e in log["events"]]
    # A background write (the coalesced queue figures, once a second) may land between the two reads: the log
    # may run past the head read first, never stop short of it.
    assert stored == list(range(starts[0] + 1, stored[-1] + 1)) and stored[-1] >= head
    head = stored[-1]
    assert Counter(e["payload"]["id"] for e in log["events"] if e["type"] == "ticket_called") == Counter(
        {t["id"]: 1 for t in issued})

    # Screens: every event of the hall room exactly once; every call exactly once.
    for screen, start in zip(screens, starts, strict=True):
        screen.wait_for_seq(head, first=start + 1)
        seqs = [s for s in screen.seqs() if start < s <= head]  # a later background write may follow
        assert sorted(seqs) == list(range(start + 1, head + 1)), f"{screen.name}: gaps or duplicates"
        ids = Counter(d["id"] for d in screen.of_type("ticket_called"))
        assert ids == Counter({t["id"]: 1 for t in issued}), f"{screen.name}: calls seen {ids.most_common(3)}"
    for s in screens:
        s.disconnect()
    api.close()


ORDER_SCREENS = 6
ORDER_SECONDS = 8


@pytest.mark.timeout(90)
def test_screens_receive_events_in_seq_order(servers: ServerFactory, hall_yaml: Path, tmp_path: Path) -> None:
    """Under concurrent writers, every screen receives the hall room's events in seq order (no reordering
    between commit and delivery), so a screen never shows an older call or count after a newer one."""
    srv = servers.start(database=str(tmp_path / "hall.db"), config=hall_yaml)
    screens = [Screen(srv.url, f"screen{i}").connect() for i in range(ORDER_SCREENS)]
    starts = [s.subscribe(hall=True)["seq"] for s in screens]
    problems = order_stress([srv], screens, starts, ORDER_SECONDS)
    for s in screens:
        s.disconnect()
    assert not problems, "\n".join(problems)


# The default policy (queue_server/domain/calling.py) with this hall's priority_per_normal = 2 and
# priority_order = legal, elderly, appointment: green first; then up to two priority tickets in a row (best
# class first, FIFO inside it) before one normal ticket if a normal one waits; FIFO inside a class.
POLICY_TICKETS = [
    ("N1", {}),
    ("N2", {}),
    ("E1", {"birth_date": "1950-05-05"}),
    ("L1", {"legal_reason": "disabled"}),
    ("N3", {}),
    ("P1", {"appointment_code": "APT-1"}),
    ("G1", {"green": True}),
    ("E2", {"birth_date": "1940-01-01"}),
    ("N4", {}),
    ("L2", {"legal_reason": "military"}),
]
POLICY_ORDER = ["G1", "L1", "L2", "N1", "E1", "E2", "N2", "P1", "N3", "N4"]


@pytest.mark.timeout(60)
def test_single_window_calls_in_documented_policy_order(servers: ServerFactory, hall_yaml: Path,
                                                        tmp_path: Path) -> None:
    srv = servers.start(database=str(tmp_path / "hall.db"), config=hall_yaml)
    api = Api(srv.api)
    screen = Screen(srv.url).connect()
    start = screen.subscribe(hall=True)["seq"]
    label_of: dict[int, str] = {}
    for label, fields in POLICY_TICKETS:
        t = api.issue("solo", **fields)
        label_of[t["id"]] = label
    expected_class = {"N": "normal", "E": "elderly", "L": "legal", "P": "appointment", "G": "green"}
    for t_id, label in label_of.items():
        assert api.get(f"/tickets/{t_id}")["ticket"]["priority"] == expected_class[label[0]], label
    order = []
    for _ in range(len(POLICY_TICKETS) + 1):
        t = api.post("/windows/w09/call-next")["ticket"]
        if t is None:
            break
        order.append(label_of[t["id"]])
        api.post("/windows/w09/start")
    assert order == POLICY_ORDER
    head = api.head_seq()
    screen.wait_for_seq(head, first=start + 1)
    shown = [label_of[d["id"]] for d in screen.of_type("ticket_called") if d["seq"] > start]
    assert shown == POLICY_ORDER
    screen.disconnect()
    api.close()
