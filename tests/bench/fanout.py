"""Call → screen fan-out: with N clients following the hall, the time from sending call-next (HTTP) to each
client having the matching ``ticket_called``; p50/p99 over all clients and calls, server RSS and CPU.

    .venv/bin/python -m tests.bench.fanout [--clients 100,300,1000] [--calls 20] [--processes 2]
                                           [--paths live,socketio,broker] [--servers 1] [--json out.json]

Two paths, each on a fresh server per size, alternated in the same run: ``live`` is what the hall screen and the
phone tracker use (the public live stream ``GET /live``: one frame per committed write, encoded once), ``socketio``
the Socket.IO hall room (staff pages, device agents, and the screens before the live stream).

The clients are minimal Socket.IO-over-WebSocket clients on asyncio (engine.io v4 text frames, ping answered),
spread over ``--processes`` worker processes: a python-socketio Client costs two threads and ~140 µs per message,
which at 1,000+ clients would measure the generator rather than the server. Receive times and send times are wall
clock on the same machine. Live screens report two latencies per frame: *read*, when the screen's process read it,
and *arrival*, the kernel's receive timestamp on the screen's socket (``SO_TIMESTAMPNS``) — in a hall every phone
has its own CPU, while here thousands of screens share the server's two cores and read their sockets in turn, so
the read time includes that queue of the generator's own and arrival does not (neither excludes the CPU it takes
from the server). With ``--servers 2`` the clients are dealt over two server processes on the Redis
message queue (PostgreSQL database), the scaled mode; a sticky load balancer would do the dealing in a hall.
127.0.0.1 only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing as mp
import os
import re
import secrets
import selectors
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import requests

from tests.bench import broker_floor
from tests.bench.ops import HOST, Seed, add_supervisor, onewindow, pct, pg_database

CALLED = re.compile(rb'^42\["ticket_called", ?\{"id": ?(\d+)')
LIVE_CALLED = re.compile(rb'"type":"ticket_called","payload":\{"id":(\d+)')


# ------------------------------------------------------------------------------------------------ clients

class WsClient:
    def __init__(self, port: int, path: str = "socketio") -> None:
        self.port = port
        self.live = path == "live"
        self.frames = 0  # WebSocket frames received while listening (what each client cost the server)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        target = "/live" if self.live else "/socket.io/?EIO=4&transport=websocket"
        self.writer.write((f"GET {target} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"no websocket upgrade: {head[:200]!r}")

    async def recv(self) -> bytes:
        assert self.reader is not None
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        data = await self.reader.readexactly(n)
        if b0 & 0x0F == 0x8:
            raise ConnectionError("closed by the server")
        return data

    def send(self, text: str) -> None:
        assert self.writer is not None
        self.writer.write(masked_frame(text.encode(), opcode=0x1))

    async def handshake(self, since: int | None) -> int:
        """engine.io open, Socket.IO connect, then subscribe to the hall room; returns the seq it is current to.
        The live stream needs nothing after its upgrade (a screen reads its snapshot over REST)."""
        if self.live:
            return since or 0
        await self.recv()  # 0{"sid":...}
        self.send("40")
        while not (await self.recv()).startswith(b"40"):
            pass
        body = {"hall": True} if since is None else {"hall": True, "since": since}
        self.send("421" + json.dumps(["subscribe", body]))
        while True:
            msg = await self.recv()
            if msg == b"2":
                self.send("3")
            elif msg.startswith(b"431"):
                reply = json.loads(msg[3:])[0]
                if not reply.get("ok"):
                    raise RuntimeError(f"subscribe refused: {reply}")
                return int(reply["seq"])

    async def listen(self, seen: dict[int, list[float]], stop: asyncio.Event) -> None:
        while not stop.is_set():
            msg = await self.recv()
            self.frames += 1
            if self.live:
                for hit in LIVE_CALLED.finditer(msg):
                    seen.setdefault(int(hit.group(1)), []).append(time.time())
                continue
            if msg == b"2":
                self.send("3")
                continue
            m = CALLED.match(msg)
            if m:
                seen.setdefault(int(m.group(1)), []).append(time.time())


async def _worker(ports: list[int], n: int, since: int, pipe: Any, path: str) -> None:
    clients = [WsClient(ports[i % len(ports)], path) for i in range(n)]
    sem = asyncio.Semaphore(50)
    failed = 0

    async def open_one(c: WsClient) -> bool:
        async with sem:
            try:
                await asyncio.wait_for(c.connect(), 30)
                await asyncio.wait_for(c.handshake(since), 60)
                return True
            except Exception:
                return False

    results = await asyncio.gather(*(open_one(c) for c in clients))
    live = [c for c, ok in zip(clients, results, strict=True) if ok]
    failed = len(clients) - len(live)
    seen: dict[int, list[float]] = {}
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.listen(seen, stop)) for c in live]
    pipe.send({"connected": len(live), "failed": failed})
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    await asyncio.sleep(0.5)
    stop.set()
    for t in tasks:
        t.cancel()
    disconnected = sum(1 for t in tasks if t.done() and not t.cancelled() and t.exception() is not None)
    pipe.send({"seen": seen, "disconnected": disconnected, "frames": sum(c.frames for c in live)})
    for c in live:
        with contextlib.suppress(Exception):
            c.writer.close()  # type: ignore[union-attr]


def start_workers(ports: list[int], clients: int, processes: int, since: int,
                  path: str) -> tuple[list[Any], list[Any]]:
    """The screens, dealt over ``processes`` spawned workers; their pipes (each reports once connected) and
    processes."""
    ctx = mp.get_context("spawn")
    pipes, workers = [], []
    for i in range(processes):
        a, b = ctx.Pipe()
        share = clients // processes + (1 if i < clients % processes else 0)
        p = ctx.Process(target=worker_main, args=(ports, share, since, b, path), daemon=True)
        p.start()
        pipes.append(a)
        workers.append(p)
    return pipes, workers


def worker_main(ports: list[int], n: int, since: int, pipe: Any, path: str) -> None:
    if path == "live":
        _live_worker(ports, n, pipe)
    elif path == "broker":
        _live_worker(ports, n, pipe, target="/", hello=broker_floor.SUBSCRIBE)
    else:
        asyncio.run(_worker(ports, n, since, pipe, path))


SO_TIMESTAMPNS = 35  # Linux: SO_TIMESTAMPNS_OLD, its SCM_ type the same number; the socket module lacks both
_TS_SPACE = socket.CMSG_SPACE(16)


def masked_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    """One WebSocket frame from a client (clients must mask); binary unless ``opcode`` says otherwise."""
    mask = secrets.token_bytes(4)
    n = len(payload)
    head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _arrival(ancillary: list[tuple[int, int, bytes]], fallback: float) -> float:
    """When the kernel put the bytes just read into the screen's socket (the last segment's receive timestamp,
    wall clock): the frame's arrival, whatever the reading process was doing meanwhile."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec + nsec / 1e9
    return fallback


