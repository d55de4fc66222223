"""The bundled Hezuo hall with its kiosk configuration, on a fresh SQLite file and a clock at 09:30 on a Thursday."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from queue_server.clock import OffsetClock
from queue_server.domain.calling import DefaultCallingPolicy
from queue_server.domain.workdays import WorkCalendar
from queue_server.hall_config import load_hall
from queue_server.i18n import Texts, load_texts
from queue_server.kiosk_config import KioskSetup, load_kiosk
from queue_server.services.context import HallContext, NullPublisher
from queue_server.store.db import ensure_hall, make_engine, migrate

TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 11, 26, 9, 30, tzinfo=TZ)


@pytest.fixture(scope="session")
def bundled_hall():
    return load_hall()


@pytest.fixture(scope="session")
def texts() -> Texts:
    return load_texts()


@pytest.fixture(scope="session")
def setup(bundled_hall, texts) -> KioskSetup:
    return load_kiosk(bundled_hall, texts)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory, bundled_hall) -> Path:
    path = tmp_path_factory.mktemp("kiosk-tpl") / "template.db"
    engine = make_engine(str(path))
    migrate(engine)
    ensure_hall(engine, bundled_hall.hall.id)
    engine.dispose()
    return path


@pytest.fixture
def hall(template_db, tmp_path, bundled_hall, setup, texts):
    db = tmp_path / "hall.db"
    shutil.copy(template_db, db)
    engine = make_engine(str(db))
    ctx = HallContext(config=bundled_hall, engine=engine, clock=OffsetClock(MORNING),
                      policy=DefaultCallingPolicy(bundled_hall.calling), calendar=WorkCalendar(),
                      publisher=NullPublisher(), person_secret=b"k", kiosk=setup, texts=texts)
    yield ctx
    engine.dispose()
