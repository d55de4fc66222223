"""REST handlers of the case module (intake, back office, issuance, evaluations)."""

from . import bp  # noqa: F401
