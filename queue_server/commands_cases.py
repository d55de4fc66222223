"""``onewindow`` sub-commands of the case module."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add the case module's commands to the ``onewindow`` group."""
