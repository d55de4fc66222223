"""Routes of the staff pages: the window panel and the case module's pages."""

from . import cases, panel  # noqa: F401
