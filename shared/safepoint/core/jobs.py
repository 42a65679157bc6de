"""Jobs: creating asynchronous continuations, and Camunda's rules for failures and retries."""

from __future__ import annotations

from safepoint.core.context import CommandContext
from safepoint.core.delegates import DelegateExecution
from safepoint.core.entities import FAILED_JOB, Execution, Incident, Job, JobLog, JobLogEvent
from safepoint.core.expressions import evaluate
from safepoint.core.operations import ASYNC_BEFORE_OPERATIONS, AtomicOperation, job_configuration
from safepoint.el import is_expression
from safepoint.errors import BadUserRequest, SafepointError
from safepoint.isodate import RetryCycle, parse_retry_cycle
from safepoint.model import FlowNode

MAX_RETRIES = 2**31 - 1
"""The most retries a job or an external task holds (Camunda's ``Integer`` column)."""


def check_retries(retries: int) -> int:
    """``retries`` when it is a count a job or external task can hold.

    Raises:
        BadUserRequest: it is negative or above :data:`MAX_RETRIES`.
    """
    if not 0 <= retries <= MAX_RETRIES:
        raise BadUserRequest(f"retries must be between 0 and {MAX_RETRIES}, got {retries}")
    return retries


def job_definition_id(ctx: CommandContext, activity_id: str, operation: AtomicOperation) -> str:
    """The job definition of an activity's asyncBefore or asyncAfter jobs."""
    kind = "async-before" if operation in ASYNC_BEFORE_OPERATIONS else "async-after"
    return f"{ctx.definition.id}#{activity_id}#{kind}"


def create_job(
    ctx: CommandContext,
    execution: Execution,
    operation: AtomicOperation,
    flow_id: str | None = None,
) -> Job:
    """Defer ``operation`` on ``execution`` into a new job: a safe point.

    The job gets its retries from the activity's retry cycle (``Rn/...`` gives n,
    a list of k intervals gives k+1, ``R0`` gives 1) or the default, is exclusive
    unless the activity says otherwise, and is due at once.
    """
    assert execution.activity_id is not None
    node = ctx.process.node(execution.activity_id)
    cycle = retry_cycle(ctx, execution, node)
    job = Job(
        id=ctx.new_id(),
        process_instance_id=ctx.state.id,
        execution_id=execution.id,
        activity_id=node.id,
        process_definition_id=ctx.definition.id,
        process_definition_key=ctx.definition.key,
        job_definition_id=job_definition_id(ctx, node.id, operation),
        configuration=job_configuration(operation, flow_id),
        created_at=ctx.now,
        retries=cycle.attempts if cycle else ctx.config.default_retries,
        exclusive=node.exclusive,
        priority=job_priority(ctx, execution, node),
        trace_context=dict(ctx.trace_context),
    )
    ctx.state.jobs[job.id] = job
    log_job(ctx, job, JobLogEvent.CREATED)
    return job


def retry_cycle(ctx: CommandContext, execution: Execution, node: FlowNode) -> RetryCycle | None:
    """The retry cycle for jobs of ``node``, evaluated now; ``None`` means the default.

    An expression is evaluated against the execution each time; one that cannot be
    evaluated, or yields no valid cycle, means the default strategy (as in Camunda).
    """
    text = node.retry_time_cycle or ctx.config.failed_job_retry_time_cycle
    if not text:
        return None
    if is_expression(text):
        try:
            value = evaluate(ctx, DelegateExecution(ctx, execution), text)
        except SafepointError:
            return None
        if not isinstance(value, str) or not value.strip():
            return None
        text = value
    try:
        return parse_retry_cycle(text)
    except ValueError:
        return None


def job_priority(ctx: CommandContext, execution: Execution, node: FlowNode) -> int:
    """``camunda:jobPriority`` of the activity, else of the process, else 0."""
    text = node.job_priority or ctx.process.job_priority
    if not text:
        return 0
    value: object = text
    if is_expression(text):
        value = evaluate(ctx, DelegateExecution(ctx, execution), text)
    try:
        return int(str(value))
    except ValueError:
        raise BadUserRequest(
            f"job priority of {node.id!r} must be an integer, got {value!r}"
        ) from None


