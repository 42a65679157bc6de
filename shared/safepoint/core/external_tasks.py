"""External task failures, retries and incidents (Camunda's ExternalTaskEntity rules)."""

from __future__ import annotations

from datetime import timedelta

from safepoint.core.context import CommandContext
from safepoint.core.entities import ExternalTask, Incident
from safepoint.core.jobs import check_retries
from safepoint.errors import BadUserRequest

FAILED_EXTERNAL_TASK = "failedExternalTask"
"""The incident type raised when an external task's retries reach 0."""

MAX_RETRY_TIMEOUT = timedelta(days=36_525)
"""The longest a failed external task is held back (a hundred years)."""


def fail(
    ctx: CommandContext,
    task: ExternalTask,
    *,
    error_message: str | None,
    error_details: str | None,
    retries: int,
    retry_timeout: timedelta,
) -> None:
    """A worker reports a failure: store it, set retries, hold the task back a while.

    The task becomes available again after ``retry_timeout``. With 0 retries it is
    not handed out again and a ``failedExternalTask`` incident opens.
    """
    check_retries(retries)
    if not timedelta(0) <= retry_timeout <= MAX_RETRY_TIMEOUT:
        raise BadUserRequest(
            f"retryTimeout must be between 0 and {MAX_RETRY_TIMEOUT.days} days, got {retry_timeout}"
        )
    task.error_message = error_message
    task.error_details = error_details
    task.locked_by = None
    task.lock_expires_at = ctx.now + retry_timeout if retry_timeout else None
    set_retries(ctx, task, retries)


def set_retries(ctx: CommandContext, task: ExternalTask, retries: int) -> None:
    """Set retries; reaching 0 opens an incident, a positive count resolves it."""
    check_retries(retries)
    before = task.retries
    task.retries = retries
    if retries == 0 and (before is None or before > 0):
        _raise_incident(ctx, task)
    elif retries > 0:
        for incident in _open_incidents(ctx, task):
            incident.resolved_at = ctx.now


def resolve_incidents(ctx: CommandContext, task: ExternalTask) -> None:
    """Resolve the incidents of a task that is done with (completed or cancelled)."""
    for incident in _open_incidents(ctx, task):
        incident.resolved_at = ctx.now


def _open_incidents(ctx: CommandContext, task: ExternalTask) -> list[Incident]:
    return [
        incident
        for incident in ctx.state.incidents.values()
        if incident.open
        and incident.incident_type == FAILED_EXTERNAL_TASK
        and incident.configuration == task.id
    ]


def _raise_incident(ctx: CommandContext, task: ExternalTask) -> None:
    if _open_incidents(ctx, task):
        return
    incident = Incident(
        id=ctx.new_id(),
        process_instance_id=ctx.state.id,
        process_definition_id=task.process_definition_id,
        execution_id=task.execution_id,
        activity_id=task.activity_id,
        incident_type=FAILED_EXTERNAL_TASK,
        created_at=ctx.now,
        message=task.error_message,
        failed_activity_id=task.activity_id,
        configuration=task.id,
    )
    ctx.state.incidents[incident.id] = incident
