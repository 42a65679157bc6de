"""The core's commands: each changes one process instance's state, up to the next safe points.

A command takes a :class:`CommandContext` (the instance state, the model, the clock,
ids and delegates), changes the state in place and runs the agenda until every token
rests at a safe point (a job) or a wait state. It does no I/O: the caller loads the
state, and commits it (or throws it away when the command raises).
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from datetime import datetime, timedelta

from safepoint.core import external_tasks, jobs
from safepoint.core.behaviors import behavior_for
from safepoint.core.cancellation import delete_process_instance as cancel_instance
from safepoint.core.context import CommandContext
from safepoint.core.deployments import ProcessDefinition
from safepoint.core.entities import Execution, ExternalTask, JobLogEvent, ProcessInstance
from safepoint.core.operations import AtomicOperation, parse_job_configuration
from safepoint.core.pvm import run
from safepoint.core.state import InstanceState
from safepoint.core.variables import VariableScope, set_variables
from safepoint.errors import BadUserRequest, EngineError, NotFound
from safepoint.model import Process

__all__ = [
    "complete_external_task",
    "complete_task",
    "correlate",
    "delete_job",
    "delete_process_instance",
    "external_task_bpmn_error",
    "fail_external_task",
    "execute_job",
    "exception_details",
    "new_instance_state",
    "record_job_failure",
    "set_external_task_retries",
    "set_job_retries",
    "start_process_instance",
]


def new_instance_state(
    definition: ProcessDefinition,
    process_instance_id: str,
    *,
    business_key: str | None,
    now: datetime,
) -> InstanceState:
    """The state of a process instance about to start: the instance and nothing else."""
    return InstanceState(
        instance=ProcessInstance(
            id=process_instance_id,
            process_definition_id=definition.id,
            process_definition_key=definition.key,
            business_key=business_key,
            started_at=now,
        )
    )


def start_process_instance(
    ctx: CommandContext, variables: Mapping[str, object] | None = None
) -> None:
    """Start the instance in ``ctx.state``: set its variables, then ``process-start``.

    With an asyncBefore start event the command stops at once with a ``process-start``
    job: the instance and its variables are committed, no listener has run.
    """
    process: Process = ctx.process
    start = process.initial_start_event(process.id)
    root = Execution(
        id=ctx.state.id,
        process_instance_id=ctx.state.id,
        parent_id=None,
        activity_id=start.id,
        scope_activity_id=process.id,
        scope_instance_id=ctx.state.id,
        is_scope=True,
        ordinal=ctx.state.next_ordinal(),
    )
    ctx.state.executions[root.id] = root
    ctx.state.variables[ctx.state.id] = dict(variables or {})
    ctx.state.instance.trace_context = dict(ctx.trace_context)
    ctx.schedule(AtomicOperation.PROCESS_START, root)
    run(ctx)


def execute_job(ctx: CommandContext, job_id: str) -> None:
    """Run a job: its deferred operation, then on to the next safe points.

    The job is deleted and its incident resolved in the same transaction; if anything
    raises, the caller rolls it all back and records the failure with
    :func:`record_job_failure` in a new transaction. The jobs it creates get
    ``ctx.trace_context``: the caller decides it (the run's own span, or the context
    stored on the job).
    """
    job = ctx.state.jobs.get(job_id)
    if job is None:
        raise NotFound("job", job_id)
    operation, flow_id = parse_job_configuration(job.configuration)
    execution = ctx.execution(job.execution_id)
    del ctx.state.jobs[job.id]
    jobs.log_job(ctx, job, JobLogEvent.SUCCESSFUL)
    jobs.resolve_incident(ctx, job.id)
    ctx.current_activity_id = job.activity_id
    ctx.schedule(operation, execution, flow_id=flow_id, skip_async=True)
    run(ctx)


def exception_details(exc: BaseException) -> tuple[str, str]:
    """The message and the full stack trace stored on a failed job."""
    message = str(exc) or type(exc).__name__
    stacktrace = "".join(traceback.format_exception(exc))
    return _storable(message), _storable(stacktrace)


def _storable(text: str) -> str:
    """``text`` with what a text column refuses escaped: NUL and unpaired surrogates."""
    text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def record_job_failure(
    ctx: CommandContext,
    job_id: str,
    exc: BaseException,
    *,
    failed_activity_id: str | None,
    decrement: bool = True,
) -> bool:
    """Record a failed run of a job (in a new transaction, after the rollback).

    ``decrement`` is false for optimistic locking conflicts, which use up no retry.
    Returns whether the job still exists (it may have been deleted meanwhile).
    """
    job = ctx.state.jobs.get(job_id)
    if job is None:
        return False
    message, stacktrace = exception_details(exc)
    jobs.record_failure(
        ctx,
        job,
        message=message,
        stacktrace=stacktrace,
        failed_activity_id=failed_activity_id,
        decrement=decrement,
    )
    return True


def set_job_retries(ctx: CommandContext, job_id: str, retries: int) -> None:
    """Set a job's retries; a positive count resolves its ``failedJob`` incident."""
    job = ctx.state.jobs.get(job_id)
    if job is None:
        raise NotFound("job", job_id)
    jobs.set_retries(ctx, job, retries)


