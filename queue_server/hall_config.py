"""Loading the hall's configuration files, with every error reported at once, naming the entry and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from config import CONFIG_DIR, DEFAULT_HALL

from .domain.hall import HallConfig, cross_check
from .domain.workdays import WorkCalendar

DEFAULT_CALENDAR = CONFIG_DIR / "calendar.yaml"


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}" if self.where else f"{self.file}: {self.message}"


class ConfigError(Exception):
    """A configuration file that cannot be used; ``problems`` lists every error found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _describe_location(data: Any, loc: tuple[Any, ...]) -> str:
    """``('windows', 3, 'queues', 0, 'queue')`` -> ``windows[3] (id "w04") > queues[0] > queue``."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and 0 <= key < len(node):
                node = node[key]
                if isinstance(node, dict) and "id" in node:
                    label += f' (id "{node["id"]}")'
                elif isinstance(node, dict) and "queue" in node:
                    label += f' (queue "{node["queue"]}")'
            else:
                node = None
            parts[-1:] = [(parts[-1] if parts else "") + label]
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return " > ".join(parts)


_PATTERN_HINTS = {
    "prefix": "use one or two capital letters, e.g. A or AB",
    "id": "use lowercase letters, digits, '-' and '_' (up to 40), starting with a letter or digit",
}


def _explain(err: ErrorDetails) -> str:
    kind = err.get("type", "")
    last = str(err["loc"][-1]) if err.get("loc") else ""
    if kind == "string_pattern_mismatch" and last in _PATTERN_HINTS:
        return f"{err.get('input')!r} is not allowed: {_PATTERN_HINTS[last]}"
    if kind == "string_pattern_mismatch" and len(err["loc"]) >= 2 and str(err["loc"][-2]) in _PATTERN_HINTS:
        return f"{err.get('input')!r} is not allowed: {_PATTERN_HINTS[str(err['loc'][-2])]}"
    msg = err.get("msg", "")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown setting; remove it or check its spelling"
    if kind == "missing":
        return "required setting is missing"
    if kind == "string_pattern_mismatch":
        return f"{msg}; got {err.get('input')!r}"
    if kind == "enum":
        return f"{err.get('input')!r} is not allowed; allowed: {ctx.get('expected', '')}"
    if kind.startswith("value_error"):
        return msg.removeprefix("Value error, ")
    return f"{msg} (got {err.get('input')!r})" if "input" in err and not isinstance(err.get("input"), dict | list) \
        else msg


def validation_problems(file: str, data: Any, exc: ValidationError) -> list[ConfigProblem]:
    """A pydantic error of one file as problems naming the entry (by its id where it has one) and the fix."""
    return [ConfigProblem(file, _describe_location(data, tuple(err["loc"])), _explain(err)) for err in exc.errors()]


def parse_hall(data: Any, file: str = "<hall>") -> HallConfig:
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(file, "", "the file must hold a mapping (sections hall:, queues:, ...)")])
    try:
        return HallConfig.model_validate(data)
    except ValidationError as exc:
        # The whole-file check (empty location) is rerun below on the raw data, finding by finding.
        problems = [p for p in validation_problems(file, data, exc) if p.where]
        problems += [ConfigProblem(file, "", msg) for msg in cross_check(data)]
        raise ConfigError(problems) from None


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(str(path), "", "file not found; pass an existing file with --config")]) \
            from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"not UTF-8 text (byte {exc.start}); save it as UTF-8")]) \
            from None
    try:
        # The C loader when PyYAML has it: the hall file is large and parsed at every start.
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(str(path), where, f"YAML syntax error: {problem}")]) from None


def load_hall(path: str | Path | None = None) -> HallConfig:
    p = Path(path) if path else DEFAULT_HALL
    return parse_hall(read_yaml(p), str(p))


def load_calendar(path: str | Path | None = None) -> WorkCalendar:
    """The national calendar plus the overlay file (local holidays, years the library does not know yet)."""
    p = Path(path) if path else DEFAULT_CALENDAR
    if not p.exists():
        return WorkCalendar()
    data = read_yaml(p) or {}
    problems: list[ConfigProblem] = []
    overlay: dict[date, bool] = {}
    years: set[int] = set()
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(str(p), "", "expected a mapping with holidays:, workdays:, full_years:")])
    for key, value in (("holidays", False), ("workdays", True)):
        for i, entry in enumerate(data.get(key) or []):
            raw = entry.get("date") if isinstance(entry, dict) else entry
            try:
                day = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
            except ValueError:
                problems.append(ConfigProblem(str(p), f"{key}[{i}]", f"{raw!r} is not a date like 2027-02-07"))
                continue
            if day in overlay and overlay[day] != value:
                problems.append(ConfigProblem(str(p), f"{key}[{i}]", f"{day} is listed as both holiday and workday"))
            overlay[day] = value
    for i, y in enumerate(data.get("full_years") or []):
        if not isinstance(y, int) or not 2000 <= y <= 2100:
            problems.append(ConfigProblem(str(p), f"full_years[{i}]", f"{y!r} is not a year"))
        else:
            years.add(y)
    unknown = set(data) - {"holidays", "workdays", "full_years"}
    for k in sorted(unknown):
        problems.append(ConfigProblem(str(p), str(k), "unknown section; allowed: holidays, workdays, full_years"))
    if problems:
        raise ConfigError(problems)
    return WorkCalendar(overlay, years)


@dataclass(frozen=True)
class StationBinding:
    """What the server trusts about a device station: its role, and the window a window station serves."""

    role: str  # kiosk | window | hall-screen
    window_id: str | None = None
    devices: frozenset[str] = frozenset()  # the device kinds it has (printer, idcard, ...)
    description: str = ""  # shown on the technician's device board


def load_stations(hall: HallConfig, hall_path: str | Path | None, devices_path: str | Path | None
                  ) -> dict[str, StationBinding] | None:
    """The stations of ``devices_path``, or of the devices.toml beside the hall file; None when there is none
    (then a device token is bound to no window and counts as a kiosk: halls without a devices file)."""
    from devices.stations import DevicesConfigError, load_devices

    if devices_path is None:
        beside = (Path(hall_path) if hall_path else DEFAULT_HALL).with_name("devices.toml")
        if not beside.exists():
            return None
        devices_path = beside
    try:
        loaded = load_devices(devices_path)
    except DevicesConfigError as exc:
        raise ConfigError([ConfigProblem(str(devices_path), "", str(exc))]) from None
    windows = {w.id for w in hall.windows}
    problems = [ConfigProblem(str(devices_path), f"stations.{name}",
                              f"window_id {st.window_id!r} is not a window of the hall; one of {', '.join(sorted(windows))}")
                for name, st in loaded.stations.items() if st.window_id is not None and st.window_id not in windows]
    if problems:
        raise ConfigError(problems)
    return {name: StationBinding(st.role, st.window_id, frozenset(st.devices()), st.description)
            for name, st in loaded.stations.items()}
