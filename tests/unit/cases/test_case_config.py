"""The case settings are loaded once when the server starts: a broken cases.yaml stops the start naming the file and
the setting; a hall of queues only (no cases.yaml, no issuance queue) starts and refuses case use cases clearly."""

from pathlib import Path

import pytest
import yaml

from config import CONFIG_DIR
from queue_server.app import create_app
from queue_server.case_config import load_case_settings
from queue_server.domain.hall import HallConfig
from queue_server.hall_config import ConfigError, load_hall
from queue_server.services import staff as staff_service
from queue_server.settings import Settings
from tests.unit.server.conftest import SMALL_HALL

from .conftest import CASE_HALL

PASSWORD = "correct-horse-1"


def _write(directory: Path, hall: dict, cases: str | None = None) -> Path:
    path = directory / "hall.yaml"
    path.write_text(yaml.safe_dump(hall, allow_unicode=True), encoding="utf-8")
    if cases is not None:
        (directory / "cases.yaml").write_text(cases, encoding="utf-8")
    return path


def _start(tmp_path: Path, hall_file: Path, auth_required: bool = False, **kw: str):
    return create_app(Settings(database=str(tmp_path / "a.db"), config_path=str(hall_file), background_tasks=False,
                               testing=True, auth_required=auth_required, always_open=True, sqlite_synchronous="OFF",
                               **kw))


def test_a_broken_cases_file_stops_the_start_naming_the_file_and_the_setting(tmp_path):
    hall = _write(tmp_path, CASE_HALL, "warning_days: 99\nissuance_queu: issuance\nab_posts:\n  civil: {primary: a}\n")
    with pytest.raises(ConfigError) as caught:
        _start(tmp_path, hall)
    found = {(p.file, p.where) for p in caught.value.problems}
    assert found == {(str(tmp_path / "cases.yaml"), "warning_days"), (str(tmp_path / "cases.yaml"), "issuance_queu"),
                     (str(tmp_path / "cases.yaml"), "ab_posts > civil > backup")}
    assert "unknown setting" in str(caught.value)
    assert not (tmp_path / "a.db").exists()  # refused before the database is touched


def test_settings_that_do_not_fit_the_hall_stop_the_start(tmp_path):
    _write(tmp_path, CASE_HALL)
    other = tmp_path / "elsewhere.yaml"
    other.write_text("issuance_queue: pickup\nab_posts:\n  tax: {primary: a, backup: b}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        _start(tmp_path, tmp_path / "hall.yaml", cases_path=str(other))
    assert [(p.file, p.where) for p in caught.value.problems] == [(str(other), "issuance_queue"),
                                                                   (str(other), "ab_posts > tax")]
    assert "'pickup' is not in the hall's queues" in str(caught.value)


def test_yaml_syntax_and_a_missing_named_file_are_reported_with_the_file(tmp_path):
    hall = HallConfig.model_validate(CASE_HALL)
    bad = tmp_path / "cases.yaml"
    bad.write_text("warning_days: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cases.yaml: line \d+, column \d+: YAML syntax error"):
        load_case_settings(hall, tmp_path / "hall.yaml")
    with pytest.raises(ConfigError, match="missing.yaml: file not found"):
        load_case_settings(hall, None, tmp_path / "missing.yaml")
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_case_settings(hall, tmp_path / "hall.yaml")


def test_a_hall_without_a_cases_file_runs_with_the_defaults_when_they_fit(tmp_path):
    settings = load_case_settings(HallConfig.model_validate(CASE_HALL), tmp_path / "hall.yaml")
    assert settings is not None and settings.issuance_queue == "issuance" and settings.ab_posts == {}


def test_the_bundled_hall_runs_with_config_cases_yaml():
    settings = load_case_settings(load_hall(), None)
    raw = yaml.safe_load((CONFIG_DIR / "cases.yaml").read_text(encoding="utf-8"))
    assert settings is not None and settings.complaint_phone == raw["complaint_phone"]
    assert set(settings.ab_posts) == set(raw["ab_posts"])


def test_a_hall_of_queues_only_starts_and_refuses_case_use_cases_clearly(tmp_path):
    hall = _write(tmp_path, SMALL_HALL)  # no cases.yaml, and no issuance queue for the defaults
    app = _start(tmp_path, hall, auth_required=True)
    ctx = app.extensions["onewindow"]
    assert ctx.case_settings is None
    staff_service.add_user(ctx.engine, ctx.now(), "boss", "赵强", PASSWORD, ["supervisor"], ["w1"], [])
    client = app.test_client()
    assert client.post("/api/v1/auth/login", json={"username": "boss", "password": PASSWORD}).status_code == 200
    out = client.get("/api/v1/supervision/cases")
    assert out.status_code == 409
    assert out.get_json()["error"]["code"] == "cases_not_configured"
    assert "cases.yaml" in out.get_json()["error"]["message"]
    # the window panel, which marks the issuance queue's tickets, serves a hall that has none
    panel = client.get("/staff/panel?window=w1")
    assert panel.status_code == 200 and 'data-issuance-queue=""' in panel.get_data(as_text=True)
