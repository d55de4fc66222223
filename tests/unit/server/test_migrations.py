from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from queue_server.store.db import make_engine, migrate
from queue_server.store.tables import metadata


def test_migrations_build_exactly_the_models(tmp_path):
    engine = make_engine(str(tmp_path / "m.db"))
    migrate(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    migrate(engine)  # idempotent on an up-to-date database
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
