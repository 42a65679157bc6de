"""The initial schema: deployments, process definitions and the runtime tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table of ``safepoint.persistence.tables`` as of this revision."""
    op.create_table(
        "deployment_resources",
        sa.Column("deployment_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("deployment_id", "name", name="pk_deployment_resources"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("resource_names", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
    )
    op.create_table(
        "event_subscriptions",
        sa.Column("process_instance_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("event_name", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("process_instance_id", "id", name="pk_event_subscriptions"),
    )
    op.create_index(
        "ix_event_subscriptions_event_type_event_name",
        "event_subscriptions",
        ["event_type", "event_name"],
        unique=False,
    )
    op.create_index("ix_event_subscriptions_id", "event_subscriptions", ["id"], unique=False)
    op.create_table(
        "executions",
        sa.Column("process_instance_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("parent_id", sa.String(), nullable=True),
        sa.Column("activity_id", sa.String(), nullable=True),
        sa.Column("activity_instance_id", sa.String(), nullable=True),
        sa.Column("scope_activity_id", sa.String(), nullable=True),
        sa.Column("scope_instance_id", sa.String(), nullable=True),
        sa.Column("is_scope", sa.Boolean(), nullable=False),
        sa.Column("is_concurrent", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("process_instance_id", "id", name="pk_executions"),
    )
    op.create_index("ix_executions_id", "executions", ["id"], unique=False)
    op.create_table(
        "external_tasks",
        sa.Column("process_instance_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("activity_instance_id", sa.String(), nullable=False),
        sa.Column("process_definition_id", sa.String(), nullable=False),
        sa.Column("process_definition_key", sa.String(), nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_details", sa.Text(), nullable=True),
        sa.Column("locked_by", sa.String(), nullable=True),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trace_context", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("process_instance_id", "id", name="pk_external_tasks"),
    )
    op.create_index("ix_external_tasks_id", "external_tasks", ["id"], unique=False)
    op.create_index("ix_external_tasks_topic", "external_tasks", ["topic"], unique=False)
    op.create_table(
        "historic_activity_instances",
        sa.Column("process_instance_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("activity_type", sa.String(), nullable=False),
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("parent_activity_instance_id", sa.String(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("activity_name", sa.String(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canceled", sa.Boolean(), nullable=False),
        sa.Column("task_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("process_instance_id", "id", name="pk_historic_activity_instances"),
    )
    op.create_index(
        "ix_historic_activity_instances_id", "historic_activity_instances", ["id"], unique=False
    )
    op.create_table(
        "incidents",
        sa.Column("process_instance_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("process_definition_id", sa.String(), nullable=False),
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("incident_type", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("failed_activity_id", sa.String(), nullable=True),
        sa.Column("configuration", sa.String(), nullable=True),
        sa.Column("job_definition_id", sa.String(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("process_instance_id", "id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_id", "incidents", ["id"], unique=False)
    op.create_table(
        "job_logs",
        sa.Column("process_instance_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("configuration", sa.String(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("exception_message", sa.Text(), nullable=True),
        sa.Column("failed_activity_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("process_instance_id", "id", name="pk_job_logs"),
    )
    op.create_index("ix_job_logs_id", "job_logs", ["id"], unique=False)
    op.create_index("ix_job_logs_job_id", "job_logs", ["job_id"], unique=False)
    op.create_table(
        "jobs",
        sa.Column("process_instance_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("process_definition_id", sa.String(), nullable=False),
        sa.Column("process_definition_key", sa.String(), nullable=False),
        sa.Column("job_definition_id", sa.String(), nullable=False),
        sa.Column("configuration", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("job_type", sa.String(), nullable=False),
        sa.Column("exception_message", sa.Text(), nullable=True),
        sa.Column("exception_stacktrace", sa.Text(), nullable=True),
        sa.Column("failed_activity_id", sa.String(), nullable=True),
        sa.Column("locked_by", sa.String(), nullable=True),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trace_context", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("process_instance_id", "id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_id", "jobs", ["id"], unique=False)
    op.create_index("ix_jobs_job_definition_id", "jobs", ["job_definition_id"], unique=False)
    op.create_index("ix_jobs_retries_due_at", "jobs", ["retries", "due_at"], unique=False)
    op.create_table(
        "process_definitions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(), nullable=False),
        sa.Column("resource_name", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("version_tag", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_process_definitions"),
        sa.UniqueConstraint("key", "version", name="uq_process_definitions_key_version"),
    )
    op.create_index(
        "ix_process_definitions_deployment_id",
        "process_definitions",
        ["deployment_id"],
        unique=False,
    )
    op.create_table(
        "process_instances",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("process_definition_id", sa.String(), nullable=False),
        sa.Column("process_definition_key", sa.String(), nullable=False),
        sa.Column("business_key", sa.String(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_reason", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("next_ordinal", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_process_instances"),
    )
    op.create_index(
        "ix_process_instances_business_key", "process_instances", ["business_key"], unique=False
    )
    op.create_index(
        "ix_process_instances_process_definition_key",
        "process_instances",
        ["process_definition_key"],
        unique=False,
    )
    op.create_table(
        "tasks",
        sa.Column("process_instance_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("activity_instance_id", sa.String(), nullable=False),
        sa.Column("process_definition_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("assignee", sa.String(), nullable=True),
        sa.Column("candidate_groups", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("process_instance_id", "id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_assignee", "tasks", ["assignee"], unique=False)
    op.create_index("ix_tasks_id", "tasks", ["id"], unique=False)
    op.create_table(
        "variables",
        sa.Column("process_instance_id", sa.String(), nullable=False),
        sa.Column("scope_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("type_name", sa.String(length=16), nullable=False),
        sa.Column("text_value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("process_instance_id", "scope_id", "name", name="pk_variables"),
    )


def downgrade() -> None:
    """Drop every table."""
    op.drop_table("variables")
    op.drop_index("ix_tasks_id", table_name="tasks")
    op.drop_index("ix_tasks_assignee", table_name="tasks")
    op.drop_table("tasks")
    op.drop_index("ix_process_instances_process_definition_key", table_name="process_instances")
    op.drop_index("ix_process_instances_business_key", table_name="process_instances")
    op.drop_table("process_instances")
    op.drop_index("ix_process_definitions_deployment_id", table_name="process_definitions")
    op.drop_table("process_definitions")
    op.drop_index("ix_jobs_retries_due_at", table_name="jobs")
    op.drop_index("ix_jobs_job_definition_id", table_name="jobs")
    op.drop_index("ix_jobs_id", table_name="jobs")
    op.drop_table("jobs")
    op.drop_index("ix_job_logs_job_id", table_name="job_logs")
    op.drop_index("ix_job_logs_id", table_name="job_logs")
    op.drop_table("job_logs")
    op.drop_index("ix_incidents_id", table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_historic_activity_instances_id", table_name="historic_activity_instances")
    op.drop_table("historic_activity_instances")
    op.drop_index("ix_external_tasks_topic", table_name="external_tasks")
    op.drop_index("ix_external_tasks_id", table_name="external_tasks")
    op.drop_table("external_tasks")
    op.drop_index("ix_executions_id", table_name="executions")
    op.drop_table("executions")
    op.drop_index("ix_event_subscriptions_id", table_name="event_subscriptions")
    op.drop_index("ix_event_subscriptions_event_type_event_name", table_name="event_subscriptions")
    op.drop_table("event_subscriptions")
    op.drop_table("deployments")
    op.drop_table("deployment_resources")
