"""Live-server integration tests: fixtures come from tests/conftest_server.py."""

from tests.conftest_server import (  # noqa: F401 - fixtures and the report hook, re-exported for pytest
    hall_yaml,
    module_servers,
    pg_database,
    pytest_runtest_makereport,
    servers,
)
