"""The trace context of the command that started a process instance.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``process_instances.trace_context`` (existing instances get ``{}``)."""
    with op.batch_alter_table("process_instances") as batch:
        batch.add_column(
            sa.Column("trace_context", sa.Text(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    """Drop ``process_instances.trace_context``."""
    with op.batch_alter_table("process_instances") as batch:
        batch.drop_column("trace_context")
