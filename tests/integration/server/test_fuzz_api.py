"""A bounded, seeded generated-request run (schemathesis, stateless) against a LIVE server: 0 server errors and 0
schema mismatches (status codes, content types, response schemas where declared), anonymous and as a logged-in
supervisor. `make fuzz` runs the long version (figures in BENCHMARKS.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest_server import ServerFactory
from tests.support.live import PASSWORD

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "unsupported_method,allow_header_conformance")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def run_schemathesis(base: str, out: Path, *, examples: int, seed: int, headers: list[str] = (),  # type: ignore[assignment]
                     phases: str = "fuzzing", max_time: float | None = None) -> subprocess.CompletedProcess[str]:
    args = [str(SCHEMATHESIS), "run", f"{base}/api/v1/openapi.json", "--checks", CHECKS, "-n", str(examples),
            "--seed", str(seed), "--phases", phases, "--generation-database", "none", "--no-color", "-w", "1",
            "--request-timeout", "20", "--report", "junit", "--report-junit-path", str(out / "junit.xml")]
    for h in headers:
        args += ["-H", h]
    if headers:  # keep the login: a generated logout (or login) would end the session the run is about
        args += ["--exclude-path-regex", "^/auth/"]
    if max_time:
        args += ["--max-time", str(max_time)]
    return subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=out,
                          env={**os.environ, "SCHEMATHESIS_HOOKS": ""})


def supervisor_headers(base: str) -> list[str]:
    s = requests.Session()
    r = s.post(f"{base}/api/v1/auth/login", json={"username": "tester", "password": PASSWORD}, timeout=10)
    r.raise_for_status()
    cookie = "; ".join(f"{k}={v}" for k, v in s.cookies.items())
    return [f"Cookie: {cookie}", f"X-CSRF-Token: {r.json()['csrf_token']}"]


def _summary(done: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(done.stdout.splitlines()[-60:]) + done.stderr[-2000:]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("who", ["anonymous", "supervisor"])
def test_generated_requests_find_no_server_error_and_no_schema_mismatch(servers: ServerFactory, who: str) -> None:
    if not SCHEMATHESIS.exists():
        pytest.fail("schemathesis is a dev dependency: run ./scripts/setup")
    # The bundled hall (its case, kiosk and flow files agree with it), open at any hour.
    srv = servers.start(database=str(servers.directory / "fuzz.db"), always_open=True)
    headers = supervisor_headers(srv.url) if who == "supervisor" else []
    out = servers.directory / f"st-{who}"
    out.mkdir()
    done = run_schemathesis(srv.url, out, examples=4, seed=20261206, headers=headers)
    assert done.returncode == 0, _summary(done)
    assert "generated" in done.stdout, _summary(done)
    assert "Traceback" not in srv.log_text() and "internal_error" not in srv.log_text(), srv.log_text()[-3000:]
    shutil.rmtree(out, ignore_errors=True)
