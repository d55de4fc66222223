"""config/flows.yaml: the bundled file is valid; every kind of mistake is reported naming the entry; answers lead
to the right place; every screen's words exist in zh, bo and en."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from config import CONFIG_DIR
from queue_server.domain.flows import FlowsConfig, Outcome, check_flows, resolve
from queue_server.hall_config import ConfigError
from queue_server.kiosk_config import generated_flows, load_kiosk

KIOSK = Path(__file__).resolve().parents[3] / "kiosk"
RAW = yaml.safe_load((CONFIG_DIR / "flows.yaml").read_text(encoding="utf-8"))


def problems(raw: dict, hall) -> list[str]:
    return check_flows(FlowsConfig.model_validate(raw), hall)


def test_bundled_flows_are_valid_and_reach_items_of_every_theme_zone(setup, bundled_hall):
    assert setup.flows_source.endswith("flows.yaml")
    assert check_flows(setup.flows, bundled_hall) == []
    tiles = {t.id for t in setup.flows.tiles}
    assert {"enterprise", "project", "tax", "civil", "medical", "police", "social", "judicial", "help"} <= tiles


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["flows"]["civil"]["nodes"]["marriage"]["options"][0].update(item="marrige"),
     "flows > civil > nodes > marriage > options[0] (结婚登记): item 'marrige' is not a service item"),
    (lambda r: r["flows"]["police"]["nodes"]["what"]["options"][0].update(next="idcards"),
     "flows > police > nodes > what > options[0] (身份证): next 'idcards' is not a node of flow 'police'"),
    (lambda r: r["flows"]["police"]["nodes"]["idcard"]["options"][0].update(item=None, next="what"),
     "flows > police: the answers loop (what -> idcard -> what)"),
    (lambda r: r["flows"]["civil"]["nodes"].update(orphan=copy.deepcopy(r["flows"]["civil"]["nodes"]["marriage"])),
     "flows > civil > nodes > orphan: never reached from start 'what'"),
    (lambda r: r["flows"]["tax"]["nodes"]["who"]["options"][0]["items"].update(ids=["no-such-item"]),
     "options[0] (个人：个税、完税证明、契税、车购税) > items > ids: 'no-such-item' is not a service item"),
    (lambda r: r["flows"]["project"]["nodes"]["what"]["options"][0]["items"].update(themes=["不存在"]),
     "items > themes: no item has the theme '不存在'"),
    (lambda r: r["tiles"][0].update(zone="nowhere"), 'tiles[0] (id "social"): zone \'nowhere\' is not a zone'),
    (lambda r: r["tiles"][0].update(flow="nope"), 'tiles[0] (id "social"): flow \'nope\' is not defined'),
    (lambda r: r["flows"]["help"]["nodes"]["who"]["options"][4].update(assisted="nobody"),
     "assisted reason 'nobody' is not in assisted_reasons"),
    (lambda r: r["keywords"].update({"ghost-item": ["鬼"]}), "keywords > ghost-item: no service item has this id"),
    (lambda r: r["tiles"].append({**r["tiles"][0]}), "tiles: id 'social' is used twice"),
    (lambda r: r.update(destinations={"assisted_queue": "nope"}), "destinations > assisted_queue: queue 'nope'"),
    (lambda r: r["flows"]["other"]["nodes"]["dept"]["options"][0]["items"].update(queues=["comprehensive", "domain", "police", "medical"]),
     "items are too many for one screen list; split it by theme"),
])
def test_mistakes_are_named(bundled_hall, change, message):
    raw = copy.deepcopy(RAW)
    change(raw)
    found = problems(raw, bundled_hall)
    assert any(message in p for p in found), found


def test_field_errors_name_the_file_and_entry(tmp_path, bundled_hall, texts):
    """A label without Tibetan and an answer with two targets: both reported, with the file and the path."""
    raw = copy.deepcopy(RAW)
    del raw["flows"]["civil"]["nodes"]["marriage"]["options"][1]["label"]["bo"]
    raw["flows"]["police"]["nodes"]["idcard"]["options"][0]["queue"] = "police"
    (tmp_path / "hall.yaml").write_text((CONFIG_DIR / "hall.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "flows.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    (tmp_path / "appointments.yaml").write_text("early_min: -5\nlate: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_kiosk(bundled_hall, texts, str(tmp_path / "hall.yaml"))
    text = str(exc.value)
    assert "flows.yaml: flows > civil > nodes > marriage > options[1] > label > bo: required setting is missing" in text
    assert "flows.yaml: flows > police > nodes > idcard > options[0] (queue \"police\"): give exactly one of" in text
    assert "appointments.yaml: early_min:" in text and "appointments.yaml: late: unknown setting" in text


def test_yaml_syntax_error_names_line(tmp_path, bundled_hall, texts):
    (tmp_path / "hall.yaml").write_text("x: 1\n", encoding="utf-8")
    (tmp_path / "flows.yaml").write_text("tiles: [\n  - a: {b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"flows.yaml: line \d+, column \d+: YAML syntax error"):
        load_kiosk(bundled_hall, texts, str(tmp_path / "hall.yaml"))


def test_a_hall_without_flows_file_gets_flows_generated_from_its_queues(tmp_path, texts):
    from queue_server.domain.hall import HallConfig

    hall = HallConfig.model_validate({
        "hall": {"id": "t", "name": {"zh": "测试"}},
        "hours": {"sessions": [{"start": "09:00", "end": "12:00"}]},
        "sites": [{"id": "main", "name": {"zh": "主"}}],
        "zones": [{"id": "z", "site": "main", "kind": "comprehensive", "name": {"zh": "综合"}}],
        "departments": [{"id": "d", "name": "部门"}],
        "queues": [{"id": "qa", "prefix": "A", "name": {"zh": "甲"}, "zone": "z"},
                   {"id": "qb", "prefix": "B", "name": {"zh": "乙"}, "zone": "z"}],
        "windows": [{"id": "w1", "number": 1, "name": {"zh": "1"}, "zone": "z",
                     "queues": [{"queue": "qa"}, {"queue": "qb"}]}],
        "items": [{"id": "i1", "name": "事项", "department": "d", "queue": "qb", "kind": "immediate"}],
    })
    (tmp_path / "hall.yaml").write_text("placeholder", encoding="utf-8")
    setup = load_kiosk(hall, texts, str(tmp_path / "hall.yaml"))
    assert setup.flows_source.startswith("generated")
    assert check_flows(FlowsConfig.model_validate(generated_flows(hall, texts)), hall) == []
    assert [t.id for t in setup.flows.tiles] == ["qb", "help"]  # qa is the fallback assisted queue
    # The generated words come from the translations (config/i18n kiosk.*), in every language.
    help_label = setup.flows.tiles[1].label
    assert (help_label.zh, help_label.en) == ("不知道办什么？找人帮我", "Not sure? Help me") and help_label.bo
    assert setup.flows.flows["qb"].nodes["pick"].ask.en == "Choose the service"


def test_answers_lead_to_self_service_assisted_or_a_window(setup, bundled_hall):
    f = setup.flows
    online = resolve(bundled_hall, f, item_id="company-establishment")  # fully online
    assert (online.outcome, online.queue_id, online.window_queue_id) == (Outcome.SELF_SERVICE, "self-service-help",
                                                                          "enterprise")
    window = resolve(bundled_hall, f, item_id="id-card-renew")
    assert (window.outcome, window.queue_id) == (Outcome.WINDOW, "police")
    one_thing = resolve(bundled_hall, f, item_id="retirement-one-thing")
    assert (one_thing.outcome, one_thing.queue_id, one_thing.reason) == (Outcome.ASSISTED, "assisted", "一件事一次办")
    disabled = resolve(bundled_hall, f, assisted="disabled", legal_reason="disabled")
    assert (disabled.outcome, disabled.legal_reason) == (Outcome.ASSISTED, "disabled")
    assert resolve(bundled_hall, f, queue_id="tax").outcome is Outcome.WINDOW
    with pytest.raises(KeyError):
        resolve(bundled_hall, f, item_id="nope")


def test_translations_have_the_same_keys_in_every_language_and_cover_the_page():
    dicts = {lang: json.loads((KIOSK / "static" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
             for lang in ("zh", "bo", "en")}
    assert dicts["zh"].keys() == dicts["bo"].keys() == dicts["en"].keys()
    for lang, d in dicts.items():
        assert all(v.strip() for v in d.values()), lang
        for k, v in d.items():
            assert set(re.findall(r"\{(\w+)\}", v)) == set(re.findall(r"\{(\w+)\}", dicts["zh"][k])), (lang, k)
    assert all(re.search("[\u0f00-\u0fff]", v) for v in dicts["bo"].values() if not v.isascii())
    js = (KIOSK / "static" / "kiosk.js").read_text(encoding="utf-8")
    used = set(re.findall(r'\bt\("(\w+)"', js))
    used |= {"err_" + c for c in re.search(r"var ERRORS = \{(.*?)\};", js, re.S).group(1).replace(" ", "")
             .replace("\n", "").split(":1,") if c and c != ":1"}
    used = {u.removesuffix(":1") for u in used}
    missing = sorted(u for u in used if u not in dicts["zh"])
    assert not missing, missing


def test_every_asset_of_the_page_is_local():
    html = (KIOSK / "templates" / "kiosk" / "index.html").read_text(encoding="utf-8")
    css = (KIOSK / "static" / "kiosk.css").read_text(encoding="utf-8")
    js = (KIOSK / "static" / "kiosk.js").read_text(encoding="utf-8")
    for text in (html, css, js):
        assert not re.search(r"(src|href)=\"(https?:)?//", text)
        assert "url(http" not in text and "@import" not in text
    assert (KIOSK / "static" / "fonts" / "TibetanMachineUni.ttf").stat().st_size > 1_000_000
    assert "GPL" in (KIOSK / "static" / "fonts" / "README.md").read_text(encoding="utf-8")
