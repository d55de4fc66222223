"""`make fuzz`: the long generated-request run against a live server (anonymous, then a logged-in supervisor).
Prints the figures recorded in BENCHMARKS.md. FUZZ_EXAMPLES (default 40) per operation, FUZZ_SEED (20261206)."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest_server import ServerFactory
from tests.integration.server.test_fuzz_api import run_schemathesis, supervisor_headers


def main() -> int:
    examples = int(os.environ.get("FUZZ_EXAMPLES", "40"))
    seed = int(os.environ.get("FUZZ_SEED", "20261206"))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        factory = ServerFactory(Path(tmp))
        try:
            srv = factory.start(database=str(Path(tmp) / "fuzz.db"), always_open=True)
            for who in ("anonymous", "supervisor"):
                out = Path(tmp) / who
                out.mkdir()
                headers = supervisor_headers(srv.url) if who == "supervisor" else []
                started = time.monotonic()
                done = run_schemathesis(srv.url, out, examples=examples, seed=seed, headers=headers,
                                        phases="coverage,fuzzing")
                took = time.monotonic() - started
                generated = re.search(r"(\d+) generated", done.stdout)
                tail = [ln for ln in done.stdout.splitlines() if ln.startswith("=")][-1:]
                print(f"{who}: {generated.group(1) if generated else '?'} test cases in {took:.0f} s, "
                      f"exit {done.returncode}: {' '.join(tail)}")
                if done.returncode:
                    failed += 1
                    print(done.stdout[-4000:])
            log = srv.log_text()
            print(f"server log: {log.count('Traceback')} tracebacks, {log.count('internal_error')} internal_error")
        finally:
            factory.stop_all()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
