"""Services against a real SQLite file and a controllable clock; no server, no sockets."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from queue_server.clock import OffsetClock
from queue_server.domain.calling import DefaultCallingPolicy
from queue_server.domain.hall import HallConfig
from queue_server.domain.workdays import WorkCalendar
from queue_server.services.context import HallContext, NullPublisher
from queue_server.store.db import ensure_hall, make_engine, migrate

TZ = ZoneInfo("Asia/Shanghai")

SMALL_HALL = {
    "hall": {"id": "test", "name": {"zh": "测试大厅"}},
    "hours": {"sessions": [{"start": "09:00", "end": "12:00"}, {"start": "14:30", "end": "17:30"}]},
    "calling": {"priority_per_normal": 2, "max_recalls": 2},
    "sites": [{"id": "main", "name": {"zh": "主厅"}}],
    "zones": [{"id": "z1", "site": "main", "kind": "comprehensive", "name": {"zh": "综合区"}}],
    "departments": [{"id": "d1", "name": "部门"}],
    "queues": [
        {"id": "a", "prefix": "A", "name": {"zh": "综合"}, "zone": "z1"},
        {"id": "b", "prefix": "B", "name": {"zh": "分领域"}, "zone": "z1", "daily_cap": 3},
        {"id": "c", "prefix": "C", "name": {"zh": "项目"}, "zone": "z1",
         "issue_windows": [{"start": "09:00", "end": "10:00"}]},
    ],
    "windows": [
        {"id": "w1", "number": 1, "name": {"zh": "1号窗口"}, "zone": "z1",
         "queues": [{"queue": "a", "weight": 1}, {"queue": "b", "weight": 1}]},
        {"id": "w2", "number": 2, "name": {"zh": "2号窗口"}, "zone": "z1", "queues": [{"queue": "a"}]},
        {"id": "w3", "number": 3, "name": {"zh": "3号窗口"}, "zone": "z1", "queues": [{"queue": "c"}]},
    ],
    "items": [
        {"id": "i1", "name": "事项一", "department": "d1", "queue": "a", "kind": "immediate", "daily_cap": 2},
    ],
}


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    engine = make_engine(str(path))
    migrate(engine)
    ensure_hall(engine, "test")
    engine.dispose()
    return path


@pytest.fixture
def hall(template_db, tmp_path):
    """A HallContext at 09:30 on Thursday 2026-11-26 with its own database file."""
    db = tmp_path / "hall.db"
    shutil.copy(template_db, db)
    config = HallConfig.model_validate(SMALL_HALL)
    clock = OffsetClock(datetime(2026, 11, 26, 9, 30, tzinfo=TZ))
    engine = make_engine(str(db))
    ctx = HallContext(config=config, engine=engine, clock=clock, policy=DefaultCallingPolicy(config.calling),
                      calendar=WorkCalendar(), publisher=NullPublisher(), person_secret=b"k")
    yield ctx
    engine.dispose()


def at_local(hh: int, mm: int = 0, day: int = 26) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=TZ)