def _live_worker(ports: list[int], n: int, pipe: Any, target: str = "/live", hello: bytes = b"") -> None:
    """Live-stream screens on one selector: they only read, so a non-blocking socket and a frame parser per
    screen do (a few µs per frame where an asyncio stream costs tens: at 5,000 screens on two cores the asyncio
    generator took as long as the server). ``hello``: sent once after the upgrade (the broker floor's subscribe)."""
    sel = selectors.DefaultSelector()
    bufs: dict[socket.socket, bytearray] = {}
    failed = 0
    for i in range(n):
        try:
            s = socket.create_connection((HOST, ports[i % len(ports)]), timeout=30)
            ws_key = base64.b64encode(secrets.token_bytes(16)).decode()
            s.sendall((f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {ws_key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    raise ConnectionError("closed during the handshake")
                head += chunk
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                raise ConnectionError(head[:100].decode(errors="replace"))
            if hello:
                s.sendall(masked_frame(hello))
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            bufs[s] = bytearray(head.split(b"\r\n\r\n", 1)[1])
            sel.register(s, selectors.EVENT_READ)
        except OSError:
            failed += 1
    pipe.send({"connected": len(bufs), "failed": failed})
    seen: dict[int, list[float]] = {}
    arrived: dict[int, list[float]] = {}
    frames = disconnected = called_bytes = 0
    stop_at = None
    while stop_at is None or time.monotonic() < stop_at:
        if stop_at is None and pipe.poll():
            pipe.recv()  # "stop"
            stop_at = time.monotonic() + 0.5
        for key, _ in sel.select(0.05):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            try:
                data, ancillary, _flags, _addr = conn.recvmsg(262144, _TS_SPACE)
            except BlockingIOError:
                continue
            except OSError:
                data, ancillary = b"", []
            if not data:
                sel.unregister(conn)
                disconnected += 1
                continue
            now = time.time()
            at = _arrival(ancillary, now)
            buf = bufs[conn]
            buf += data
            while len(buf) >= 2:
                n_, start = buf[1] & 0x7F, 2
                if n_ == 126:
                    n_, start = int.from_bytes(buf[2:4], "big"), 4
                elif n_ == 127:
                    n_, start = int.from_bytes(buf[2:10], "big"), 10
                if len(buf) < start + n_:
                    break
                msg = bytes(buf[start:start + n_])
                del buf[:start + n_]
                frames += 1
                for m in LIVE_CALLED.finditer(msg):
                    called_bytes = max(called_bytes, len(msg))
                    seen.setdefault(int(m.group(1)), []).append(now)
                    arrived.setdefault(int(m.group(1)), []).append(at)
    pipe.send({"seen": seen, "arrived": arrived, "disconnected": disconnected, "frames": frames,
               "called_bytes": called_bytes})
    for s in bufs:
        s.close()


# ------------------------------------------------------------------------------------------------ one size

def measure(procs: list[Any], database: str, workdir: Path, clients: int, calls: int, processes: int,
            credentials: tuple[str, str], path: str) -> dict[str, Any]:
    ports = [p.port for p in procs]
    base = f"http://{HOST}:{ports[0]}"
    staff = requests.Session()
    login = staff.post(base + "/api/v1/auth/login", json={"username": credentials[0], "password": credentials[1]},
                       timeout=30)
    login.raise_for_status()
    staff.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    staff.post(base + "/api/v1/windows/w03/open", json={}, timeout=30)
    first = requests.post(base + "/api/v1/tickets", json={"queue_id": "domain"}, timeout=30).json()["ticket"]
    hall_id = requests.get(base + "/api/v1/hall", timeout=10).json()["hall"]["id"]
    Seed(database, hall_id, first["service_day"], calls + 5).run()
    since = requests.get(base + "/api/v1/events?since=0&limit=0", timeout=10).json().get("seq", 0)
    t_conn = time.monotonic()
    pipes, workers = start_workers(ports, clients, processes, since, path)
    connected = failed = 0
    for a in pipes:
        if not a.poll(600):
            raise RuntimeError("clients did not connect within 600 s")
        msg = a.recv()
        connected += msg["connected"]
        failed += msg["failed"]
    connect_s = time.monotonic() - t_conn
    rss = sum(psutil.Process(p.proc.pid).memory_info().rss for p in procs) / 2**20
    cpu0 = sum(p.cpu() for p in procs)
    sent: dict[int, float] = {}
    t0 = time.monotonic()
    for _ in range(calls):
        t_send = time.time()
        r = staff.post(base + "/api/v1/windows/w03/call-next", json={}, timeout=30)
        ticket = r.json().get("ticket") if r.status_code == 200 else None
        if ticket:
            sent[ticket["id"]] = t_send
            staff.post(base + "/api/v1/windows/w03/start", json={}, timeout=30)
        time.sleep(0.25 if clients < 2000 else 0.6)  # let one broadcast finish before the next
    busy_s = time.monotonic() - t0
    cpu = sum(p.cpu() for p in procs) - cpu0
    for a in pipes:
        a.send("stop")
    lat: list[float] = []
    arrival: list[float] = []
    per_call = dict.fromkeys(sent, 0)
    call_max: dict[int, float] = {}
    received = disconnected = frames = called_bytes = 0
    for a in pipes:
        if not a.poll(120):
            raise RuntimeError("a client worker did not report")
        msg = a.recv()
        disconnected += msg["disconnected"]
        frames += msg["frames"]
        called_bytes = max(called_bytes, msg.get("called_bytes", 0))
        for tid, times in msg["seen"].items():
            if tid in sent:
                received += len(times)
                per_call[tid] += len(times)
                lat += [(t - sent[tid]) * 1000 for t in times]
                call_max[tid] = max([call_max.get(tid, 0.0)] + [(t - sent[tid]) * 1000 for t in times])
        for tid, times in msg.get("arrived", {}).items():
            if tid in sent:
                arrival += [(t - sent[tid]) * 1000 for t in times]
    for p in workers:
        p.join(30)
        if p.is_alive():
            p.kill()
    expected = connected * len(sent)
    return {"path": path, "clients": clients, "connected": connected, "connect_failed": failed, "connect_s": round(connect_s, 1),
            "calls": len(sent), "delivered": received, "missing": expected - received,
            "p50_ms": _r(pct(lat, 50)), "p99_ms": _r(pct(lat, 99)), "max_ms": _r(max(lat, default=None)),
            "arrival_p50_ms": _r(pct(arrival, 50)), "arrival_p99_ms": _r(pct(arrival, 99)),
            "arrival_max_ms": _r(max(arrival, default=None)),
            "server_rss_mb": round(rss, 1), "server_cores": round(cpu / busy_s, 2),
            "server_cpu_ms_per_call": round(cpu * 1000 / max(len(sent), 1), 1), "disconnected": disconnected,
            "frames_per_client_per_call": round(frames / max(connected * len(sent), 1), 2),
            "called_frame_bytes": called_bytes or None,
            "slowest_per_call_ms": [round(call_max[t]) for t in sorted(call_max)],
            "short_calls": {t: c for t, c in per_call.items() if c < connected}}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def run(sizes: list[int], calls: int, processes: int, servers: int, mode: str,
        paths: list[str]) -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="onewindow-fanout-"))
    print(f"fan-out: {servers} server process(es), {mode}; logs in {workdir}; load average {os.getloadavg()}",
          flush=True)
    out = []
    for order, n in enumerate(sizes):
        for path in (paths if order % 2 == 0 else paths[::-1]):  # alternate which path goes first
            out.append(_one(workdir, n, path, calls, processes, servers, mode))
    return out


def _one(workdir: Path, n: int, path: str, calls: int, processes: int, servers: int, mode: str) -> dict[str, Any]:
    if path == "broker":
        return _broker(workdir, n, calls, processes if n >= 300 else 1)
    tag = f"{path}-{n}-{secrets.token_hex(3)}"  # a size may come twice in one run
    with contextlib.ExitStack() as stack:
        if servers > 1:
            database = stack.enter_context(pg_database())
            mq = f"redis://127.0.0.1:6379/{secrets.randbelow(8) + 8}"
        else:
            database, mq = str(workdir / f"fanout-{tag}.db"), None
        credentials = add_supervisor(database, workdir)
        procs = []
        for i in range(servers):
            p = onewindow(workdir, database, mode, f"fanout-{tag}-{i}", mq).start()
            stack.callback(p.stop)
            procs.append(p)
        r = measure(procs, database, workdir, n, calls, processes if n >= 300 else 1, credentials, path)
        r["loadavg"] = os.getloadavg()
        call_size = f" (the call: {r['called_frame_bytes']} bytes)" if r["called_frame_bytes"] else ""
        arrival = (f"arrival p50 {r['arrival_p50_ms']} ms, p99 {r['arrival_p99_ms']} ms, max {r['arrival_max_ms']} ms; "
                   if r["arrival_p99_ms"] is not None else "")
        print(f"  {path:>8} {n:>5} clients: read p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms; "
              f"{arrival}"
              f"delivered {r['delivered']}, missing {r['missing']}, connect failures {r['connect_failed']}; "
              f"server RSS {r['server_rss_mb']} MB, {r['server_cpu_ms_per_call']} ms CPU/call, "
              f"{r['frames_per_client_per_call']} frames/client/call{call_size}; connected in {r['connect_s']} s; "
              f"load {r['loadavg'][0]:.2f}", flush=True)
        return r


def _broker(workdir: Path, n: int, calls: int, processes: int) -> dict[str, Any]:
    if broker_floor.nats_server() is None:
        print(f"  {'broker':>8} {n:>5} clients: skipped (nats-server is not installed: apt install nats-server)",
              flush=True)
        return {"path": "broker", "clients": n, "skipped": "nats-server not installed"}
    r = broker_floor.measure(workdir, n, calls, processes)
    r = {k: _r(v) if k.endswith("_ms") else v for k, v in r.items()}
    r["loadavg"] = os.getloadavg()
    print(f"  {'broker':>8} {n:>5} clients: read p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms; "
          f"arrival p50 {r['arrival_p50_ms']} ms, p99 {r['arrival_p99_ms']} ms, max {r['arrival_max_ms']} ms; "
          f"delivered {r['delivered']}, missing {r['missing']}; {r['frame_bytes']}-byte frame from PUB, "
          f"1 frame/client/call; load {r['loadavg'][0]:.2f}", flush=True)
    return r


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", default="100,300,1000")
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--processes", type=int, default=2, help="client worker processes")
    ap.add_argument("--servers", type=int, default=1)
    ap.add_argument("--mode", default="gevent", choices=["gevent", "threading"])
    ap.add_argument("--paths", default="live,socketio,broker",
                    help="live (the screens' stream), socketio (the hall room), broker (the NATS floor); any of them")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    result = run([int(x) for x in args.clients.split(",")], args.calls, args.processes, args.servers, args.mode,
                 [p for p in args.paths.split(",") if p])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    sys.exit(0)


if __name__ == "__main__":
    main()
