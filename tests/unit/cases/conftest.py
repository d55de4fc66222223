"""A small hall for the case module: two departments, a promised and an immediate item, an issuance queue."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from queue_server.clock import OffsetClock
from queue_server.domain.calling import DefaultCallingPolicy
from queue_server.domain.cases import CaseSettings
from queue_server.domain.hall import HallConfig
from queue_server.domain.privacy import id_check_char
from queue_server.domain.workdays import WorkCalendar
from queue_server.services import staff as staff_service
from queue_server.services.context import Actor, HallContext, NullPublisher
from queue_server.store.db import ensure_hall, make_engine, migrate

TZ = ZoneInfo("Asia/Shanghai")
WINDOW = Actor("staff", "li.na")
APPROVER = Actor("staff", "mz.zhang")
PAD = Actor("device", "window-1")
CITIZEN = Actor("citizen", "anonymous")


def make_id(body17: str = "62300119800101123") -> str:
    return body17 + id_check_char(body17)


ID = make_id()
PHONE = "13893912345"

CASE_HALL = {
    "hall": {"id": "test", "name": {"zh": "测试政务服务中心"}, "complaint_phone": "0941-12345",
             "tracker_base_url": "https://hall.example"},
    "hours": {"sessions": [{"start": "09:00", "end": "12:00"}, {"start": "14:30", "end": "17:30"}]},
    "sites": [{"id": "main", "name": {"zh": "主厅"}}],
    "zones": [{"id": "z1", "site": "main", "kind": "comprehensive", "name": {"zh": "综合区"}},
              {"id": "out", "site": "main", "kind": "issuance", "name": {"zh": "出件区"}}],
    "departments": [{"id": "civil", "name": "市民政局"}, {"id": "hr", "name": "市人社局"}],
    "queues": [{"id": "a", "prefix": "A", "name": {"zh": "综合"}, "zone": "z1"},
               {"id": "issuance", "prefix": "M", "name": {"zh": "统一出件"}, "zone": "out"}],
    "windows": [{"id": "w1", "number": 1, "name": {"zh": "1号窗口"}, "zone": "z1", "queues": [{"queue": "a"}]},
                {"id": "w28", "number": 28, "name": {"zh": "28号统一出件窗口"}, "zone": "out",
                 "queues": [{"queue": "issuance"}]}],
    "items": [
        {"id": "relief", "name": "最低生活保障申请", "department": "civil", "queue": "a", "kind": "promised",
         "promised_days": 5, "statutory_days": 20, "materials": [
             {"name": "居民身份证", "original": True, "e_licence": True},
             {"name": "户口簿", "original": True, "copies": 1},
             {"name": "家庭收入证明", "original": True, "tolerance": True},
             {"name": "近期照片", "original": False, "copies": 2, "tolerance": True}]},
        {"id": "quick", "name": "社保参保证明打印", "department": "hr", "queue": "a", "kind": "immediate",
         "materials": [{"name": "居民身份证", "original": True, "e_licence": True}]},
        {"id": "result-pickup", "name": "办理结果领取", "department": "civil", "queue": "issuance",
         "kind": "immediate"},
    ],
}

SETTINGS = CaseSettings(ab_posts={"civil": {"primary": "mz.zhang", "backup": "mz.li"}}, complaint_phone=None)


@pytest.fixture(scope="session")
def case_template_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cases-tpl") / "template.db"
    engine = make_engine(str(path), synchronous="OFF")
    migrate(engine)
    ensure_hall(engine, "test")
    now = datetime(2026, 1, 1, tzinfo=TZ)
    for username, name, roles, depts in (("li.na", "李娜", ["window_staff"], []),
                                         ("mz.zhang", "张明", ["approver"], ["civil"]),
                                         ("mz.li", "李强", ["approver"], ["civil"]),
                                         ("hr.wang", "王芳", ["approver"], ["hr"])):
        staff_service.add_user(engine, now, username, name, "password-123", roles, ["w1"] if "window_staff" in roles
                               else [], depts, "综合受理岗" if "window_staff" in roles else None)
    engine.dispose()
    return path


def make_hall(template: Path, tmp_path: Path, start: datetime, calendar: WorkCalendar | None = None) -> HallContext:
    db = tmp_path / f"hall-{start:%Y%m%d}.db"
    shutil.copy(template, db)
    config = HallConfig.model_validate(CASE_HALL)
    engine = make_engine(str(db), synchronous="OFF")
    ctx = HallContext(config=config, engine=engine, clock=OffsetClock(start), policy=DefaultCallingPolicy(config.calling),
                      calendar=calendar or WorkCalendar(), publisher=NullPublisher(), person_secret=b"k",
                      case_settings=SETTINGS)
    return ctx


@pytest.fixture
def hall(case_template_db, tmp_path):
    """Thursday 2026-11-26, 09:30 in Hezuo."""
    ctx = make_hall(case_template_db, tmp_path, datetime(2026, 11, 26, 9, 30, tzinfo=TZ))
    yield ctx
    ctx.engine.dispose()


@pytest.fixture
def hall_at(case_template_db, tmp_path):
    made: list[HallContext] = []

    def factory(start: datetime) -> HallContext:
        ctx = make_hall(case_template_db, tmp_path, start)
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        ctx.engine.dispose()
