"""Routes of the public screens."""

from . import bp  # noqa: F401
