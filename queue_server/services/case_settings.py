"""The case module's settings (config/cases.yaml): issuance queue, follow-up days, deadlines' warning days..."""

from __future__ import annotations

from pathlib import Path

from config import CONFIG_DIR

from ..domain.cases import CaseSettings, check_settings
from .context import HallContext

DEFAULT_CASES_FILE = CONFIG_DIR / "cases.yaml"


def load_case_settings(path: str | Path | None = None) -> CaseSettings:
    """config/cases.yaml (or ``path``) validated; a missing default file means the defaults."""
    from pydantic import ValidationError

    from ..hall_config import ConfigError, ConfigProblem, read_yaml

    p = Path(path) if path else DEFAULT_CASES_FILE
    if not p.exists() and path is None:
        return CaseSettings()
    data = read_yaml(p) or {}
    try:
        return CaseSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([ConfigProblem(str(p), ".".join(str(x) for x in e["loc"]), e["msg"])
                           for e in exc.errors()]) from None


def settings_of(ctx: HallContext) -> CaseSettings:
    """The hall's case settings: the context's own (given when it is built), else config/cases.yaml, read and
    checked against the hall the first time a case use case needs it."""
    if ctx.case_settings is None:
        from ..hall_config import ConfigError, ConfigProblem

        found = load_case_settings()
        problems = check_settings(found, ctx.config)
        if problems:
            raise ConfigError([ConfigProblem(str(DEFAULT_CASES_FILE), "", p) for p in problems])
        ctx.case_settings = found
    return ctx.case_settings
