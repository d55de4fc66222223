"""tickets: indexes that make call-next and the queue figures independent of the queue's length

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_tickets_heads": ["hall_id", "service_day", "status", "queue_id", "priority", "position", "id"],
    "ix_tickets_waited": ["hall_id", "service_day", "status", "queue_id", "issued_at", "id"],
    "ix_tickets_window": ["hall_id", "service_day", "window_id", "queue_id", "called_at"],
    "ix_tickets_called": ["hall_id", "service_day", "queue_id", "called_at"],
    "ix_tickets_finished": ["hall_id", "service_day", "queue_id", "finished_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "tickets", columns, unique=False)
    # ix_tickets_heads starts with the same columns: the old index would only cost every write.
    op.drop_index("ix_tickets_open", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_open", "tickets", ["hall_id", "service_day", "status", "queue_id"], unique=False)
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="tickets")
