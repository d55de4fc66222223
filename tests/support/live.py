"""Logging in to a live test server: staff accounts and device tokens made on its database, sessions with CSRF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

PASSWORD = "test-password-1"


def _engine(database: str | Path):  # type: ignore[no-untyped-def]
    from queue_server.store.db import make_engine, migrate

    engine = make_engine(str(database))
    migrate(engine)
    return engine


def add_staff(database: str | Path, username: str = "tester", roles: tuple[str, ...] = ("supervisor", "technician"),
              windows: tuple[str, ...] = (), password: str = PASSWORD, name: str = "测试员") -> str:
    """Create a member of staff on the server's database (before or while it runs); returns the username."""
    from queue_server.clock import SystemClock
    from queue_server.services import staff

    engine = _engine(database)
    try:
        staff.add_user(engine, SystemClock().now(), username, name, password, list(roles), list(windows))
    finally:
        engine.dispose()
    return username


def device_token(database: str | Path, station: str) -> str:
    from queue_server.clock import SystemClock
    from queue_server.services import staff

    engine = _engine(database)
    try:
        return staff.add_device_token(engine, SystemClock().now(), station)
    finally:
        engine.dispose()


class StaffSession(requests.Session):
    """A logged-in requests session: the CSRF token goes with every request, paths may be relative to /api/v1."""

    def __init__(self, base_url: str, username: str = "tester", password: str = PASSWORD) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        r = super().request("POST", f"{self.base_url}/api/v1/auth/login",
                            json={"username": username, "password": password}, timeout=10)
        r.raise_for_status()
        self.headers["X-CSRF-Token"] = r.json()["csrf_token"]

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if url.startswith("/"):
            url = f"{self.base_url}{url if url.startswith('/api/') else '/api/v1' + url}"
        kwargs.setdefault("timeout", 10)
        return super().request(method, url, *args, **kwargs)

    def cookie_header(self) -> str:
        """For a python-socketio client that should act as this member of staff: headers={"Cookie": ...}."""
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies)
