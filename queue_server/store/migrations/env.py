"""Alembic environment: runs on the connection handed in by ``store.db.migrate`` or on sqlalchemy.url."""

from alembic import context
from sqlalchemy import create_engine

from queue_server.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("alembic: set sqlalchemy.url (or run migrations through `onewindow serve`, which passes "
                         "its connection)")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()
