"""The commands carried out, so that a redelivered command is not run twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``processed_commands``."""
    op.create_table(
        "processed_commands",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("command_type", sa.String(255), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_processed_commands"),
    )
    op.create_index(
        "ix_processed_commands_processed_at", "processed_commands", ["processed_at"]
    )


def downgrade() -> None:
    """Drop ``processed_commands``."""
    op.drop_index("ix_processed_commands_processed_at", table_name="processed_commands")
    op.drop_table("processed_commands")
