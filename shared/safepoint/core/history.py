"""The history of activity instances: when each activity started and ended."""

from __future__ import annotations

from safepoint.core.context import CommandContext
from safepoint.core.entities import Execution, HistoricActivityInstance
from safepoint.core.tree import scope_execution
from safepoint.model import EndEvent, FlowNode, IntermediateCatchEvent


def activity_type(node: FlowNode) -> str:
    """Camunda's activity type name for a node (``serviceTask``, ``noneEndEvent``...)."""
    if isinstance(node, EndEvent):
        return "terminateEndEvent" if node.terminate else "noneEndEvent"
    if isinstance(node, IntermediateCatchEvent):
        return "intermediateMessageCatch"
    return node.element_type


def start_activity_instance(ctx: CommandContext, execution: Execution, node: FlowNode) -> str:
    """Enter ``node`` on ``execution``: a new activity instance, recorded in history."""
    scope = scope_execution(ctx.state, execution)
    instance = HistoricActivityInstance(
        id=ctx.new_id(),
        process_instance_id=ctx.state.id,
        activity_id=node.id,
        activity_type=activity_type(node),
        activity_name=node.name,
        execution_id=execution.id,
        parent_activity_instance_id=scope.scope_instance_id,
        started_at=ctx.now,
        ordinal=ctx.state.next_ordinal(),
    )
    ctx.state.activity_instances[instance.id] = instance
    execution.activity_instance_id = instance.id
    if ctx.activity_listener is not None:
        ctx.activity_listener("start", instance)
    return instance.id


def end_activity_instance(
    ctx: CommandContext, activity_instance_id: str | None, *, canceled: bool = False
) -> None:
    """Record the end (or cancellation) of an activity instance, once."""
    if activity_instance_id is None:
        return
    instance = ctx.state.activity_instance(activity_instance_id)
    if instance is not None and instance.ended_at is None:
        instance.ended_at = ctx.now
        instance.canceled = canceled
        if ctx.activity_listener is not None:
            ctx.activity_listener("end", instance)


def link_task(ctx: CommandContext, activity_instance_id: str | None, task_id: str) -> None:
    """Remember which user task an activity instance created."""
    instance = ctx.state.activity_instance(activity_instance_id) if activity_instance_id else None
    if instance is not None:
        instance.task_id = task_id
