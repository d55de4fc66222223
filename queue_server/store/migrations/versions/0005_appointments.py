"""kiosk: appointments checked in at a kiosk

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hall_id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=True),
        sa.Column("queue_id", sa.String(length=40), nullable=False),
        sa.Column("slot_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("person_label", sa.String(length=80), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(), nullable=True),
        sa.Column("station", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("code", name=op.f("uq_appointments_code")),
    )
    op.create_index("ix_appointments_hall_slot", "appointments", ["hall_id", "slot_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_appointments_hall_slot", table_name="appointments")
    op.drop_table("appointments")
