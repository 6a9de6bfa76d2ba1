"""message handler stats

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 16:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import scale.store.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_handler",
        sa.Column("handler_id", sa.String(length=200), nullable=False),
        sa.Column("applied", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("started", scale.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", scale.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("handler_id"),
    )


def downgrade() -> None:
    op.drop_table("message_handler")
