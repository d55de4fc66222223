"""The window panel page."""

from . import bp  # noqa: F401
