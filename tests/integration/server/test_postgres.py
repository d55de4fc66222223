"""Atomic numbering and calling on PostgreSQL with three server processes behind one Redis message queue,
hammered by threads and by separate processes.

The three processes (and their fresh database, ``ow_test_<random>``) are shared by the tests of this module;
every assertion is about the tickets a test issued itself, so the tests do not depend on their order.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest_server import (
    REDIS_URL,
    Api,
    DelayProxy,
    Screen,
    ServerFactory,
    ServerProcess,
    assert_contiguous,
    fresh_pg_database,
    hammer_worker,
    require_redis,
    write_hall,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

THREAD_KIOSKS = 3
THREAD_TICKETS = 8
PROCESSES = 2
PROCESS_TICKETS = 8
CONTESTED = 4


@dataclass
class Cluster:
    hall_id: str
    database: str
    procs: list[ServerProcess]
    factory: ServerFactory
    config: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_redis()
    tmp = tmp_path_factory.mktemp("pg")
    with fresh_pg_database() as database:
        factory = ServerFactory(tmp)
        try:
            # A hall id of its own, so rooms on the shared Redis channel never mix with another run's.
            hall_id = f"pg-{secrets.token_hex(4)}"
            config = write_hall(tmp, hall_id=hall_id)
            env = {"ONEWINDOW_PERSON_SECRET": "integration-test-secret", "ONEWINDOW_SECRET_KEY": "integration-key"}

            def start(i: int) -> ServerProcess:
                return factory.start(database=database, config=config, clock=None, always_open=True,
                                     message_queue=REDIS_URL, env=env, name=f"pg{i}")

            first = start(1)  # alone: it runs the Alembic migration
            others: list[ServerProcess | BaseException] = [RuntimeError("not started")] * 2

            def start_other(i: int) -> None:
                try:
                    others[i - 2] = start(i)
                except BaseException as exc:  # noqa: BLE001 - re-raised below
                    others[i - 2] = exc

            threads = [threading.Thread(target=start_other, args=(i,)) for i in (2, 3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            for o in others:
                if isinstance(o, BaseException):
                    raise o
            yield Cluster(hall_id, database, [first, *others], factory, config, env)  # type: ignore[list-item]
        finally:
            factory.stop_all()


@pytest.fixture
def pg(cluster: Cluster, request: pytest.FixtureRequest) -> Cluster:
    request.node._ow_servers = cluster.factory  # attach the servers' logs to a failed test's report
    return cluster


def _db(database: str) -> psycopg.Connection:
    return psycopg.connect(database, autocommit=True)


@pytest.mark.timeout(120)
def test_postgres_three_processes_atomic(pg: Cluster) -> None:
    procs = pg.procs
    apis = [Api(p.api) for p in procs]
    screen = Screen(procs[0].url, "screen@pg1").connect()
    start_seq = screen.subscribe(hall=True)["seq"]

    issued: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    failures: list[str] = []
    lock = threading.Lock()
    kiosks_done = threading.Event()

    def kiosk(k: int) -> None:
        api = Api(procs[k % len(procs)].api, actor=f"kiosk:t{k}")
        try:
            for i in range(THREAD_TICKETS):
                t = api.issue("qa" if (i + k) % 2 else "qb", key=f"t{k}-{i}-{secrets.token_hex(4)}")
                with lock:
                    issued.append({**t, "via": api.base})
        except Exception as exc:  # noqa: BLE001
            failures.append(f"kiosk {k}: {exc!r}")
        finally:
            api.close()

    def window(w: str, n: int) -> None:
        # each action goes through the next process in turn: call on one, start on another, finish on a third
        clients = [Api(p.api, actor=f"staff:{w}") for p in procs]
        step = n
        try:
            idle = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                api = clients[step % len(clients)]
                step += 1
                t = api.post(f"/windows/{w}/call-next")["ticket"]
                if t is None:
                    if kiosks_done.is_set():
                        idle += 1
                        if idle >= 3:
                            return
                    time.sleep(0.03)
                    continue
                idle = 0
                with lock:
                    calls.append({"window": w, "id": t["id"], "number": t["number"], "via": api.base})
                clients[step % len(clients)].post(f"/windows/{w}/start")
                clients[(step + 1) % len(clients)].post(f"/windows/{w}/finish")
        except Exception as exc:  # noqa: BLE001
            failures.append(f"window {w}: {exc!r}")
        finally:
            for c in clients:
                c.close()

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = [
        ctx.Process(target=hammer_worker, args=([p.api for p in procs], i, PROCESS_TICKETS, [w], 40.0, out),
                    name=f"hammer{i}")
        for i, w in enumerate(["w05", "w06"][:PROCESSES])
    ]
    for p in workers:
        p.start()
    kiosk_threads = [threading.Thread(target=kiosk, args=(k,)) for k in range(THREAD_KIOSKS)]
    window_threads = [threading.Thread(target=window, args=(w, n)) for n, w in enumerate(["w01", "w02", "w03",
                                                                                        "w04"])]
    for t in kiosk_threads + window_threads:
        t.start()
    results = []
    try:
        for _ in workers:
            results.append(out.get(timeout=60))
    except queue.Empty:
        pytest.fail("a hammer process did not report within 60 s")
    finally:
        for p in workers:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join(5)
    for t in kiosk_threads:
        t.join(60)
    kiosks_done.set()
    for t in window_threads:
        t.join(60)
    assert not [t for t in kiosk_threads + window_threads if t.is_alive()], "threads still running"
    assert not failures, failures
    for r in results:
        assert not r["errors"], r["errors"]
        issued += r["issued"]
        calls += r["calls"]

    # Whatever the processes left waiting (they stop when idle) is called now, through process 3.
    while (t := apis[2].post("/windows/w04/call-next")["ticket"]) is not None:
        calls.append({"window": "w04", "id": t["id"], "number": t["number"], "via": apis[2].base})
        apis[2].post("/windows/w04/start")
    apis[2].post("/windows/w04/finish", expect=(200, 409))

    total = THREAD_KIOSKS * THREAD_TICKETS + PROCESS_TICKETS * PROCESSES
    mine = {t["id"] for t in issued}
    assert len(issued) == total == len(mine)
    numbers = Counter(t["number"] for t in issued)
    assert not [n for n, c in numbers.items() if c > 1], f"duplicate numbers: {numbers.most_common(5)}"
    called = Counter(c["id"] for c in calls)
    assert not [i for i, c in called.items() if c > 1], f"called twice: {called.most_common(5)}"
    assert mine <= set(called), f"never called: {sorted(mine - set(called))}"

    # The database agrees: one number per ticket, numbers without holes, one call per ticket, all done.
    with _db(pg.database) as db:
        assert db.execute("SELECT number, count(*) FROM tickets WHERE hall_id = %s GROUP BY service_day, number "
                          "HAVING count(*) > 1", (pg.hall_id,)).fetchall() == []
        for queue_id, prefix in (("qa", "A"), ("qb", "B")):
            nums = sorted(r[0] for r in db.execute("SELECT seq FROM tickets WHERE hall_id = %s AND queue_id = %s",
                                                   (pg.hall_id, queue_id)))
            assert nums == list(range(1, len(nums) + 1)), f"{prefix}: holes or repeats in {nums}"
        assert db.execute("SELECT ticket_id, count(*) FROM ticket_transitions WHERE action = 'call' "
                          "GROUP BY ticket_id HAVING count(*) > 1").fetchall() == []
        statuses = Counter(r[0] for r in db.execute("SELECT status FROM tickets WHERE id = ANY(%s)",
                                                    (sorted(mine),)))
        assert statuses == {"done": total}, statuses
        # The per-line waiting counts, kept by triggers through three processes' concurrent writes, agree.
        assert db.execute(
            "SELECT * FROM queue_waiting w FULL JOIN (SELECT hall_id, service_day, queue_id, priority, count(*) AS n "
            "FROM tickets WHERE status = 'waiting' GROUP BY 1, 2, 3, 4) c USING (hall_id, service_day, queue_id, "
            "priority) WHERE coalesce(w.waiting, 0) <> coalesce(c.n, 0)").fetchall() == []
        assert db.execute("SELECT count(*) FROM queue_waiting WHERE hall_id = %s", (pg.hall_id,)).fetchone()[0] > 0
        seqs = [r[0] for r in db.execute("SELECT seq FROM events WHERE hall_id = %s ORDER BY seq", (pg.hall_id,))]
        assert seqs == list(range(1, len(seqs) + 1))

    # The screen on process 1 saw every call, including those made through processes 2 and 3.
    head = apis[0].head_seq()
    screen.wait_for_seq(head, timeout=20, first=start_seq + 1)
    seen = Counter(d["id"] for d in screen.of_type("ticket_called") if d["seq"] > start_seq)
    assert all(seen[i] == 1 for i in mine), {i: seen[i] for i in mine if seen[i] != 1}
    via_others = {c["id"] for c in calls if c["via"] != procs[0].api}
    assert via_others and via_others <= set(seen)
    received = [s for s in screen.seqs() if start_seq < s <= head]  # a background write may follow the head read
    assert sorted(received) == list(range(start_seq + 1, head + 1)), "the screen missed or doubled events"
    screen.disconnect()
    for a in apis:
        a.close()


@pytest.mark.timeout(60)
def test_postgres_two_windows_race_for_one_ticket(pg: Cluster) -> None:
    """Two windows on two processes call the same chosen ticket at the same instant: exactly one wins."""
    a, b = Api(pg.procs[0].api, actor="staff:w01"), Api(pg.procs[1].api, actor="staff:w02")
    for api, w in ((a, "w01"), (b, "w02")):  # no current ticket at either window
        api.post(f"/windows/{w}/finish", expect=(200, 409))
    for _ in range(CONTESTED):
        t = a.issue("solo")
        barrier = threading.Barrier(2)
        replies: dict[str, tuple[int, Any]] = {}

        def race(api: Api, w: str, ticket_id: int = t["id"], barrier: threading.Barrier = barrier,
                 replies: dict[str, tuple[int, Any]] = replies) -> None:
            barrier.wait(5)
            replies[f"{w}@{api.base}"] = api.request("POST", f"/windows/{w}/call", json={"ticket_id": ticket_id})

        # w09 is the only window serving "solo": the same window, driven through two processes at once
        threads = [threading.Thread(target=race, args=(a, "w09")), threading.Thread(target=race, args=(b, "w09"))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(20)
        statuses = sorted(status for status, _body in replies.values())
        assert statuses == [200, 409], replies
        with _db(pg.database) as db:
            n_calls = db.execute("SELECT count(*) FROM ticket_transitions WHERE ticket_id = %s AND action = 'call'",
                                 (t["id"],)).fetchone()[0]
        assert n_calls == 1, f"ticket {t['number']} was called {n_calls} times"
        a.post("/windows/w09/start")
        a.post("/windows/w09/finish")

    # two different windows, two processes, one ticket
    for _ in range(CONTESTED):
        t = a.issue("qa")
        barrier = threading.Barrier(2)
        got: dict[str, tuple[int, Any]] = {}

        def race2(api: Api, w: str, ticket_id: int = t["id"], barrier: threading.Barrier = barrier,
                  got: dict[str, tuple[int, Any]] = got) -> None:
            barrier.wait(5)
            got[w] = api.request("POST", f"/windows/{w}/call", json={"ticket_id": ticket_id})

        threads = [threading.Thread(target=race2, args=(a, "w01")), threading.Thread(target=race2, args=(b, "w02"))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(20)
        winners = [w for w, (status, _body) in got.items() if status == 200]
        assert len(winners) == 1, got
        loser = "w02" if winners[0] == "w01" else "w01"
        status, body = got[loser]
        assert status == 409 and body["error"]["code"] and body["error"]["message"], got[loser]
        api = a if winners[0] == "w01" else b
        api.post(f"/windows/{winners[0]}/start")
        api.post(f"/windows/{winners[0]}/finish")
    a.close()
    b.close()


def _id_number(first17: str) -> str:
    """A resident ID number with its GB 11643 check character (test data, not a real person)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


