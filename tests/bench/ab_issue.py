"""A/B of the issue path (issue 11): this tree's server beside another tree's (``--base``, e.g. main's code from
``git archive``), alternating round by round in the same run, SQLite, one process each.

    git archive main | tar -x -C /tmp/base
    .venv/bin/python -m tests.bench.ab_issue --base /tmp/base [--rounds 3] [--duration 6] [--clients 1,16]

CPU per ticket is the server process's user+system time over the measured seconds ÷ tickets (robust on a shared
machine; rates and latencies are not). Both servers run from this tree's virtualenv; the base tree's package is put
first on ``PYTHONPATH`` and the server reports which file it imported, so a mix-up cannot pass unnoticed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.bench.ops import HOST, Proc, _fmt, base_env, free_port, run_issue

REPO = Path(__file__).resolve().parents[2]


def server(src: Path, workdir: Path, name: str) -> Proc:
    port = free_port()
    env = base_env()
    env["PYTHONPATH"] = str(src)
    log = workdir / name / "server.log"
    log.parent.mkdir(parents=True)
    argv = [sys.executable, "-c", "import sys, queue_server; print('imported', queue_server.__file__, flush=True); "
            "from queue_server.cli import main; sys.argv[0] = 'onewindow'; main()",
            "serve", "--always-open", "--host", HOST, "--port", str(port), "--database",
            str(workdir / name / "ow.db"), "--async-mode", "gevent", "--log-level", "WARNING"]
    return Proc(name, argv, port, env, log)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, type=Path, help="source tree of the A side (e.g. main's code)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=6.0)
    ap.add_argument("--clients", default="1,16")
    args = ap.parse_args(argv)
    clients = [int(x) for x in args.clients.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="onewindow-ab-"))
    print(f"load average {os.getloadavg()}; logs in {workdir}", flush=True)
    sides = {"A (base)": args.base.resolve(), "B (this tree)": REPO}
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack:
        procs = {}
        for label, src in sides.items():
            p = server(src, workdir, label.split()[0]).start()
            stack.callback(p.stop)
            first = p.log.read_text(errors="replace").splitlines()[0]
            if not first.startswith(f"imported {src}"):
                raise SystemExit(f"{label}: expected the package from {src}, got {first!r}")
            procs[label] = p
        for r in range(args.rounds):
            for n in clients:
                order = list(procs.items()) if r % 2 == 0 else list(reversed(procs.items()))
                for label, p in order:
                    res = run_issue([p], n, args.duration)
                    results.setdefault((label, n), []).append(res)
                    print(f"  round {r + 1}, {label:<14} {n:>2} clients: {_fmt(res)}", flush=True)
    print("\nmedians over rounds:")
    for (label, n), rs in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        def med(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return round(statistics.median(x[key] for x in rs if x[key] is not None), 2)
        print(f"  {label:<14} {n:>2} clients: {med('per_s')}/s, p50 {med('p50_ms')} ms, p99 {med('p99_ms')} ms, "
              f"CPU {med('cpu_ms_per_op')} ms/ticket")
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
