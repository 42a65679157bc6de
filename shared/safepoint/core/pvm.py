"""The process virtual machine: the agenda of atomic operations and what each one does.

Each operation runs on one execution. The five async-capable ones check the element's
``asyncBefore``/``asyncAfter`` first and, when set, become a job instead: the safe
point. A job later runs its operation with ``skip_async`` and the agenda carries on
from there to the next safe point or wait state.
"""

from __future__ import annotations

from collections.abc import Callable

from safepoint.core.behaviors import behavior_for
from safepoint.core.context import AgendaItem, CommandContext
from safepoint.core.entities import Execution
from safepoint.core.history import end_activity_instance, start_activity_instance
from safepoint.core.jobs import create_job
from safepoint.core.listeners import fire
from safepoint.core.mappings import apply_inputs, apply_outputs, destroy_local_scope
from safepoint.core.operations import AtomicOperation
from safepoint.core.transitions import current_node, end_path
from safepoint.model import ListenerEvent

Op = AtomicOperation


def run(ctx: CommandContext) -> None:
    """Run queued operations until none is left (a safe point or wait state everywhere)."""
    while ctx.agenda:
        perform(ctx, ctx.agenda.popleft())


def perform(ctx: CommandContext, item: AgendaItem) -> None:
    """Run one operation, or turn it into a job when its element is asynchronous there.

    An operation queued for an execution that was cancelled meanwhile (by a terminate
    end event reached in the same transaction) is dropped, as Camunda skips the
    invocation of an ended execution.
    """
    execution = ctx.live_execution(item.execution_id)
    if execution is None:
        return
    if not item.skip_async and is_async(ctx, item.operation, execution):
        create_job(ctx, execution, item.operation, item.flow_id)
        return
    OPERATIONS[item.operation](ctx, execution, item.flow_id)


def is_async(ctx: CommandContext, operation: AtomicOperation, execution: Execution) -> bool:
    """Whether ``operation`` on ``execution`` is an asynchronous continuation."""
    if not operation.is_async_capable or execution.activity_id is None:
        return False
    node = ctx.process.node(execution.activity_id)
    if operation in (Op.TRANSITION_NOTIFY_LISTENER_TAKE, Op.ACTIVITY_END):
        return node.async_after
    return node.async_before


# --- asyncBefore side -------------------------------------------------------------------


def process_start(ctx: CommandContext, execution: Execution, _: str | None) -> None:
    """Fire the process start listeners, then enter the start event."""
    fire(ctx, execution, ctx.process.listeners_for(ListenerEvent.START), event="start")
    activity_start(ctx, execution, None)


def create_scope(ctx: CommandContext, execution: Execution, _: str | None) -> None:
    """``transition-create-scope`` / ``activity-start-create-scope``: enter the activity."""
    activity_start(ctx, execution, None)


def activity_start(ctx: CommandContext, execution: Execution, _: str | None) -> None:
    """Enter the activity: new activity instance, input mappings, start listeners, behaviour."""
    node = current_node(ctx, execution)
    start_activity_instance(ctx, execution, node)
    apply_inputs(ctx, execution, node)
    fire(ctx, execution, node.listeners_for(ListenerEvent.START), event="start")
    activity_execute(ctx, execution, None)


def activity_execute(ctx: CommandContext, execution: Execution, _: str | None) -> None:
    """Run the activity's behaviour."""
    node = current_node(ctx, execution)
    behavior_for(node).execute(ctx, execution, node)


def transition_take(ctx: CommandContext, execution: Execution, flow_id: str | None) -> None:
    """Fire the flow's take listeners and move the token to the flow's target."""
    assert flow_id is not None
    flow = ctx.process.flow(flow_id)
    ctx.current_activity_id = flow.source_ref
    fire(ctx, execution, flow.listeners, event="take", transition_id=flow.id)
    execution.activity_id = flow.target_ref
    execution.activity_instance_id = None
    ctx.schedule(Op.TRANSITION_CREATE_SCOPE, execution)


def activity_notify_listener_end(ctx: CommandContext, execution: Execution, _: str | None) -> None:
    """Fire the end listeners of an activity that ends its path (no outgoing flow)."""
    node = current_node(ctx, execution)
    fire(ctx, execution, node.listeners_for(ListenerEvent.END), event="end")
    end_activity_instance(ctx, execution.activity_instance_id)
    ctx.schedule(Op.ACTIVITY_END, execution)


def activity_end(ctx: CommandContext, execution: Execution, _: str | None) -> None:
    """Destroy the activity's scope (output mappings), then end this path of execution."""
    node = current_node(ctx, execution)
    apply_outputs(ctx, execution, node)
    destroy_local_scope(ctx, execution)
    execution.activity_instance_id = None
    end_path(ctx, execution)


OPERATIONS: dict[AtomicOperation, Callable[[CommandContext, Execution, str | None], None]] = {
    Op.PROCESS_START: process_start,
    Op.ACTIVITY_START_CREATE_SCOPE: create_scope,
    Op.TRANSITION_CREATE_SCOPE: create_scope,
    Op.ACTIVITY_START: activity_start,
    Op.ACTIVITY_EXECUTE: activity_execute,
    Op.TRANSITION_NOTIFY_LISTENER_TAKE: transition_take,
    Op.ACTIVITY_NOTIFY_LISTENER_END: activity_notify_listener_end,
    Op.ACTIVITY_END: activity_end,
}