def delete_job(ctx: CommandContext, job_id: str) -> None:
    """Delete a job (and so resolve its incident); the token stays where it is."""
    job = ctx.state.jobs.get(job_id)
    if job is None:
        raise NotFound("job", job_id)
    jobs.delete_job(ctx, job)


def _signal(ctx: CommandContext, execution_id: str, variables: Mapping[str, object] | None) -> None:
    execution = ctx.execution(execution_id)
    if execution.activity_id is None:
        raise EngineError(f"execution {execution_id!r} is not at an activity")
    set_variables(VariableScope(ctx, execution), variables)
    node = ctx.process.node(execution.activity_id)
    ctx.current_activity_id = node.id
    behavior_for(node).signal(ctx, execution, node)
    run(ctx)


def complete_task(
    ctx: CommandContext, task_id: str, variables: Mapping[str, object] | None = None
) -> None:
    """Complete a user task with ``variables`` and continue its token."""
    task = ctx.state.tasks.pop(task_id, None)
    if task is None:
        raise NotFound("task", task_id)
    _signal(ctx, task.execution_id, variables)


def complete_external_task(
    ctx: CommandContext, external_task_id: str, variables: Mapping[str, object] | None = None
) -> None:
    """Complete an external task with ``variables`` and continue its token."""
    task = ctx.state.external_tasks.pop(external_task_id, None)
    if task is None:
        raise NotFound("external task", external_task_id)
    external_tasks.resolve_incidents(ctx, task)
    _signal(ctx, task.execution_id, variables)


def _external_task(ctx: CommandContext, external_task_id: str) -> ExternalTask:
    task = ctx.state.external_tasks.get(external_task_id)
    if task is None:
        raise NotFound("external task", external_task_id)
    return task


def fail_external_task(
    ctx: CommandContext,
    external_task_id: str,
    *,
    error_message: str | None,
    error_details: str | None = None,
    retries: int,
    retry_timeout: timedelta = timedelta(0),
) -> None:
    """A worker failed the task: it comes back after ``retry_timeout``; 0 retries: incident."""
    external_tasks.fail(
        ctx,
        _external_task(ctx, external_task_id),
        error_message=error_message,
        error_details=error_details,
        retries=retries,
        retry_timeout=retry_timeout,
    )


def set_external_task_retries(ctx: CommandContext, external_task_id: str, retries: int) -> None:
    """Set an external task's retries (a positive count resolves its incident)."""
    external_tasks.set_retries(ctx, _external_task(ctx, external_task_id), retries)


def external_task_bpmn_error(
    ctx: CommandContext,
    external_task_id: str,
    *,
    error_code: str,
    error_message: str | None = None,
    variables: Mapping[str, object] | None = None,
) -> None:
    """A worker reports a BPMN error: with no error boundary event to catch it, an incident.

    Error boundary events are not supported yet, so the error cannot be caught: the
    task keeps waiting with 0 retries and a ``failedExternalTask`` incident says why.
    """
    task = _external_task(ctx, external_task_id)
    set_variables(VariableScope(ctx, ctx.execution(task.execution_id)), variables)
    detail = f": {error_message}" if error_message else ""
    external_tasks.fail(
        ctx,
        task,
        error_message=f"BPMN error {error_code!r} was not caught{detail}",
        error_details="no error boundary event catches it (not supported in this version)",
        retries=0,
        retry_timeout=timedelta(0),
    )


def correlate(
    ctx: CommandContext, subscription_id: str, variables: Mapping[str, object] | None = None
) -> None:
    """Deliver a message to the execution waiting on ``subscription_id`` and continue it."""
    subscription = ctx.state.subscriptions.pop(subscription_id, None)
    if subscription is None:
        raise NotFound("event subscription", subscription_id)
    _signal(ctx, subscription.execution_id, variables)


def delete_process_instance(ctx: CommandContext, reason: str | None = None) -> None:
    """Cancel a running instance: end listeners and output mappings of entered scopes run."""
    if ctx.state.instance.ended:
        raise BadUserRequest(f"process instance {ctx.state.id!r} has already ended")
    cancel_instance(ctx, reason)
    run(ctx)
