"""A process definition's history time to live, from ``camunda:historyTimeToLive``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``process_definitions.history_time_to_live`` (days; existing ones get none)."""
    with op.batch_alter_table("process_definitions") as batch:
        batch.add_column(sa.Column("history_time_to_live", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop ``process_definitions.history_time_to_live``."""
    with op.batch_alter_table("process_definitions") as batch:
        batch.drop_column("history_time_to_live")
