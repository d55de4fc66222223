"""The kiosk's files and the citizen texts are read once when the server is made: a broken one stops the start
with every problem, naming the file, the entry and what is wrong, before the database is touched."""

from __future__ import annotations

import shutil

import pytest

from config import CONFIG_DIR
from queue_server.app import create_app
from queue_server.hall_config import ConfigError
from queue_server.i18n import I18N_DIR, load_texts
from queue_server.settings import Settings


def test_a_broken_kiosk_file_stops_the_start_naming_the_file_and_the_mistake(tmp_path):
    shutil.copy(CONFIG_DIR / "hall.yaml", tmp_path / "hall.yaml")
    flows = (CONFIG_DIR / "flows.yaml").read_text(encoding="utf-8").replace("assisted_queue: ", "assisted_queue: no-")
    (tmp_path / "flows.yaml").write_text(flows, encoding="utf-8")
    (tmp_path / "appointments.yaml").write_text("early_min: -5\n", encoding="utf-8")
    db = tmp_path / "hall.db"
    with pytest.raises(ConfigError) as exc:
        create_app(Settings(database=str(db), config_path=str(tmp_path / "hall.yaml"), background_tasks=False))
    lines = [str(p) for p in exc.value.problems]
    assert any(line.startswith(f"{tmp_path / 'flows.yaml'}: destinations") and "no-" in line for line in lines), lines
    assert any(line.startswith(f"{tmp_path / 'appointments.yaml'}: early_min:") for line in lines), lines
    assert not db.exists()  # stopped before the database was created or migrated


def test_the_server_context_holds_the_kiosk_setup_and_texts_read_at_start(tmp_path):
    app = create_app(Settings(database=str(tmp_path / "hall.db"), background_tasks=False))
    ctx = app.extensions["onewindow"]
    assert ctx.kiosk_setup().flows_source == str(CONFIG_DIR / "flows.yaml")
    assert ctx.citizen_texts().text("en", "ticket.ahead", n=1) == "1 person ahead of you"


def test_a_broken_translation_file_is_named_with_its_line(tmp_path):
    for f in I18N_DIR.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "bo.yaml").write_text("ticket:\n  ahead: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bo.yaml: line \d+, column \d+: YAML syntax error"):
        load_texts(tmp_path)
    (tmp_path / "bo.yaml").write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bo.yaml: expected sections"):
        load_texts(tmp_path)
    (tmp_path / "bo.yaml").unlink()
    (tmp_path / "catalogue.yaml").write_text("items: [a]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="catalogue.yaml: items: expected a mapping"):
        load_texts(tmp_path)
