"""``onewindow backup`` under load and ``onewindow restore``: nothing acknowledged before the backup is lost.

A live server (default hall and case catalogue) issues tickets and records cases from two client threads while
``onewindow backup`` runs as its own process; the backup is restored into a new file, a second server starts on
it, and every ticket and case acknowledged before the backup started is read back from it.
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest_server import ONEWINDOW, ServerFactory, fresh_pg_database
from tests.support.live import StaffSession, add_staff


def _valid_id(body17: str) -> str:
    from queue_server.domain.privacy import id_check_char

    return body17 + id_check_char(body17)


class Load:
    """Issue tickets and record cases until stopped; remember when each one was acknowledged."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.tickets: list[tuple[float, int, str]] = []  # (acknowledged at, id, number)
        self.cases: list[tuple[float, int]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._issue, daemon=True),
                        threading.Thread(target=self._cases, daemon=True)]

    def start(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(20)

    def _issue(self) -> None:
        http = requests.Session()
        while not self.stop.is_set():
            r = http.post(f"{self.base}/api/v1/tickets", json={"queue_id": "comprehensive"},
                          headers={"Idempotency-Key": secrets.token_hex(8)}, timeout=15)
            if r.status_code == 201:
                ticket = r.json()["ticket"]
                self.tickets.append((time.monotonic(), ticket["id"], ticket["number"]))
            elif r.status_code >= 500:
                self.errors.append(f"issue: {r.status_code} {r.text[:200]}")

    def _cases(self) -> None:
        clerk = StaffSession(self.base, "li.na")
        n = 0
        while not self.stop.is_set():
            n += 1
            r = clerk.post("/cases", json={
                "item_id": "teacher-registration", "applicant_name": "王小娜", "window_id": "w01",
                "id_number": _valid_id(f"623001198001{n % 9000 + 1000:04d}1"), "phone": "13893912345",
                "materials": ["e_licence", "original", "original", "original"]})
            if r.status_code == 201:
                self.cases.append((time.monotonic(), r.json()["case"]["id"]))
            elif r.status_code >= 500:
                self.errors.append(f"case: {r.status_code} {r.text[:200]}")


def test_a_backup_taken_under_load_restores_every_acknowledged_ticket_and_case(servers: ServerFactory,
                                                                             tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    add_staff(str(db), "li.na", roles=("window_staff",), windows=("w01",))
    server = servers.start(database=str(db), always_open=True)
    load = Load(server.url).start()
    try:
        time.sleep(2.0)  # a few hundred writes in, and still writing
        backup_file = tmp_path / "backups" / "hall.db"
        started = time.monotonic()
        done = subprocess.run([str(ONEWINDOW), "backup", str(backup_file), "--database", str(db)],
                              capture_output=True, text=True, timeout=60)
        finished = time.monotonic()
        time.sleep(0.5)  # writes carried on during and after the backup
    finally:
        load.finish()
    assert done.returncode == 0, done.stderr
    assert "backup written to" in done.stdout and (backup_file.stat().st_mode & 0o777) == 0o600
    assert load.errors == []
    before = [t for t in load.tickets if t[0] < started]
    cases_before = [c for c in load.cases if c[0] < started]
    during_or_after = [t for t in load.tickets if t[0] > finished]
    assert len(before) >= 10 and len(cases_before) >= 3 and during_or_after, (len(before), len(cases_before))

    restored = tmp_path / "restored" / "hall.db"
    put_back = subprocess.run([str(ONEWINDOW), "restore", str(backup_file), "--database", str(restored)],
                              capture_output=True, text=True, timeout=60)
    assert put_back.returncode == 0, put_back.stderr
    again = subprocess.run([str(ONEWINDOW), "restore", str(backup_file), "--database", str(restored)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "--force" in again.stderr and "already holds a database" in again.stderr

    second = servers.start(database=str(restored), always_open=True, name="restored")
    staff = StaffSession(second.url)
    for _, ticket_id, number in before:
        r = staff.get(f"/tickets/{ticket_id}")
        assert r.status_code == 200 and r.json()["ticket"]["number"] == number, (ticket_id, r.status_code)
    for _, case_id in cases_before:
        assert staff.get(f"/cases/{case_id}").status_code == 200, case_id
    # the restored hall carries on numbering after the last ticket it holds, never reusing a number
    last = max(int(number[1:]) for _, _, number in before)
    fresh = requests.post(f"{second.url}/api/v1/tickets", json={"queue_id": "comprehensive"},
                          headers={"Idempotency-Key": "after-restore"}, timeout=15).json()["ticket"]
    assert int(fresh["number"][1:]) > last


@pytest.mark.postgres
def test_postgresql_backup_and_restore_go_through_pg_dump(pg_database: str, tmp_path: Path) -> None:
    add_staff(pg_database, "li.na", roles=("window_staff",), windows=("w01",))
    out = tmp_path / "hall.pgdump"
    done = subprocess.run([str(ONEWINDOW), "backup", str(out), "--database", pg_database],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:5] == b"PGDMP" and (out.stat().st_mode & 0o777) == 0o600
    with fresh_pg_database() as target:
        refused = subprocess.run([str(ONEWINDOW), "restore", str(out), "--database", target],
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2 and "pg_restore --clean" in refused.stderr and "--force" in refused.stderr
        put_back = subprocess.run([str(ONEWINDOW), "restore", str(out), "--database", target, "--force"],
                                  capture_output=True, text=True, timeout=120)
        assert put_back.returncode == 0, put_back.stderr
        import psycopg

        with psycopg.connect(target) as conn:
            assert conn.execute("SELECT count(*) FROM staff WHERE username = 'li.na'").fetchone() == (1,)
