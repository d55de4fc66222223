"""``onewindow backup`` and ``onewindow restore``: a consistent copy of the hall's database, taken while it serves.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies every page in one step inside a read
transaction, so the copy is the database as of one instant — every transaction committed before the backup began
is in it, none half — and in WAL mode that read never blocks the server's writes. The copy is checked with
``PRAGMA integrity_check`` before it replaces OUT (written beside it, then renamed), and is mode 0600: it holds
whole ID numbers and phones. The keyed-hash secret beside the database (``<db>.secret``, which the
one-ticket-per-person check needs to recognise a person again) is copied to ``OUT.secret``.

Restore writes through the same API into the target database, so SQLite's own locking applies; it refuses a
target that already holds data unless ``--force`` (stop the server first: a running server keeps its caches).

PostgreSQL: the documented way is ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists``; they run
if installed, otherwise the exact command is printed.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .store.db import normalise_url


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Summary:
    path: str
    tickets: int
    cases: int
    seconds: float
    note: str = ""


def _sqlite_path(url: str) -> Path | None:
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return None
    return Path(url.split(":///", 1)[1])


def _counts(conn: sqlite3.Connection) -> tuple[int, int]:
    def count(table: str) -> int:
        try:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names
        except sqlite3.DatabaseError:
            return 0

    return count("tickets"), count("cases")


def _pg_url(url: str) -> str:
    """The libpq form of a PostgreSQL URL (pg_dump does not know SQLAlchemy's ``+psycopg``)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def backup(database: str, out: Path) -> Summary:
    """Copy ``database`` to ``out`` while the server may be writing to it."""
    path = _sqlite_path(database)
    if path is None:
        return _pg_dump(database, out)
    if not path.exists():
        raise BackupError(f"no database at {path}; give the one the server uses with --database")
    started = time.monotonic()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out == path.resolve():
        raise BackupError("the backup file is the database itself; choose another OUT")
    tmp = out.with_name(out.name + ".partial")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(path, timeout=30)  # read-only use; mode=ro cannot open a WAL file without its -shm
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private before a byte is written
        os.close(fd)
        target = sqlite3.connect(tmp)
        try:
            source.backup(target)  # pages=-1: one step, one snapshot
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check ({check}); the database may be damaged")
            tickets, cases = _counts(target)
        finally:
            target.close()
    except sqlite3.DatabaseError as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"cannot back up {path}: {exc}") from exc
    finally:
        source.close()
    os.replace(tmp, out)
    secret = path.with_name(path.name + ".secret")
    note = ""
    if secret.exists():
        shutil.copyfile(secret, out.with_name(out.name + ".secret"))
        os.chmod(out.with_name(out.name + ".secret"), 0o600)
        note = f"the ID-number hash secret was copied to {out.name}.secret; keep it with the backup"
    return Summary(str(out), tickets, cases, time.monotonic() - started, note)


def restore(backup_file: Path, database: str, *, force: bool = False) -> Summary:
    """Put ``backup_file`` into ``database``; refuses to overwrite a database holding data unless ``force``."""
    path = _sqlite_path(database)
    if path is None:
        return _pg_restore(backup_file, database, force=force)
    if not backup_file.is_file():
        raise BackupError(f"no backup file at {backup_file}")
    started = time.monotonic()
    source = sqlite3.connect(backup_file, timeout=30)
    try:
        check = source.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"{backup_file} fails its integrity check ({check}); it cannot be restored")
        if source.execute("SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone()[0] == 0:
            raise BackupError(f"{backup_file} is an SQLite file but not a OneWindow database (no schema version)")
        tickets, cases = _counts(source)
        if path.exists() and path.stat().st_size > 0:
            existing = sqlite3.connect(path, timeout=30)
            try:
                held = _counts(existing)
            finally:
                existing.close()
            if not force:
                raise BackupError(
                    f"{path} already holds a database ({held[0]} tickets, {held[1]} cases) and may be in use; "
                    "stop the server that uses it, then run restore again with --force to overwrite it")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        target = sqlite3.connect(path, timeout=30)
        try:
            source.backup(target)
        finally:
            target.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot restore {backup_file} into {path}: {exc}") from exc
    finally:
        source.close()
    note = ""
    secret = backup_file.with_name(backup_file.name + ".secret")
    if secret.exists():
        shutil.copyfile(secret, path.with_name(path.name + ".secret"))
        os.chmod(path.with_name(path.name + ".secret"), 0o600)
        note = "the ID-number hash secret was restored beside it"
    return Summary(str(path), tickets, cases, time.monotonic() - started, note)


def _pg_dump(database: str, out: Path) -> Summary:
    command = ["pg_dump", "--format=custom", "--no-owner", f"--file={out}", _pg_url(database)]
    return _run_pg(command, out, "back up")


def _pg_restore(backup_file: Path, database: str, *, force: bool) -> Summary:
    command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
               f"--dbname={_pg_url(database)}", str(backup_file)]
    if not force:
        raise BackupError("restoring replaces every table of the target PostgreSQL database; stop the servers "
                          "that use it, then run restore again with --force (it runs: " + " ".join(command) + ")")
    return _run_pg(command, backup_file, "restore")


def _run_pg(command: list[str], path: Path, what: str) -> Summary:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed here (Debian: apt-get install postgresql-client); "
                          f"to {what} by hand run:\n  {' '.join(command)}")
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    if what == "back up":
        os.chmod(path, 0o600)
    return Summary(str(path), -1, -1, time.monotonic() - started, f"ran {command[0]}")