@pytest.mark.timeout(60)
def test_postgres_same_person_at_three_kiosks_gets_one_ticket(pg: Cluster) -> None:
    """One person's ID number given at three desks on three processes at the same instant: one ticket, the same
    for all. (A whole ID number is taken from staff; kiosks pass card reads of their own reader, which end in
    the same one-ticket-per-person check.)"""
    for n in range(3):
        id_number = _id_number(f"6230011985{n + 1:02d}01234")
        barrier = threading.Barrier(len(pg.procs))
        replies: list[tuple[int, Any]] = []

        def kiosk(p: ServerProcess, id_number: str = id_number, barrier: threading.Barrier = barrier,
                  replies: list[tuple[int, Any]] = replies) -> None:
            api = Api(p.api)  # a member of staff at a help desk
            api._login()
            barrier.wait(5)
            replies.append(api.request("POST", "/tickets", json={"queue_id": "qb", "id_number": id_number},
                                       headers={"Idempotency-Key": secrets.token_hex(8)}))
            api.close()

        threads = [threading.Thread(target=kiosk, args=(p,)) for p in pg.procs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert sorted(status for status, _b in replies) == [200, 200, 201], replies
        assert len({b["ticket"]["id"] for _s, b in replies}) == 1, replies
        assert sorted(str(b["reason"]) for _s, b in replies) == ["None", "already_has_ticket", "already_has_ticket"]
        assert all(id_number not in json.dumps(b) for _s, b in replies), "the ID number must never come back"


@pytest.mark.timeout(90)
def test_postgres_events_in_seq_order_when_one_process_publishes_late(pg: Cluster) -> None:
    """Deterministic form of the race below: one process reaches Redis over a slow link (0.5 s). It commits
    seq N first; another process commits N+1 and publishes at once. A screen must still get N before N+1."""
    proxy = DelayProxy(("127.0.0.1", 6379), delay=0.5)
    slow = None
    screen = Screen(pg.procs[0].url, "screen@pg1")
    try:
        slow = pg.factory.start(database=pg.database, config=pg.config, clock=None, always_open=True,
                                message_queue=f"redis://127.0.0.1:{proxy.port}/0", env=pg.env, name="pg-slow")
        slow_api, fast_api = Api(slow.api, actor="kiosk:slow"), Api(pg.procs[0].api, actor="kiosk:fast")
        start = screen.connect().subscribe(hall=True)["seq"]
        for _attempt in range(5):
            holder: dict[str, Any] = {}
            th = threading.Thread(target=lambda h=holder: h.update(t=slow_api.issue("qa")))
            th.start()
            time.sleep(0.15)  # the slow process has committed; its events are on their way to Redis
            fast = fast_api.issue("qb")
            th.join(15)
            log = fast_api.get(f"/events?since={start}")["events"]
            seq_of = {e["payload"]["id"]: e["seq"] for e in log if e["type"] == "ticket_issued"}
            if seq_of[holder["t"]["id"]] < seq_of[fast["id"]]:
                break
        else:
            pytest.fail("the slow process never committed first; cannot set up the scenario")
        head = fast_api.head_seq()
        screen.wait_for_seq(head, first=start + 1)
        assert_contiguous([s for s in screen.seqs() if start < s <= head], start + 1, head, screen.name)
    finally:
        screen.drop()
        if slow is not None:
            slow.stop()
        proxy.close()


@pytest.mark.timeout(90)
def test_postgres_processes_start_together_on_a_fresh_database(servers: ServerFactory, pg_database: str,
                                                               tmp_path: Path) -> None:
    """A supervisor starts all the hall's server processes at the same moment; every one must come up.

    To make "the same moment" exact, the test holds an uncommitted ``CREATE TABLE alembic_version`` in the fresh
    database: every process's migration queues behind it, then the test rolls back and releases them at once."""
    require_redis()
    config = write_hall(tmp_path, hall_id=f"pg-{secrets.token_hex(4)}")
    env = {"ONEWINDOW_PERSON_SECRET": "integration-test-secret", "ONEWINDOW_SECRET_KEY": "integration-key"}
    outcome: dict[int, str] = {}

    def start(i: int) -> None:
        try:
            servers.start(database=pg_database, config=config, clock=None, always_open=True,
                          message_queue=REDIS_URL, env=env, name=f"together{i}", timeout=60)
            outcome[i] = "up"
        except RuntimeError as exc:
            last = [line for line in str(exc).splitlines() if "Error" in line]
            outcome[i] = last[-1] if last else str(exc)[-300:]

    threads = [threading.Thread(target=start, args=(i,)) for i in range(3)]
    with psycopg.connect(pg_database) as gate:
        gate.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        with _db(pg_database) as watch:
            while time.monotonic() < deadline:
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> %s", (gate.info.backend_pid,)).fetchone()[0]
                if waiting >= len(threads) or len(outcome) == len(threads):
                    break
                time.sleep(0.05)
        gate.rollback()
    for t in threads:
        t.join(70)
    assert outcome == {0: "up", 1: "up", 2: "up"}, outcome
