"""The fan-out floor of a dedicated broker: NATS (Debian's ``nats-server``, Go, every core) delivering one frame
per call to N WebSocket screens, measured by the same screen workers as the live stream (arrival = the kernel's
receive timestamp) and alternated with it in the same run.

The issue names a broker in front of read-only screens as one design for 5,000 phone trackers; this floor says
what such a broker reaches on this machine with nothing else to do (no call-next, no database, one frame per
call where OneWindow's screens get the call's 2–3 committed writes). Skipped, with the reason, where
``nats-server`` is not installed.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.bench.ops import HOST, free_port, pct

SUBJECT = "onewindow.bench.live"
SUBSCRIBE = (b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n'
             b"SUB " + SUBJECT.encode() + b" 1\r\n")
FRAME_BYTES = 1800  # the live stream's frame of a call (every event of its commit) is ~1.8 kB; the live run prints it


def nats_server() -> str | None:
    return shutil.which("nats-server") or next((p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server")
                                                if Path(p).exists()), None)


@contextlib.contextmanager
def running_broker(workdir: Path) -> Iterator[tuple[int, int]]:
    """A private nats-server (client port, WebSocket port) on 127.0.0.1; stopped afterwards."""
    binary = nats_server()
    assert binary is not None
    client_port, ws_port = free_port(), free_port()
    conf = workdir / f"nats-{ws_port}.conf"
    # ping_interval: longer than a run, so the screens need not answer PINGs
    conf.write_text(f'listen: "{HOST}:{client_port}"\nmax_connections: 20000\nping_interval: "10m"\n'
                    f'websocket {{\n  listen: "{HOST}:{ws_port}"\n  no_tls: true\n  compression: false\n}}\n')
    log = open(workdir / f"nats-{ws_port}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection((HOST, ws_port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server did not start; see {log.name}") from None
                time.sleep(0.05)
        yield client_port, ws_port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def measure(workdir: Path, clients: int, calls: int, processes: int) -> dict[str, Any]:
    """N screens subscribed over WebSocket; ``calls`` frames published, one per call, at the live run's pace."""
    from tests.bench.fanout import start_workers  # fanout runs this floor beside its own paths

    with running_broker(workdir) as (client_port, ws_port):
        pipes, workers = start_workers([ws_port], clients, processes, 0, "broker")
        connected = sum(a.recv()["connected"] for a in pipes if a.poll(600))
        time.sleep(0.5)  # the last SUBs reach the server before the first PUB
        pub = socket.create_connection((HOST, client_port), timeout=10)
        pub.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pub.recv(4096)  # INFO
        pub.sendall(b'CONNECT {"verbose":false}\r\n')
        sent: dict[int, float] = {}
        for call in range(1, calls + 1):
            frame = b'{"seq":%d,"type":"ticket_called","payload":{"id":%d,"pad":"' % (call, call)
            frame += b"x" * max(0, FRAME_BYTES - len(frame) - 3) + b'"}}'
            sent[call] = time.time()
            pub.sendall(b"PUB %s %d\r\n%s\r\n" % (SUBJECT.encode(), len(frame), frame))
            time.sleep(0.25 if clients < 2000 else 0.6)
        pub.close()
        for a in pipes:
            a.send("stop")
        read: list[float] = []
        arrival: list[float] = []
        for a in pipes:
            msg = a.recv() if a.poll(120) else {"seen": {}, "arrived": {}}
            read += [(t - sent[k]) * 1000 for k, ts in msg["seen"].items() if k in sent for t in ts]
            arrival += [(t - sent[k]) * 1000 for k, ts in msg["arrived"].items() if k in sent for t in ts]
        for p in workers:
            p.join(30)
    return {"path": "broker", "clients": clients, "connected": connected, "calls": calls,
            "delivered": len(arrival), "missing": connected * calls - len(arrival),
            "p50_ms": pct(read, 50), "p99_ms": pct(read, 99), "max_ms": max(read, default=None),
            "arrival_p50_ms": pct(arrival, 50), "arrival_p99_ms": pct(arrival, 99),
            "arrival_max_ms": max(arrival, default=None), "frame_bytes": FRAME_BYTES}
