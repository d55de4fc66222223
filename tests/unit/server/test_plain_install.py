"""`onewindow serve` on a plain install: gevent (the default async mode) is a core dependency, and a missing
gevent falls back to threading with one warning line instead of a ModuleNotFoundError."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.conftest_server import REPO


def test_gevent_is_a_core_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert any(dep.split(">")[0].strip() == "gevent" for dep in project["dependencies"])
    assert any(dep.startswith("schemathesis") for dep in project["optional-dependencies"]["dev"])


def test_serve_without_gevent_falls_back_to_threading_with_one_warning(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A process where importing gevent fails, as on an install without it; --help stops before serving.
    code = ("import sys; sys.modules['gevent'] = None; sys.argv = ['onewindow', 'serve', '--async-mode', "
            "'gevent', '--help']; from queue_server.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    warnings = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert warnings == ["warning: gevent is not installed (pip install gevent); serving in threading mode instead"]
    assert "ModuleNotFoundError" not in done.stderr and "--read-timeout" in done.stdout
