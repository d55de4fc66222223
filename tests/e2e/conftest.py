"""Shared fixtures for end-to-end tests: a real ``onewindow serve`` subprocess and Debian's Chromium driven by
Playwright for Python.

No browser is downloaded: Chromium is /usr/bin/chromium (override with ONEWINDOW_CHROMIUM). Every server is
started on 127.0.0.1 with its own SQLite file under the test's tmp dir and is stopped in teardown; its log is
printed when a test fails. Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import StaffSession, add_staff
from tests.support.server import LiveServer

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = os.environ.get("ONEWINDOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
HALL_VIEWPORT = {"width": 1920, "height": 1080}
PHONE_VIEWPORT = {"width": 390, "height": 844}


class HallServer(LiveServer):
    """``onewindow serve`` on a fixed port and database, which can be killed and started again."""

    extra_args: tuple[str, ...] = ()  # a subclass's own arguments (e.g. a fixed clock)

    def __init__(self, workdir: Path, port: int | None = None, extra_args: tuple[str, ...] = (),
                 always_open: bool = True) -> None:
        self.workdir = workdir
        self.database = workdir / "x.db"
        super().__init__(["--database", str(self.database), *(["--always-open"] if always_open else []),
                          "--log-level", "WARNING", *self.extra_args, *extra_args], workdir / "server.log", port=port,
                         env={**os.environ, "ONEWINDOW_VAR": str(workdir / "var")})
        self.base_url = self.url
        self._staff: StaffSession | None = None
        # The log of each start (all the same file); a caller that added its own staff puts a marker in first.
        self.logs: list[Path] = []

    def start(self, timeout: float = 30.0) -> HallServer:
        if not self.logs:
            add_staff(self.database)  # a supervisor the tests act as (window actions need a login)
        self.logs.append(self.log_path)
        super().start(timeout)
        return self

    def kill(self) -> None:
        """Like a crash or a power cut: SIGKILL, no goodbye to the clients."""
        if self.alive:
            self.kill9()
        self.proc = None

    # ---- the REST calls a kiosk and a window panel make
    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if self._staff is None:
            self._staff = StaffSession(self.base_url)
        r = self._staff.post(self.base_url + path, json=body or {}, timeout=10)
        assert r.ok, f"POST {path} -> {r.status_code} {r.text}"
        return r.json()

    def issue(self, queue_id: str) -> dict[str, Any]:
        return self.post("/api/v1/tickets", {"queue_id": queue_id})["ticket"]

    def window(self, window_id: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.post(f"/api/v1/windows/{window_id}/{action}", body)

    def call_next(self, window_id: str) -> dict[str, Any]:
        out = self.window(window_id, "call-next")
        assert out.get("ticket"), f"nobody to call at {window_id}: {out}"
        return out["ticket"]


def _require_browser() -> Any:
    # Like PostgreSQL: a missing browser fails the run loudly; deselect these tests on purpose with -m "not e2e".
    deselect = 'or deselect the browser tests on purpose: pytest -m "not e2e"'
    try:
        from playwright import sync_api
    except ImportError as exc:
        pytest.fail(f"Playwright for Python is not installed ({exc}); run ./scripts/setup, {deselect}", pytrace=False)
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium) or point "
                    f"ONEWINDOW_CHROMIUM at one, {deselect}", pytrace=False)
    return sync_api


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an ``e2e`` test (a real Chromium), so ``-m "not e2e"`` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = _require_browser()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, request) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """new_page(viewport=..., locale=...) -> a page in its own context; console errors are collected."""
    contexts = []

    def make(viewport: dict[str, int] | None = None, locale: str = "zh-CN") -> Any:
        ctx = browser.new_context(viewport=viewport or HALL_VIEWPORT, locale=locale, timezone_id="Asia/Shanghai")
        contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        return page

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="module")
def hall_server(tmp_path_factory) -> Iterator[HallServer]:
    """One server shared by a module's tests (each test uses its own queues and windows)."""
    server = HallServer(tmp_path_factory.mktemp("hall")).start()
    yield server
    server.stop()


@pytest.fixture
def own_server(tmp_path) -> Iterator[HallServer]:  # type: ignore[no-untyped-def]
    """A server for one test, e.g. one that kills and restarts it."""
    server = HallServer(tmp_path)
    yield server
    server.kill()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for name in ("hall_server", "own_server"):
            server = item.funcargs.get(name)
            if isinstance(server, HallServer):
                rep.sections.append((f"{name} log", server.log_text()[-20000:]))


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "e2e" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path


def wait_live(page: Any, timeout_ms: int = 10000) -> None:
    page.wait_for_selector("body[data-live=live]", timeout=timeout_ms)
