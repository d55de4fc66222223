"""tickets: the line's indexes hold waiting tickets only; status lookups and reports get an index of their own

The heads and waited indexes held every ticket of every day, and each status change rewrote their entries (five
indexes touched per call, start or finish). As partial indexes they hold the waiting tickets alone: a call removes
its ticket from them once, a start or a finish leaves them alone. Lookups by another status (a window's held
tickets, the hall's called ones, the roll-over) used the heads index's leading columns; they get
``ix_tickets_status`` (the columns of 0001's ``ix_tickets_open``), which the reports read as well, so
``ix_tickets_report`` goes.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WAITING_ONLY = "status = 'waiting'"  # the statements that read these say it in the same words


def upgrade() -> None:
    op.drop_index("ix_tickets_heads", table_name="tickets")
    op.drop_index("ix_tickets_waited", table_name="tickets")
    op.drop_index("ix_tickets_report", table_name="tickets")
    op.create_index("ix_tickets_heads", "tickets", ["hall_id", "service_day", "queue_id", "priority", "position", "id"],
                    unique=False, sqlite_where=sa.text(WAITING_ONLY), postgresql_where=sa.text(WAITING_ONLY))
    op.create_index("ix_tickets_waited", "tickets", ["hall_id", "service_day", "queue_id", "issued_at", "id"],
                    unique=False, sqlite_where=sa.text(WAITING_ONLY), postgresql_where=sa.text(WAITING_ONLY))
    op.create_index("ix_tickets_status", "tickets", ["hall_id", "service_day", "status", "queue_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_status", table_name="tickets")
    op.drop_index("ix_tickets_waited", table_name="tickets")
    op.drop_index("ix_tickets_heads", table_name="tickets")
    op.create_index("ix_tickets_report", "tickets", ["hall_id", "service_day", "queue_id", "status"], unique=False)
    op.create_index("ix_tickets_waited", "tickets", ["hall_id", "service_day", "status", "queue_id", "issued_at", "id"],
                    unique=False)
    op.create_index("ix_tickets_heads", "tickets",
                    ["hall_id", "service_day", "status", "queue_id", "priority", "position", "id"], unique=False)
