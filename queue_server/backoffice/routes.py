"""Routes of the staff pages."""

from . import bp  # noqa: F401
