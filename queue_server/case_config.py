"""Loading the case module's settings (cases.yaml) once at start, checked against the hall they run in."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from config import DEFAULT_HALL

from .domain.cases import CaseSettings, check_settings
from .domain.hall import HallConfig
from .hall_config import ConfigError, ConfigProblem, read_yaml, validation_problems

CASES_FILE = "cases.yaml"


def load_case_settings(hall: HallConfig, hall_path: str | Path | None = None,
                       cases_path: str | Path | None = None) -> CaseSettings | None:
    """The settings of ``cases_path``, else of the cases.yaml beside the hall file (config/cases.yaml for the
    bundled hall), validated and checked against ``hall``: any problem is a ConfigError naming the file and the
    setting, so a broken file stops the start instead of the first case.

    A hall with no cases.yaml runs with the defaults when they fit it, and otherwise without the case module
    (None: its case use cases refuse, saying so): a hall of queues only need not configure cases."""
    if cases_path is None:
        beside = (Path(hall_path) if hall_path else DEFAULT_HALL).with_name(CASES_FILE)
        if not beside.exists():
            defaults = CaseSettings()
            return None if check_settings(defaults, hall) else defaults
        cases_path = beside
    file = str(cases_path)
    data = read_yaml(Path(cases_path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(file, "", "the file must hold a mapping of settings (issuance_queue: ...)")])
    try:
        settings = CaseSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(file, data, exc)) from None
    problems = check_settings(settings, hall)
    if problems:
        raise ConfigError([ConfigProblem(file, where, message) for where, message in problems])
    return settings
