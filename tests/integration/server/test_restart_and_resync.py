"""Nothing lost: SIGKILL mid-morning and restart on the same SQLite file; screens that drop and resync."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest_server import Api, Screen, ServerFactory


def _ticket_state(api: Api, ticket_id: int) -> dict[str, Any]:
    t = api.get(f"/tickets/{ticket_id}")["ticket"]
    keep = ("id", "number", "queue_id", "status", "priority", "window_id", "recalls", "service_day", "issued_at",
            "called_at")
    return {k: t[k] for k in keep}


def _windows_state(api: Api) -> dict[str, Any]:
    return {w["window_id"]: (w["status"], (w["current"] or {}).get("id")) for w in api.get("/windows")["windows"]}


def _waiting(api: Api) -> dict[str, int]:
    return {q["queue_id"]: q["waiting"] for q in api.get("/queues")["queues"]}


def _wait_disconnected(screen: Screen, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while screen.sio.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not screen.sio.connected, "the client did not notice the server going away"
    screen.drop()


@pytest.mark.timeout(60)
def test_sigkill_mid_morning_then_restart(servers: ServerFactory, hall_yaml: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "hall.db")
    srv = servers.start(database=db, config=hall_yaml, clock="2026-11-26T09:30")
    api = Api(srv.api)
    screen = Screen(srv.url, "screen").connect()
    screen.subscribe(hall=True)

    tickets = [api.issue("qa", **({"birth_date": "1950-01-01"} if i == 2 else {})) for i in range(8)]
    tickets.append(api.issue("qb"))
    assert [t["number"] for t in tickets] == [f"A{i:03d}" for i in range(1, 9)] + ["B001"]
    api.post("/windows/w01/call-next")
    api.post("/windows/w01/start")  # serving at w01
    api.post("/windows/w02/call-next")  # called at w02
    api.post("/windows/w02/recall")
    api.post("/windows/w03/call-next")
    api.post("/windows/w03/start")
    api.post("/windows/w03/finish")  # done at w03
    api.post("/windows/w04/call-next")
    api.post("/windows/w04/hold", {"reason": "材料不全"})  # held by w04
    api.post("/windows/w05/open")
    api.post("/windows/w05/pause", {"reason": "午休"})

    ids = [t["id"] for t in tickets]
    before = {i: _ticket_state(api, i) for i in ids}
    statuses = sorted(s["status"] for s in before.values())
    assert statuses.count("waiting") == 5 and {"serving", "called", "done", "held"} <= set(statuses), statuses
    windows_before = _windows_state(api)
    waiting_before = _waiting(api)
    held_before = api.get("/windows/w04/held")["tickets"]
    last_seq = api.head_seq()
    screen.wait_for_seq(last_seq)

    srv.kill9()
    _wait_disconnected(screen)

    srv = servers.restart(srv, clock="2026-11-26T09:40")
    api = Api(srv.api)
    assert api.get("/health")["service_day"] == "2026-11-26"
    assert {i: _ticket_state(api, i) for i in ids} == before
    assert _windows_state(api) == windows_before
    assert _waiting(api) == waiting_before
    assert api.get("/windows/w04/held")["tickets"] == held_before
    assert api.head_seq() == last_seq, "the restart itself must not add or lose events"

    # While the screen is away: numbering carries on, a window calls.
    new = [api.issue("qa"), api.issue("qa"), api.issue("qb")]
    assert [t["number"] for t in new] == ["A009", "A010", "B002"]
    called = api.post("/windows/w03/call-next")["ticket"]
    assert called is not None
    head = api.head_seq()
    log = api.get(f"/events?since={last_seq}")

    screen.connect(srv.url)
    reply = screen.subscribe(hall=True, since=last_seq)
    assert "snapshot" not in reply, "a client a few events behind gets the events, not a snapshot"
    assert reply["seq"] == head
    got = [(e["seq"], e["type"]) for e in reply["events"]]
    assert got == [(e["seq"], e["type"]) for e in log["events"]]
    assert [s for s, _t in got] == list(range(last_seq + 1, head + 1))
    issued = [e["payload"]["number"] for e in reply["events"] if e["type"] == "ticket_issued"]
    assert issued == ["A009", "A010", "B002"]
    calls = [e["payload"]["id"] for e in reply["events"] if e["type"] == "ticket_called"]
    assert calls == [called["id"]]

    # and it is live again from there
    api.issue("qa")
    screen.wait_for_seq(head + 1)
    assert min(s for s in screen.seqs() if s > last_seq) == head + 1
    screen.drop()


@pytest.mark.timeout(60)
def test_screen_reconnects_and_gets_missed_calls(servers: ServerFactory, hall_yaml: Path, tmp_path: Path) -> None:
    srv = servers.start(database=str(tmp_path / "hall.db"), config=hall_yaml)
    api = Api(srv.api)
    screen = Screen(srv.url, "screen").connect()
    screen.subscribe(hall=True)
    w02 = Screen(srv.url, "window-top w02").connect()
    w02.subscribe(hall=False, windows=["w02"])
    for _ in range(8):
        api.issue("qa")
    api.post("/windows/w01/call-next")
    api.post("/windows/w01/start")
    last_seq = api.head_seq()
    screen.wait_for_seq(last_seq)
    assert max(screen.seqs()) == last_seq

    screen.drop()
    w02.drop()
    missed_calls: list[tuple[str, str]] = []

    def call(w: str) -> None:
        missed_calls.append((w, api.post(f"/windows/{w}/call-next")["ticket"]["number"]))

    call("w02")
    api.post("/windows/w02/start")
    call("w01")  # finishes the one w01 was serving
    api.post("/windows/w01/start")
    call("w03")
    call("w02")
    assert [n for _w, n in missed_calls] == ["A002", "A003", "A004", "A005"]
    head = api.head_seq()

    screen.connect()
    reply = screen.subscribe(hall=True, since=last_seq)
    assert "snapshot" not in reply and reply["seq"] == head
    assert [e["seq"] for e in reply["events"]] == list(range(last_seq + 1, head + 1))
    calls = [(f"w0{e['payload']['window_number']}", e["payload"]["number"]) for e in reply["events"]
             if e["type"] == "ticket_called"]
    assert calls == missed_calls
    # resync gives the same list
    again = screen.call("resync", {"since": last_seq})
    assert again["ok"] and again["complete"] and not again["reset"]
    assert [e["seq"] for e in again["events"]] == list(range(last_seq + 1, head + 1))

    # a window-top screen gets only its own window's events
    w02.connect()
    mine = w02.subscribe(hall=False, windows=["w02"], since=last_seq)
    assert mine["events"] and all("window:w02" in e["rooms"] for e in mine["events"])
    assert [e["payload"]["number"] for e in mine["events"] if e["type"] == "ticket_called"] == [
        n for w, n in missed_calls if w == "w02"]

    # live again: the next call arrives with the next seq, nothing in between missing
    nxt = api.post("/windows/w03/start")
    assert nxt["ticket"]["status"] == "serving"
    new_head = api.head_seq()
    assert new_head > head
    screen.wait_for_seq(new_head, first=head + 1)
    assert sorted(s for s in screen.seqs() if s > head) == list(range(head + 1, new_head + 1))

    # a seq from another database (beyond the head): a fresh snapshot, not events
    stranger = Screen(srv.url, "stale screen").connect()
    future = stranger.subscribe(hall=True, since=head + 1000)
    assert "snapshot" in future and "events" not in future, sorted(future)
    assert future["seq"] == api.head_seq() == future["snapshot"]["seq"]
    assert {q["queue_id"] for q in future["snapshot"]["queues"]} == {"qa", "qb", "solo"}
    reset = stranger.call("resync", {"since": head + 1000})
    assert reset["ok"] and reset["reset"] and reset["events"] == []
    # a fresh subscription without since also gets a snapshot
    fresh = stranger.subscribe(hall=True)
    assert "snapshot" in fresh and fresh["seq"] == api.head_seq()
    for s in (screen, w02, stranger):
        s.drop()


@pytest.mark.timeout(90)
def test_sigkill_under_load_loses_nothing_acknowledged(servers: ServerFactory, hall_yaml: Path,
                                                       tmp_path: Path) -> None:
    """Kill -9 while kiosks issue and windows call: every acknowledged ticket and call survives, numbering has
    no hole or repeat, and a kiosk retrying its interrupted request with the same Idempotency-Key gets one
    ticket, never two."""
    db = tmp_path / "hall.db"
    srv = servers.start(database=str(db), config=hall_yaml, clock="2026-11-26T10:00")
    acked: list[dict[str, Any]] = []
    acked_calls: list[dict[str, Any]] = []
    in_flight: list[tuple[str, str]] = []  # (idempotency key, queue) of requests cut off by the kill
    lock = threading.Lock()
    stop = threading.Event()

    def kiosk(k: int) -> None:
        api = Api(srv.api, actor=f"kiosk:k{k}")
        i = 0
        while not stop.is_set() and i < 500:
            key, queue_id = f"k{k}-{i}", "qa" if (k + i) % 2 else "qb"
            i += 1
            try:
                status, body = api.request("POST", "/tickets", json={"queue_id": queue_id},
                                           headers={"Idempotency-Key": key}, timeout=5)
            except (requests.RequestException, AssertionError):
                with lock:
                    in_flight.append((key, queue_id))
                return
            assert status == 201, body
            with lock:
                acked.append(body["ticket"])
        api.close()

    window_errors: list[str] = []
    killing = threading.Event()

    def window(w: str) -> None:
        api = Api(srv.api, actor=f"staff:{w}")
        while not stop.is_set():
            try:
                t = api.post(f"/windows/{w}/call-next", timeout=5)["ticket"]
                if t is None:
                    time.sleep(0.02)
                    continue
                with lock:
                    acked_calls.append({"window": w, **t})
                api.post(f"/windows/{w}/start", timeout=5)
                api.post(f"/windows/{w}/finish", timeout=5)
            except (requests.RequestException, AssertionError) as exc:
                if not killing.is_set():
                    window_errors.append(f"{w}: {exc!r}"[:300])
                return
        api.close()

    threads = [threading.Thread(target=kiosk, args=(k,)) for k in range(4)]
    threads += [threading.Thread(target=window, args=(w,)) for w in ("w01", "w02")]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while (len(acked) < 40 or len(acked_calls) < 4) and time.monotonic() < deadline and not window_errors:
        time.sleep(0.05)
    assert not window_errors, window_errors
    killing.set()
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(15)
    assert len(acked) >= 40 and len(acked_calls) >= 4, (len(acked), len(acked_calls), window_errors)

    srv = servers.restart(srv, clock="2026-11-26T10:10")
    api = Api(srv.api, actor="kiosk:retry")
    staff = Api(srv.api)  # reading a ticket by id is a staff view
    for t in acked:
        now = staff.get(f"/tickets/{t['id']}")["ticket"]
        assert (now["number"], now["queue_id"]) == (t["number"], t["queue_id"])
    for c in acked_calls:
        now = staff.get(f"/tickets/{c['id']}")["ticket"]
        assert now["status"] in ("called", "serving", "done") and now["window_id"] == c["window"], (c, now)
    # the kiosks retry what was cut off, with the same keys
    retried = []
    for key, queue_id in in_flight:
        status, body = api.request("POST", "/tickets", json={"queue_id": queue_id}, headers={"Idempotency-Key": key})
        assert status in (200, 201), body
        retried.append(body)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT queue_id, seq, number, id FROM tickets").fetchall()
    numbers = [r[2] for r in rows]
    assert len(numbers) == len(set(numbers)), "a number was given twice"
    for queue_id in ("qa", "qb"):
        seqs = sorted(r[1] for r in rows if r[0] == queue_id)
        assert seqs == list(range(1, len(seqs) + 1)), f"{queue_id}: holes or repeats {seqs}"
    # every ticket is one a kiosk holds: acknowledged, or the answer to its retry (new, or the committed one
    # whose reply the kill cut off)
    retried_ids = [b["ticket"]["id"] for b in retried]
    assert len(set(retried_ids)) == len(retried_ids)
    assert {r[3] for r in rows} == {t["id"] for t in acked} | set(retried_ids)
    assert not {t["id"] for t in acked} & set(retried_ids)
    nxt = api.issue("qa")
    assert int(nxt["number"][1:]) == max(r[1] for r in rows if r[0] == "qa") + 1
