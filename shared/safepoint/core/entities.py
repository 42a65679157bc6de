"""Runtime entities of one process instance, as the core reads and changes them.

Every entity carries ``process_instance_id``: one process instance lives wholly in one
database partition. The core mutates these objects in place; the persistence layer
loads them, remembers what it loaded, and writes back only what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

ASYNC_CONTINUATION = "async-continuation"
"""The job type of every asynchronous continuation (Camunda's handler type)."""

FAILED_JOB = "failedJob"
"""The incident type raised when a job's retries reach 0."""


class ProcessInstanceState(StrEnum):
    """Where a process instance is in its life."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    EXTERNALLY_TERMINATED = "EXTERNALLY_TERMINATED"
    INTERNALLY_TERMINATED = "INTERNALLY_TERMINATED"


@dataclass(slots=True)
class ProcessInstance:
    """A process instance: the root of its execution tree and of its variables.

    ``revision`` is the optimistic-locking version: every command that changes the
    instance writes ``revision + 1`` where the stored revision is still ``revision``.
    ``next_ordinal`` numbers the instance's history entries so they sort in order.
    ``trace_context`` is the W3C trace context of the command that started it: a later
    command on the instance (a correlated message) links its own trace to it.
    """

    id: str
    process_definition_id: str
    process_definition_key: str
    business_key: str | None
    started_at: datetime
    state: ProcessInstanceState = ProcessInstanceState.ACTIVE
    ended_at: datetime | None = None
    delete_reason: str | None = None
    revision: int = 0
    next_ordinal: int = 0
    trace_context: dict[str, str] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        """Whether the instance has ended (completed, terminated or deleted)."""
        return self.state is not ProcessInstanceState.ACTIVE


@dataclass(slots=True)
class Execution:
    """A path of execution (Camunda's ``Execution``); the root one has the instance's id.

    A *scope execution* (``is_scope``) stands for an instance of a scope: the process
    (the root) or an embedded sub-process. While a scope runs one path it carries the
    token itself; when it forks, it becomes inactive and its *concurrent* children
    (``is_concurrent``) carry the tokens.

    ``activity_id`` is where the token is. ``activity_instance_id`` is set once the
    activity has been entered; while the token waits at an asynchronous boundary it is
    ``None`` and the execution shows as a *transition instance*. ``scope_activity_id``
    names the scope a scope execution stands for (process id or sub-process id), and
    ``scope_instance_id`` its activity instance (the process instance id for the root);
    both are ``None`` on concurrent executions.
    """

    id: str
    process_instance_id: str
    parent_id: str | None
    activity_id: str | None = None
    activity_instance_id: str | None = None
    scope_activity_id: str | None = None
    scope_instance_id: str | None = None
    is_scope: bool = False
    is_concurrent: bool = False
    is_active: bool = True
    ordinal: int = 0


@dataclass(slots=True)
class Job:
    """A job: a safe point the job executor continues from (Camunda's message job).

    ``configuration`` is the canonical name of the deferred atomic operation, with
    ``$<flowId>`` appended for ``transition-notify-listener-take``. ``retries`` counts
    the attempts left; at 0 the job is never picked up again and an incident exists.
    ``trace_context`` holds the W3C trace headers of the command that created the job.
    """

    id: str
    process_instance_id: str
    execution_id: str
    activity_id: str
    process_definition_id: str
    process_definition_key: str
    job_definition_id: str
    configuration: str
    created_at: datetime
    retries: int = 3
    due_at: datetime | None = None
    exclusive: bool = True
    priority: int = 0
    job_type: str = ASYNC_CONTINUATION
    exception_message: str | None = None
    exception_stacktrace: str | None = None
    failed_activity_id: str | None = None
    locked_by: str | None = None
    lock_expires_at: datetime | None = None
    trace_context: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Task:
    """A user task waiting for a person (Camunda's ``Task``)."""

    id: str
    process_instance_id: str
    execution_id: str
    activity_id: str
    activity_instance_id: str
    process_definition_id: str
    created_at: datetime
    name: str | None = None
    assignee: str | None = None
    candidate_groups: tuple[str, ...] = ()


@dataclass(slots=True)
class ExternalTask:
    """A unit of work for an external worker on ``topic`` (Camunda's ``ExternalTask``).

    ``retries`` is ``None`` until a worker reports a failure; at 0 an incident exists.
    """

    id: str
    process_instance_id: str
    execution_id: str
    activity_id: str
    activity_instance_id: str
    process_definition_id: str
    process_definition_key: str
    topic: str
    created_at: datetime
    priority: int = 0
    retries: int | None = None
    error_message: str | None = None
    error_details: str | None = None
    locked_by: str | None = None
    lock_expires_at: datetime | None = None
    trace_context: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class EventSubscription:
    """A waiting execution's subscription to a message by name."""

    id: str
    process_instance_id: str
    execution_id: str
    activity_id: str
    event_name: str
    created_at: datetime
    event_type: str = "message"


@dataclass(slots=True)
class Incident:
    """A problem an operator must look at, e.g. a job whose retries ran out.

    ``configuration`` is the job id for ``failedJob`` incidents. An incident is open
    while ``resolved_at`` is ``None``; resolved incidents are kept as history.
    """

    id: str
    process_instance_id: str
    process_definition_id: str
    execution_id: str
    activity_id: str
    incident_type: str
    created_at: datetime
    message: str | None = None
    failed_activity_id: str | None = None
    configuration: str | None = None
    job_definition_id: str | None = None
    resolved_at: datetime | None = None

    @property
    def open(self) -> bool:
        """Whether the incident still needs an operator."""
        return self.resolved_at is None

    @property
    def job_id(self) -> str | None:
        """The failed job of a ``failedJob`` incident (its ``configuration``)."""
        return self.configuration if self.incident_type == FAILED_JOB else None


@dataclass(slots=True)
class HistoricActivityInstance:
    """One run of one activity, from its start to its end (or cancellation).

    ``ordinal`` orders the instance's history; ``ended_at`` is ``None`` while it runs.
    """

    id: str
    process_instance_id: str
    activity_id: str
    activity_type: str
    execution_id: str
    parent_activity_instance_id: str | None
    started_at: datetime
    ordinal: int
    activity_name: str | None = None
    ended_at: datetime | None = None
    canceled: bool = False
    task_id: str | None = None


class JobLogEvent(StrEnum):
    """What happened to a job (Camunda's historic job log states)."""

    CREATED = "created"
    FAILED = "failed"
    SUCCESSFUL = "successful"
    DELETED = "deleted"


@dataclass(slots=True)
class JobLog:
    """One entry of a job's history; ``retries`` is the value *before* a failure."""

    id: str
    process_instance_id: str
    job_id: str
    activity_id: str
    configuration: str
    event: JobLogEvent
    timestamp: datetime
    ordinal: int
    retries: int
    exception_message: str | None = None
    failed_activity_id: str | None = None
