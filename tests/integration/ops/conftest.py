"""Live-server fixtures (tests/conftest_server.py) for the operations tests."""

from tests.conftest_server import (  # noqa: F401 - fixtures and the report hook, re-exported for pytest
    pg_database,
    pytest_runtest_makereport,
    servers,
)
