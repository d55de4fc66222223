"""The Redis message queue of the scaled mode goes away in mid-morning and comes back: the hall keeps issuing and
calling (the database is the record, Redis only carries events between processes), nothing acknowledged is lost,
and a screen on another process gets the events again once Redis is back, with the gap it missed recoverable."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from queue_server.message_queue import PUBLISH_TIMEOUT
from tests.conftest_server import Api, DelayProxy, Screen, ServerFactory, free_port, write_hall

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
T = TypeVar("T")


class PrivateRedis:
    """A redis-server of the test's own (the machine's shared one must not be stopped), on a fixed port."""

    def __init__(self, directory: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed; the scaled-mode tests need it (apt-get install redis-server)")
        self.exe, self.directory, self.port = exe, directory, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.directory)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    r = PrivateRedis(tmp_path)
    r.start()
    yield r
    r.stop()


def _start_pair(servers: ServerFactory, database: str, tmp_path: Path, queue_url: str) -> tuple[Any, Any]:
    config = write_hall(tmp_path, hall_id=f"rr-{secrets.token_hex(4)}")  # rooms of its own on any Redis
    env = {"ONEWINDOW_PERSON_SECRET": "integration-test-secret", "ONEWINDOW_SECRET_KEY": "integration-key"}
    return tuple(servers.start(database=database, config=config, clock=None, always_open=True,
                               message_queue=queue_url, env=env, name=f"rr-{n}") for n in "ab")  # type: ignore[return-value]


def _queue_status(api: Api) -> str:
    return api.get("/health")["message_queue"]["status"]


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.monotonic()
    return fn(), time.monotonic() - t0


def _caught_up(screen: Screen, public: Api, since: int, issued_meanwhile: list[dict[str, Any]]) -> None:
    """What a hall screen does after missing events: it follows the ``prev`` chain of what it received from
    ``since`` and sees where the chain breaks; what it lacks from there is in the log, the tickets issued while Redis
    was away among it."""
    received = {d["seq"]: d["prev"] for _e, d in screen.events if isinstance(d, dict) and "prev" in d}
    by_prev = {prev: seq for seq, prev in received.items()}
    have = since
    while have in by_prev:
        have = by_prev[have]
    assert have < max(received), "no gap in the prev chain: the screen could not know it missed events"
    lacking = [e for e in public.get(f"/events?since={have}")["events"] if e["seq"] not in received]
    assert {e["payload"]["id"] for e in lacking if e["type"] == "ticket_issued"} >= \
        {t["id"] for t in issued_meanwhile}, "the outage's tickets are not what the screen lacks"


@pytest.mark.timeout(150)
def test_redis_stopped_and_started_in_mid_morning(servers: ServerFactory, pg_database: str,
                                                  redis_server: PrivateRedis, tmp_path: Path) -> None:
    a, b = _start_pair(servers, pg_database, tmp_path, redis_server.url)
    kiosk_b, staff_b = Api(b.api, actor="kiosk:rr"), Api(b.api)
    screen_a, screen_b = Screen(a.url, "screen@a").connect(), Screen(b.url, "screen@b").connect()
    try:
        start = screen_a.subscribe(hall=True)["seq"]
        screen_b.subscribe(hall=True)
        first = kiosk_b.issue("qa")
        screen_a.wait_for_seq(staff_b.head_seq(), first=start + 1)  # across processes through Redis

        redis_server.stop()
        during = [kiosk_b.issue("qa") for _ in range(3)]
        called = staff_b.post("/windows/w01/call-next")["ticket"]
        assert called["id"] == first["id"]
        assert _queue_status(staff_b) == "unavailable"
        # this process's own screens miss nothing while Redis is away
        screen_b.wait_for_seq(staff_b.head_seq(), first=start + 1)

        redis_server.start()
        deadline = time.monotonic() + 20
        while True:  # the first publish after the retry pause finds Redis again; A's listener reconnects
            after = kiosk_b.issue("qa")
            if _queue_status(staff_b) == "ok" and after["number"] in {t["number"] for t in
                                                                       screen_a.of_type("ticket_issued")}:
                break
            assert time.monotonic() < deadline, "events never reached the other process after Redis came back"
            time.sleep(0.5)
        _caught_up(screen_a, Api(b.api, actor="citizen:screen"), start, during)
        # every acknowledged ticket is in the record, once
        acknowledged = [first, *during, after]
        assert [staff_b.get(f"/tickets/{t['id']}")["ticket"]["number"] for t in acknowledged] == \
            [t["number"] for t in acknowledged]
        assert len({t["number"] for t in acknowledged}) == len(acknowledged)
    finally:
        screen_a.drop()
        screen_b.drop()


@pytest.mark.timeout(150)
def test_a_hung_redis_does_not_stall_the_hall(servers: ServerFactory, pg_database: str, redis_server: PrivateRedis,
                                              tmp_path: Path) -> None:
    """Redis accepts the connection but never answers (a hung server, a half-dead link): writes carry on."""
    proxy = DelayProxy(("127.0.0.1", redis_server.port), delay=0)
    try:
        _a, b = _start_pair(servers, pg_database, tmp_path, f"redis://127.0.0.1:{proxy.port}/0")
        kiosk = Api(b.api, actor="kiosk:rr")
        kiosk.issue("qa")
        proxy.frozen.set()
        results = [_timed(lambda: kiosk.issue("qa")) for _ in range(5)]
        # Before the bounded publish, the first of these held the hall's write lock for 10 s and other writers
        # got 503 hall_busy meanwhile. Now one publish waits at most PUBLISH_TIMEOUT and the next ones skip it.
        waits = [took for _t, took in results]
        assert max(waits) < PUBLISH_TIMEOUT + 2.5, waits  # once at most the publish timeout, not the 10 s+ stall
        assert sorted(waits)[-2] < 1.5, waits  # and the others do not wait for Redis at all
        assert len({t["id"] for t, _took in results}) == 5
        assert _queue_status(kiosk) == "unavailable"
        proxy.frozen.clear()
        deadline = time.monotonic() + 15
        while _queue_status(kiosk) != "ok":
            assert time.monotonic() < deadline, "publishing never resumed after Redis answered again"
            kiosk.issue("qa")
            time.sleep(0.3)
        assert "message queue unavailable" in b.log_text() and "message queue available again" in b.log_text()
    finally:
        proxy.close()
