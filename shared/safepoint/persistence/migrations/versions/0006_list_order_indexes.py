"""Indexes in the order the lists page in: process instances by start, tasks by creation.

``GET /process-instance``, ``GET /history/process-instance`` and ``GET /task`` return
the oldest first, a page at a time; without these indexes every request sorted every
matching row to return a page of them. The running instances have an index of their
own (``state = 'ACTIVE'``): in a database that has run for long, most have ended.

Building them blocks writes to the two tables for as long as it takes (inside the
migration's transaction). On a large database, build them beforehand without blocking,
then migrate (an existing index is kept)::

    CREATE INDEX CONCURRENTLY ix_process_instances_started_at
        ON process_instances (started_at, id);
    CREATE INDEX CONCURRENTLY ix_process_instances_running_started_at
        ON process_instances (started_at, id) WHERE state = 'ACTIVE';
    CREATE INDEX CONCURRENTLY ix_tasks_created_at ON tasks (created_at, id);

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_RUNNING = "state = 'ACTIVE'"


def upgrade() -> None:
    """Index the process instances and the tasks in their lists' order."""
    op.create_index(
        "ix_process_instances_started_at",
        "process_instances",
        ["started_at", "id"],
        if_not_exists=True,
    )
    op.create_index(
        "ix_process_instances_running_started_at",
        "process_instances",
        ["started_at", "id"],
        postgresql_where=sa.text(_RUNNING),
        sqlite_where=sa.text(_RUNNING),
        if_not_exists=True,
    )
    op.create_index("ix_tasks_created_at", "tasks", ["created_at", "id"], if_not_exists=True)


def downgrade() -> None:
    """Drop the list order indexes."""
    op.drop_index("ix_tasks_created_at", table_name="tasks")
    op.drop_index("ix_process_instances_running_started_at", table_name="process_instances")
    op.drop_index("ix_process_instances_started_at", table_name="process_instances")