def log_job(
    ctx: CommandContext,
    job: Job,
    event: JobLogEvent,
    *,
    exception_message: str | None = None,
) -> None:
    """Append an entry to the job's history."""
    ctx.state.job_logs.append(
        JobLog(
            id=ctx.new_id(),
            process_instance_id=ctx.state.id,
            job_id=job.id,
            activity_id=job.activity_id,
            configuration=job.configuration,
            event=event,
            timestamp=ctx.now,
            ordinal=ctx.state.next_ordinal(),
            retries=job.retries,
            exception_message=exception_message,
            failed_activity_id=job.failed_activity_id,
        )
    )


def record_failure(
    ctx: CommandContext,
    job: Job,
    *,
    message: str,
    stacktrace: str,
    failed_activity_id: str | None,
    decrement: bool = True,
) -> None:
    """Camunda's failed-job handling, run in a new transaction after the rollback.

    The exception is stored and the lock released; retries drop by one (not for an
    optimistic locking conflict); with a retry cycle the job becomes due after the
    cycle's interval. When retries go from more than 0 to 0, a ``failedJob`` incident
    is raised, unless the job already has an open one.
    """
    job.failed_activity_id = failed_activity_id or job.activity_id
    log_job(ctx, job, JobLogEvent.FAILED, exception_message=message)
    job.exception_message = message
    job.exception_stacktrace = stacktrace
    job.locked_by = None
    job.lock_expires_at = None
    retries_before = job.retries
    execution = ctx.state.find_execution(job.execution_id)
    node = ctx.process.flow_nodes.get(job.activity_id)
    cycle = retry_cycle(ctx, execution, node) if execution and node else None
    if decrement:
        job.retries = max(0, job.retries - 1)
    if cycle is not None:
        job.due_at = ctx.now + cycle.interval_for(retries_before)
    if retries_before > 0 and job.retries == 0:
        raise_incident(ctx, job)


def raise_incident(ctx: CommandContext, job: Job) -> Incident | None:
    """Open a ``failedJob`` incident for ``job`` unless one is open already."""
    if open_incident(ctx, job.id) is not None:
        return None
    incident = Incident(
        id=ctx.new_id(),
        process_instance_id=ctx.state.id,
        process_definition_id=job.process_definition_id,
        execution_id=job.execution_id,
        activity_id=job.activity_id,
        incident_type=FAILED_JOB,
        created_at=ctx.now,
        message=job.exception_message,
        failed_activity_id=job.failed_activity_id,
        configuration=job.id,
        job_definition_id=job.job_definition_id,
    )
    ctx.state.incidents[incident.id] = incident
    return incident


def open_incident(ctx: CommandContext, job_id: str) -> Incident | None:
    """The open incident of a job, if any."""
    for incident in ctx.state.incidents.values():
        if incident.configuration == job_id and incident.open:
            return incident
    return None


def resolve_incident(ctx: CommandContext, job_id: str) -> None:
    """Resolve the open incident of a job, if any."""
    incident = open_incident(ctx, job_id)
    if incident is not None:
        incident.resolved_at = ctx.now


def set_retries(ctx: CommandContext, job: Job, retries: int) -> None:
    """Set a job's retries (Camunda's setJobRetries).

    A positive count resolves the job's incident; going from more than 0 to 0 opens one.
    """
    check_retries(retries)
    before = job.retries
    job.retries = retries
    if retries > 0:
        resolve_incident(ctx, job.id)
    elif before > 0:
        raise_incident(ctx, job)


def delete_job(ctx: CommandContext, job: Job) -> None:
    """Remove a job; its incident is resolved with it."""
    ctx.state.jobs.pop(job.id, None)
    log_job(ctx, job, JobLogEvent.DELETED)
    resolve_incident(ctx, job.id)


def jobs_of(ctx: CommandContext, execution_id: str) -> list[Job]:
    """The jobs that belong to one execution."""
    return [job for job in ctx.state.all_jobs().values() if job.execution_id == execution_id]
