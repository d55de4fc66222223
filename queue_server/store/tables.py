"""Every table of the store on its one metadata: what Alembic compares and migrates."""

from __future__ import annotations

from . import cases_schema, kiosk_schema, schema, supervision_schema
from .metadata import metadata

__all__ = ["cases_schema", "kiosk_schema", "metadata", "schema", "supervision_schema"]
