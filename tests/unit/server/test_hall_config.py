import copy

import pytest

from config import DEFAULT_HALL
from queue_server.hall_config import ConfigError, load_calendar, load_hall, parse_hall

from .conftest import SMALL_HALL


def test_default_hall_loads_and_is_marked_sample():
    cfg = load_hall(DEFAULT_HALL)
    assert cfg.sample_data
    assert len(cfg.items) >= 60
    assert {s.id for s in cfg.sites} >= {"main", "judicial"}
    comprehensive = [w for w in cfg.windows if w.zone == "comprehensive"]
    assert len(comprehensive) == 2
    kinds = {z.kind.value for z in cfg.zones}
    assert {"self_service", "assisted", "comprehensive", "themed", "copy"} <= kinds
    assert all(i.promised_days <= i.statutory_days or i.statutory_days == 0 for i in cfg.items)


def test_every_error_is_reported_at_once_with_its_entry():
    raw = copy.deepcopy(SMALL_HALL)
    raw["queues"][0]["prefix"] = "a1"
    raw["windows"][0]["queues"].append({"queue": "nope"})
    del raw["items"][0]["kind"]
    raw["zones"][0]["kind"] = "bogus"
    raw["colour"] = "blue"
    with pytest.raises(ConfigError) as e:
        parse_hall(raw, "hall.yaml")
    text = str(e.value)
    assert len(e.value.problems) == 5
    assert 'queues[0] (id "a") > prefix' in text and "capital letters" in text
    assert "window 'w1': queue 'nope' is not defined" in text
    assert 'items[0] (id "i1") > kind: required setting is missing' in text
    assert "'bogus' is not allowed" in text
    assert "colour: unknown setting" in text


def test_yaml_syntax_error_names_the_line(tmp_path):
    p = tmp_path / "hall.yaml"
    p.write_text("hall:\n  id: x\n  name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_hall(p)
    assert "line" in str(e.value) and "YAML syntax error" in str(e.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_hall(tmp_path / "none.yaml")


def test_calendar_overlay_errors_and_values(tmp_path):
    p = tmp_path / "cal.yaml"
    p.write_text("holidays: [2026-11-26, notadate]\nworkdays: [2026-11-26]\nextra: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_calendar(p)
    assert len(e.value.problems) == 3
    p.write_text("holidays: [2026-11-26]\nfull_years: [2031]\n", encoding="utf-8")
    cal = load_calendar(p)
    from datetime import date

    assert not cal.is_workday(date(2026, 11, 26)) and cal.knows(date(2031, 3, 3))
