"""supervision: 电子监察 alerts (raised once per condition, acknowledged with a note), the staff audit log and
the reports' day summaries

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hall_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=80), nullable=True),
        sa.Column("ack_note", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_open", "alerts", ["hall_id", "closed_at", "key"], unique=False)
    op.create_index("ix_alerts_raised", "alerts", ["hall_id", "raised_at"], unique=False)
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("target", sa.String(length=60), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_audit")),
    )
    op.create_table(
        "report_days",
        sa.Column("hall_id", sa.String(length=40), nullable=False),
        sa.Column("service_day", sa.String(length=10), nullable=False),
        sa.Column("dim", sa.String(length=8), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id", "service_day", "dim", name=op.f("pk_report_days")),
    )
    # Reports group a year of tickets by day; this index lets them read only the columns they need.
    op.create_index("ix_tickets_report", "tickets", ["hall_id", "service_day", "queue_id", "status"], unique=False)
    # Transfers and "who served" are found by action.
    op.create_index("ix_ticket_transitions_action", "ticket_transitions", ["action", "ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ticket_transitions_action", table_name="ticket_transitions")
    op.drop_index("ix_tickets_report", table_name="tickets")
    op.drop_table("report_days")
    op.drop_table("staff_audit")
    op.drop_index("ix_alerts_raised", table_name="alerts")
    op.drop_index("ix_alerts_open", table_name="alerts")
    op.drop_table("alerts")
