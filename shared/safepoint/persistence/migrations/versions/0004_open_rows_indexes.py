"""Indexes of each instance's open incidents and activity instances, the rows a load reads.

Building the index of ``historic_activity_instances`` blocks writes to that table for
as long as it takes (inside the migration's transaction). On a large database, build
both beforehand without blocking, then migrate (an existing index is kept)::

    CREATE INDEX CONCURRENTLY ix_historic_activity_instances_open
        ON historic_activity_instances (process_instance_id) WHERE ended_at IS NULL;
    CREATE INDEX CONCURRENTLY ix_incidents_open
        ON incidents (process_instance_id) WHERE resolved_at IS NULL;

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OPEN = {"incidents": "resolved_at", "historic_activity_instances": "ended_at"}
"""Each table, with the column that is NULL while a row is open."""


def upgrade() -> None:
    """Index the open rows of ``incidents`` and ``historic_activity_instances``."""
    for table, closed_at in _OPEN.items():
        where = sa.text(f"{closed_at} IS NULL")
        op.create_index(
            f"ix_{table}_open",
            table,
            ["process_instance_id"],
            postgresql_where=where,
            sqlite_where=where,
            if_not_exists=True,
        )


def downgrade() -> None:
    """Drop the indexes of open rows."""
    for table in _OPEN:
        op.drop_index(f"ix_{table}_open", table_name=table)
