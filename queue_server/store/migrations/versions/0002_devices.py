"""device status and device inputs

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_status",
        sa.Column("hall_id", sa.String(length=40), nullable=False),
        sa.Column("station", sa.String(length=40), nullable=False),
        sa.Column("device", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id", "station", "device", name=op.f("pk_device_status")),
    )
    op.create_table(
        "device_inputs",
        sa.Column("hall_id", sa.String(length=40), nullable=False),
        sa.Column("input_id", sa.String(length=64), nullable=False),
        sa.Column("station", sa.String(length=40), nullable=False),
        sa.Column("device", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id", "input_id", name=op.f("pk_device_inputs")),
    )


def downgrade() -> None:
    op.drop_table("device_inputs")
    op.drop_table("device_status")
