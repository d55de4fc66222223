"""Routes of the staff pages: the home, the window panel, the case module's pages, the supervisor's and
technician's pages."""

from . import admin, cases, devices, home, overview, panel, reports  # noqa: F401
