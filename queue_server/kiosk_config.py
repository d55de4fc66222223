"""Loading the kiosk's configuration beside the hall file (flows.yaml, appointments.yaml), validated against the
hall, every problem at once naming the file and the entry. ``create_app`` calls it once; services get the result
in ``HallContext.kiosk`` and open no file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config import CONFIG_DIR

from .domain.flows import AppointmentSettings, FlowsConfig, check_flows
from .domain.hall import HallConfig, ZoneKind, every_language
from .domain.search import Entry, SearchIndex
from .hall_config import ConfigError, ConfigProblem, read_yaml, validation_problems
from .i18n import Texts

FLOWS_FILE = "flows.yaml"
APPOINTMENTS_FILE = "appointments.yaml"


@dataclass(frozen=True)
class KioskSetup:
    """The kiosk's configuration, validated against the hall once at start."""

    flows: FlowsConfig
    appointments: AppointmentSettings
    index: SearchIndex
    flows_source: str  # the file, or "generated from <hall>" when the hall has no flows file


def _beside(config_path: str | None, name: str) -> Path | None:
    """The kiosk file next to the hall file; the bundled one for the bundled hall; None for another hall
    without its own file (its flows are then generated from its queues and items)."""
    if config_path is None:
        return CONFIG_DIR / name
    p = Path(config_path).resolve().parent / name
    if p.exists():
        return p
    if Path(config_path).resolve() == (CONFIG_DIR / "hall.yaml").resolve():
        return CONFIG_DIR / name
    return None


def generated_flows(hall: HallConfig, texts: Texts) -> dict[str, Any]:
    """Flows for a hall without a flows file: one tile per queue listing its items, and the help tile."""
    kinds = {z.id: z.kind for z in hall.zones}
    assisted = next((q.id for q in hall.queues if kinds.get(q.zone) is ZoneKind.ASSISTED), hall.queues[0].id)
    self_service = next((q.id for q in hall.queues if kinds.get(q.zone) is ZoneKind.SELF_SERVICE), assisted)
    tiles: list[dict[str, Any]] = []
    flows: dict[str, Any] = {}
    for q in hall.queues:
        if q.id in (assisted, self_service):
            continue
        label = every_language(q.name)
        items = [i.id for i in hall.items if i.queue == q.id]
        tile: dict[str, Any] = {"id": q.id, "label": label, "group": "theme", "zone": q.zone}
        if items and len(items) <= 40:
            flows[q.id] = {"title": label, "start": "pick", "nodes": {"pick": {
                "ask": texts.each_language("kiosk.pick_item"),
                "options": [{"label": label, "items": {"queues": [q.id]}},
                            {"label": texts.each_language("kiosk.other_item"), "queue": q.id}]}}}
            tile["flow"] = q.id
        else:
            tile["queue"] = q.id
        tiles.append(tile)
    tiles.append({"id": "help", "group": "help", "icon": "帮", "label": texts.each_language("kiosk.help"),
                  "assisted": "consult"})
    return {
        "version": 1,
        "destinations": {"assisted_queue": assisted, "self_service_queue": self_service},
        "online": {"portals": [{"name": texts.each_language("kiosk.portal"), "url": "https://zwfw.gansu.gov.cn/"}],
                   "steps": [texts.each_language("kiosk.portal_steps")]},
        "assisted_reasons": {"consult": texts.each_language("kiosk.consult")},
        "tiles": tiles,
        "flows": flows,
    }


def load_kiosk(hall: HallConfig, texts: Texts, config_path: str | None = None) -> KioskSetup:
    """Read and validate the flows and appointment files beside the hall file; every problem at once, each
    naming the file and the entry."""
    problems: list[ConfigProblem] = []
    fp = _beside(config_path, FLOWS_FILE)
    if fp is None:
        raw_flows: Any = generated_flows(hall, texts)
        source = f"generated from {config_path}"
    else:
        raw_flows = read_yaml(fp)
        source = str(fp)
    flows: FlowsConfig | None = None
    if not isinstance(raw_flows, dict):
        problems.append(ConfigProblem(source, "", "the file must hold a mapping (tiles:, flows:, ...)"))
    else:
        try:
            flows = FlowsConfig.model_validate(raw_flows)
        except ValidationError as exc:
            problems += validation_problems(source, raw_flows, exc)
    if flows is not None:
        problems += [ConfigProblem(source, *_split(msg)) for msg in check_flows(flows, hall)]
    ap = _beside(config_path, APPOINTMENTS_FILE)
    settings = AppointmentSettings()
    if ap is not None and ap.exists():
        raw = read_yaml(ap) or {}
        if not isinstance(raw, dict):
            problems.append(ConfigProblem(str(ap), "", "the file must hold a mapping (early_min:, late_min:, ...)"))
        else:
            try:
                settings = AppointmentSettings.model_validate(raw)
            except ValidationError as exc:
                problems += validation_problems(str(ap), raw, exc)
    if problems:
        raise ConfigError(problems)
    assert flows is not None
    return KioskSetup(flows, settings, build_index(hall, flows), source)


def _split(msg: str) -> tuple[str, str]:
    where, sep, rest = msg.partition(": ")
    return (where, rest) if sep else ("", msg)


def build_index(hall: HallConfig, flows: FlowsConfig) -> SearchIndex:
    departments = {d.id: d.name for d in hall.departments}
    entries = [Entry("item", i.id, i.name, tuple(flows.keywords.get(i.id, ())),
                     tuple(x for x in (i.theme, departments.get(i.department)) if x)) for i in hall.items]
    entries += [Entry("tile", t.id, t.label.zh, (), ()) for t in flows.tiles]
    return SearchIndex(entries)
