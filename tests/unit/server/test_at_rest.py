"""Issue 9 findings 8 and 9: the SQLite file and its WAL/SHM are readable by the server's user only (they hold
whole ID numbers and phones in ``cases``), and a spreadsheet formula in a CSV cell is neutralised."""

from __future__ import annotations

import os
import stat

from sqlalchemy import text

from queue_server.services.evaluations import csv_safe
from queue_server.store.db import make_engine, migrate


def mode(path) -> int:  # type: ignore[no-untyped-def]
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_database_and_its_wal_and_shm_are_0600(tmp_path):
    old = os.umask(0o022)  # the usual umask, under which the file was created 0644 before
    try:
        db = tmp_path / "hall.db"
        engine = make_engine(str(db))
        migrate(engine)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            files = [db, db.with_name("hall.db-wal"), db.with_name("hall.db-shm")]
            assert all(f.exists() for f in files)
            assert [mode(f) for f in files] == [0o600, 0o600, 0o600]
        engine.dispose()
    finally:
        os.umask(old)


def test_an_existing_world_readable_database_is_narrowed(tmp_path):
    db = tmp_path / "old.db"
    engine = make_engine(str(db))
    migrate(engine)
    engine.dispose()
    db.chmod(0o644)
    make_engine(str(db)).dispose()
    assert mode(db) == 0o600


def test_formula_cells_are_neutralised():
    for bad in ('=HYPERLINK("http://x","点我")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_safe(bad) == "'" + bad
    assert csv_safe("服务很好") == "服务很好"
    assert csv_safe(5) == 5 and csv_safe("") == ""
