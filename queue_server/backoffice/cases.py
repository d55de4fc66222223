"""Staff pages of the case module."""

from . import bp  # noqa: F401
