"""The case module's settings as the hall runs with them: loaded and checked once at start (``case_config``)."""

from __future__ import annotations

from ...domain.cases import CaseSettings
from ...domain.errors import DomainError
from ..context import HallContext


class CasesNotConfigured(DomainError):
    """The hall runs without case settings: a configuration gap that no retry closes."""

    code = "cases_not_configured"


def settings_of(ctx: HallContext) -> CaseSettings:
    """The hall's case settings, or CasesNotConfigured for a hall whose configuration has no case module."""
    if ctx.case_settings is None:
        raise CasesNotConfigured(f"hall {ctx.hall_id} runs without the case module: put a cases.yaml beside its "
                                 "hall file (see config/cases.yaml) whose issuance queue and item are the hall's")
    return ctx.case_settings


def issuance_queue(ctx: HallContext) -> str | None:
    """The queue of the issuance windows (统一出件); None in a hall without the case module."""
    return ctx.case_settings.issuance_queue if ctx.case_settings is not None else None
