"""The database schema: one SQLAlchemy Core ``Table`` per persisted entity.

Column names are the entity's field names. Every table owned by a process
instance has the primary key ``(process_instance_id, id)`` (variables:
``(process_instance_id, scope_id, name)``), so one instance can live wholly in one
partition (DESIGN.md §9); a plain index on ``id`` serves lookups by id.
``migrations/versions/`` creates exactly this, migration after migration; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from safepoint.core.entities import JobLogEvent, ProcessInstanceState
from safepoint.persistence.column_types import JsonDict, JsonTuple, StrEnumText, UtcDateTime

metadata = MetaData()
"""Every table of Safepoint."""


def _instance_key(table_name: str) -> tuple[Column[str], Column[str], PrimaryKeyConstraint]:
    """The ``(process_instance_id, id)`` key columns of an instance-owned table."""
    return (
        Column("process_instance_id", String, nullable=False),
        Column("id", String, nullable=False),
        PrimaryKeyConstraint("process_instance_id", "id", name=f"pk_{table_name}"),
    )


RUNNING = f"state = '{ProcessInstanceState.ACTIVE.value}'"
"""The running instances, as SQL (a literal: a partial index is used only for a query
whose condition is written the same way, never for a bound parameter)."""


def _open_rows_index(table_name: str, closed_at: str) -> Index:
    """An index of an instance's open rows only (``closed_at IS NULL``), the ones loaded.

    Loading an instance reads its open incidents and activity instances; without it
    the load would read every row the instance ever had and filter out the closed
    ones, a cost growing with the instance's history at every job.
    """
    where = text(f"{closed_at} IS NULL")
    return Index(
        f"ix_{table_name}_open",
        "process_instance_id",
        postgresql_where=where,
        sqlite_where=where,
    )


deployments = Table(
    "deployments",
    metadata,
    Column("id", String, nullable=False),
    Column("name", String),
    Column("deployed_at", UtcDateTime, nullable=False),
    Column("source", String),
    Column("resource_names", JsonTuple, nullable=False),
    PrimaryKeyConstraint("id", name="pk_deployments"),
)

deployment_resources = Table(
    "deployment_resources",
    metadata,
    Column("deployment_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("content", LargeBinary, nullable=False),
    PrimaryKeyConstraint("deployment_id", "name", name="pk_deployment_resources"),
)

process_definitions = Table(
    "process_definitions",
    metadata,
    Column("id", String, nullable=False),
    Column("key", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("deployment_id", String, nullable=False),
    Column("resource_name", String, nullable=False),
    Column("name", String),
    Column("version_tag", String),
    Column("history_time_to_live", Integer),
    PrimaryKeyConstraint("id", name="pk_process_definitions"),
    UniqueConstraint("key", "version", name="uq_process_definitions_key_version"),
    Index("ix_process_definitions_deployment_id", "deployment_id"),
)

process_instances = Table(
    "process_instances",
    metadata,
    Column("id", String, nullable=False),
    Column("process_definition_id", String, nullable=False),
    Column("process_definition_key", String, nullable=False),
    Column("business_key", String),
    Column("started_at", UtcDateTime, nullable=False),
    Column("state", StrEnumText(ProcessInstanceState), nullable=False),
    Column("ended_at", UtcDateTime),
    Column("delete_reason", Text),
    Column("revision", Integer, nullable=False),
    Column("next_ordinal", Integer, nullable=False),
    Column("trace_context", JsonDict, nullable=False, server_default="{}"),
    PrimaryKeyConstraint("id", name="pk_process_instances"),
    Index("ix_process_instances_business_key", "business_key"),
    Index("ix_process_instances_process_definition_key", "process_definition_key"),
    # The lists' order (oldest first): a page is read off the index, not sorted out of
    # every instance; the running list has one of its own, since most instances of a
    # long-lived database have ended.
    Index("ix_process_instances_started_at", "started_at", "id"),
    Index(
        "ix_process_instances_running_started_at",
        "started_at",
        "id",
        postgresql_where=text(RUNNING),
        sqlite_where=text(RUNNING),
    ),
)

executions = Table(
    "executions",
    metadata,
    *_instance_key("executions"),
    Column("parent_id", String),
    Column("activity_id", String),
    Column("activity_instance_id", String),
    Column("scope_activity_id", String),
    Column("scope_instance_id", String),
    Column("is_scope", Boolean, nullable=False),
    Column("is_concurrent", Boolean, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("ordinal", Integer, nullable=False),
    Index("ix_executions_id", "id"),
)

variables = Table(
    "variables",
    metadata,
    Column("process_instance_id", String, nullable=False),
    Column("scope_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("type_name", String(16), nullable=False),
    Column("text_value", Text, nullable=False),
    PrimaryKeyConstraint("process_instance_id", "scope_id", "name", name="pk_variables"),
)

jobs = Table(
    "jobs",
    metadata,
    *_instance_key("jobs"),
    Column("execution_id", String, nullable=False),
    Column("activity_id", String, nullable=False),
    Column("process_definition_id", String, nullable=False),
    Column("process_definition_key", String, nullable=False),
    Column("job_definition_id", String, nullable=False),
    Column("configuration", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("due_at", UtcDateTime),
    Column("exclusive", Boolean, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("job_type", String, nullable=False),
    Column("exception_message", Text),
    Column("exception_stacktrace", Text),
    Column("failed_activity_id", String),
    Column("locked_by", String),
    Column("lock_expires_at", UtcDateTime),
    Column("trace_context", JsonDict, nullable=False),
    Index("ix_jobs_id", "id"),
    Index("ix_jobs_retries_due_at", "retries", "due_at"),
    Index("ix_jobs_job_definition_id", "job_definition_id"),
)

tasks = Table(
    "tasks",
    metadata,
    *_instance_key("tasks"),
    Column("execution_id", String, nullable=False),
    Column("activity_id", String, nullable=False),
    Column("activity_instance_id", String, nullable=False),
    Column("process_definition_id", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("name", String),
    Column("assignee", String),
    Column("candidate_groups", JsonTuple, nullable=False),
    Index("ix_tasks_id", "id"),
    Index("ix_tasks_assignee", "assignee"),
    Index("ix_tasks_created_at", "created_at", "id"),  # the task list's order
)

external_tasks = Table(
    "external_tasks",
    metadata,
    *_instance_key("external_tasks"),
    Column("execution_id", String, nullable=False),
    Column("activity_id", String, nullable=False),
    Column("activity_instance_id", String, nullable=False),
    Column("process_definition_id", String, nullable=False),
    Column("process_definition_key", String, nullable=False),
    Column("topic", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("retries", Integer),
    Column("error_message", Text),
    Column("error_details", Text),
    Column("locked_by", String),
    Column("lock_expires_at", UtcDateTime),
    Column("trace_context", JsonDict, nullable=False),
    Index("ix_external_tasks_id", "id"),
    Index("ix_external_tasks_topic", "topic"),
)

event_subscriptions = Table(
    "event_subscriptions",
    metadata,
    *_instance_key("event_subscriptions"),
    Column("execution_id", String, nullable=False),
    Column("activity_id", String, nullable=False),
    Column("event_name", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("event_type", String, nullable=False),
    Index("ix_event_subscriptions_id", "id"),
    Index("ix_event_subscriptions_event_type_event_name", "event_type", "event_name"),
)

incidents = Table(
    "incidents",
    metadata,
    *_instance_key("incidents"),
    Column("process_definition_id", String, nullable=False),
    Column("execution_id", String, nullable=False),
    Column("activity_id", String, nullable=False),
    Column("incident_type", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("message", Text),
    Column("failed_activity_id", String),
    Column("configuration", String),
    Column("job_definition_id", String),
    Column("resolved_at", UtcDateTime),
    Index("ix_incidents_id", "id"),
    _open_rows_index("incidents", "resolved_at"),
)

historic_activity_instances = Table(
    "historic_activity_instances",
    metadata,
    *_instance_key("historic_activity_instances"),
    Column("activity_id", String, nullable=False),
    Column("activity_type", String, nullable=False),
    Column("execution_id", String, nullable=False),
    Column("parent_activity_instance_id", String),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("activity_name", String),
    Column("ended_at", UtcDateTime),
    Column("canceled", Boolean, nullable=False),
    Column("task_id", String),
    Index("ix_historic_activity_instances_id", "id"),
    _open_rows_index("historic_activity_instances", "ended_at"),
)

job_logs = Table(
    "job_logs",
    metadata,
    *_instance_key("job_logs"),
    Column("job_id", String, nullable=False),
    Column("activity_id", String, nullable=False),
    Column("configuration", String, nullable=False),
    Column("event", StrEnumText(JobLogEvent), nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("exception_message", Text),
    Column("failed_activity_id", String),
    Index("ix_job_logs_id", "id"),
    Index("ix_job_logs_job_id", "job_id"),
)

processed_commands = Table(
    "processed_commands",
    metadata,
    Column("id", String(255), nullable=False),
    Column("command_type", String(255), nullable=False),
    Column("processed_at", UtcDateTime, nullable=False),
    Column("result", Text),
    Column("fingerprint", String(64)),
    PrimaryKeyConstraint("id", name="pk_processed_commands"),
    Index("ix_processed_commands_processed_at", "processed_at"),
)
"""Commands carried out, by their id (an AMQP ``message_id``): a redelivery is not run again.

``result`` is the JSON the command was answered with (``null`` for most commands);
``fingerprint`` a hash of its content (a different command under a used id is refused).
"""
