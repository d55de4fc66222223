"""halls.public_seq: the last public event's sequence number (the hall room's chain, ``prev`` on each event)

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("halls") as batch:
        batch.add_column(sa.Column("public_seq", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("halls") as batch:
        batch.drop_column("public_seq")
