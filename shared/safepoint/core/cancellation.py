"""Ending what is still running: terminate end events, deletion, the end of an instance."""

from __future__ import annotations

from safepoint.core import external_tasks
from safepoint.core.context import CommandContext
from safepoint.core.entities import Execution, ProcessInstanceState
from safepoint.core.history import end_activity_instance
from safepoint.core.jobs import delete_job, jobs_of
from safepoint.core.listeners import fire
from safepoint.core.mappings import apply_outputs, destroy_local_scope
from safepoint.core.operations import AtomicOperation
from safepoint.core.tree import children, compact, remove_execution, scope_execution, subtree
from safepoint.model import ListenerEvent


def waits_after_activity(ctx: CommandContext, execution: Execution) -> bool:
    """Whether the execution waits at an asyncAfter boundary with its activity ended."""
    return any(
        job.configuration == AtomicOperation.ACTIVITY_END.value
        for job in jobs_of(ctx, execution.id)
    )


def cancel_execution(ctx: CommandContext, execution: Execution, *, keep: bool = False) -> None:
    """Cancel an execution and everything below it, innermost first.

    An activity that was entered (and has not finished) fires its end listeners and
    runs its output mappings, as Camunda does on cancellation; a token still waiting
    at an asyncBefore boundary never started its activity, so nothing of it runs. The
    wait states, jobs and subscriptions of the cancelled executions are removed.
    """
    _read_activity_instances(ctx, execution)
    _cancel(ctx, execution, keep=keep)


def _read_activity_instances(ctx: CommandContext, execution: Execution) -> None:
    """Read the activity instances of ``execution`` and below, that may end, at once."""
    ctx.state.read_activity_instances(e.activity_instance_id for e in subtree(ctx.state, execution))


def _cancel(ctx: CommandContext, execution: Execution, *, keep: bool = False) -> None:
    for child in children(ctx.state, execution):
        _cancel(ctx, child)
    if (
        execution.activity_id is not None
        and execution.activity_instance_id is not None
        and not waits_after_activity(ctx, execution)
    ):
        node = ctx.process.node(execution.activity_id)
        fire(ctx, execution, node.listeners_for(ListenerEvent.END), event="end")
        apply_outputs(ctx, execution, node)
        destroy_local_scope(ctx, execution)
        end_activity_instance(ctx, execution.activity_instance_id, canceled=True)
    release_wait_states(ctx, execution.id)
    execution.activity_instance_id = None
    if not keep:
        remove_execution(ctx, execution)
        ctx.cancelled.add(execution.id)


def release_wait_states(ctx: CommandContext, execution_id: str) -> None:
    """Remove the jobs, tasks, external tasks and subscriptions of an execution."""
    state = ctx.state
    for job in jobs_of(ctx, execution_id):
        delete_job(ctx, job)
    for task in [t for t in state.external_tasks.values() if t.execution_id == execution_id]:
        external_tasks.resolve_incidents(ctx, task)
    for entities in (state.tasks, state.external_tasks, state.subscriptions):
        for key in [k for k, v in entities.items() if v.execution_id == execution_id]:
            del entities[key]


def terminate_scope(ctx: CommandContext, execution: Execution) -> Execution:
    """Cancel every other token of ``execution``'s scope (a terminate end event).

    Returns the execution that carries this token afterwards (the scope execution
    itself, once the tree is compacted).
    """
    scope = scope_execution(ctx.state, execution)
    if scope.id == execution.id:
        return execution
    _read_activity_instances(ctx, scope)
    for sibling in children(ctx.state, scope):
        if sibling.id != execution.id:
            _cancel(ctx, sibling)
    compact(ctx, scope)
    if execution.id in ctx.state.executions:
        return execution
    return ctx.execution(execution.id)


def finish_instance(
    ctx: CommandContext,
    state: ProcessInstanceState = ProcessInstanceState.COMPLETED,
    *,
    reason: str | None = None,
) -> None:
    """Mark the instance ended and drop whatever runtime state is left."""
    instance = ctx.state.instance
    instance.state = state
    instance.ended_at = ctx.now
    instance.delete_reason = reason
    for execution_id in list(ctx.state.all_executions()):
        release_wait_states(ctx, execution_id)
    ctx.state.executions.clear()
    ctx.agenda.clear()


def delete_process_instance(ctx: CommandContext, reason: str | None = None) -> None:
    """Cancel the whole instance: inner activities first, then the process end listeners."""
    root = ctx.state.execution(ctx.state.id)
    cancel_execution(ctx, root, keep=True)
    root.activity_id = None  # Camunda moves the execution to its flow scope: the process
    fire(ctx, root, ctx.process.listeners_for(ListenerEvent.END), event="end")
    finish_instance(ctx, ProcessInstanceState.EXTERNALLY_TERMINATED, reason=reason)
