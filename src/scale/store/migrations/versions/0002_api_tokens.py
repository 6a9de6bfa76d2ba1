"""api tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import scale.store.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("created", scale.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used", scale.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="uq_api_token_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_token")
