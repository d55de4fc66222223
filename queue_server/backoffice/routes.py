"""Routes of the staff pages: the home, the window panel and the case module's pages."""

from . import cases, home, panel  # noqa: F401
