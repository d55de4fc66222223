"""Server settings: where the database and config are, how the server runs. Built by the CLI or by tests."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ASYNC_MODES = ("threading", "gevent")
# `onewindow serve` runs gevent: in tests/bench it issued 1.2-1.7x the tickets of threading at 1.6x lower
# latency under load, in less memory and one OS thread instead of four per client (BENCHMARKS.md). The server
# process opens no serial device (agents do), so monkey-patching it costs nothing.
DEFAULT_ASYNC_MODE = "gevent"


def default_var_dir() -> Path:
    return Path(os.environ.get("ONEWINDOW_VAR", Path.cwd() / "var"))


@dataclass
class Settings:
    database: str = field(default_factory=lambda: str(default_var_dir() / "onewindow.db"))
    config_path: str | None = None
    devices_path: str | None = None  # default: devices.toml beside the hall file, when there is one
    # Origins whose pages may open Socket.IO connections; None: the server's own origin only.
    allowed_origins: list[str] | None = None
    calendar_path: str | None = None
    cases_path: str | None = None  # default: cases.yaml beside the hall file, when there is one
    # An app built in-process (tests, embedding) runs threading: gevent needs the monkey-patching that only
    # `onewindow serve` does before anything else is imported.
    async_mode: str = "threading"
    message_queue: str | None = None  # redis://... when several server processes share one hall
    always_open: bool = False
    clock_start: datetime | None = None
    clock_speed: float = 1.0  # simulated seconds per real second (soak runs of a whole day); needs clock_start
    secret_key: str | None = None
    person_secret: bytes | None = None
    background_tasks: bool = True
    sqlite_synchronous: str = "FULL"
    # Queue figures (queue_stats events) at most this often per queue; 0 computes them inside every write.
    stats_interval: float = 1.0
    testing: bool = False
    auth_required: bool = True  # staff log in for window actions; devices use tokens
    secure_cookies: bool = False  # served over HTTPS: Secure cookies and Strict-Transport-Security
    read_timeout: float = 15.0  # seconds a client may take to send a request (serving.py); WebSockets exempt

    def resolve_secret_key(self) -> str:
        """Signs login sessions: env, or a file beside a SQLite database, so sessions survive a restart."""
        if self.secret_key:
            return self.secret_key
        env = os.environ.get("ONEWINDOW_SECRET_KEY")
        if env:
            return env
        if "://" in self.database and not self.database.startswith("sqlite"):
            raise RuntimeError("set ONEWINDOW_SECRET_KEY (the same value on every server process) when using "
                               "PostgreSQL, so a login made on one process is valid on the others")
        return self._secret_file(".session-key")

    def resolve_person_secret(self) -> bytes:
        """A stable secret for hashing ID numbers: env, or a file beside a SQLite database, made once."""
        if self.person_secret:
            return self.person_secret
        env = os.environ.get("ONEWINDOW_PERSON_SECRET")
        if env:
            return env.encode()
        if "://" in self.database and not self.database.startswith("sqlite"):
            raise RuntimeError("set ONEWINDOW_PERSON_SECRET (the same value on every server process) when using "
                               "PostgreSQL, so the one-ticket-per-person check works across processes")
        return self._secret_file(".secret").encode()

    def _secret_file(self, suffix: str) -> str:
        db_path = Path(self.database.removeprefix("sqlite:///"))
        secret_file = db_path.with_name(db_path.name + suffix)
        if not secret_file.exists():
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            secret_file.write_text(secrets.token_hex(32))
            secret_file.chmod(0o600)
        return secret_file.read_text().strip()
