"""Leaving activities: choosing flows, forking, joining, ending paths and scopes."""

from __future__ import annotations

from collections.abc import Sequence

from safepoint.core.cancellation import finish_instance
from safepoint.core.context import CommandContext
from safepoint.core.delegates import DelegateExecution
from safepoint.core.entities import Execution
from safepoint.core.expressions import evaluate_condition
from safepoint.core.history import end_activity_instance
from safepoint.core.listeners import fire
from safepoint.core.mappings import apply_outputs, destroy_local_scope
from safepoint.core.operations import AtomicOperation
from safepoint.core.tree import children, compact, fork, parent, remove_execution
from safepoint.errors import EngineError
from safepoint.model import FlowNode, ListenerEvent, SequenceFlow

Op = AtomicOperation


def current_node(ctx: CommandContext, execution: Execution) -> FlowNode:
    """The node the execution is at, remembered as the place a failure would come from."""
    assert execution.activity_id is not None
    ctx.current_activity_id = execution.activity_id
    return ctx.process.node(execution.activity_id)


def selected_flows(ctx: CommandContext, execution: Execution, node: FlowNode) -> list[SequenceFlow]:
    """The outgoing flows whose condition holds (flows without a condition always do)."""
    delegate = DelegateExecution(ctx, execution)
    return [
        flow
        for flow in ctx.process.outgoing(node)
        if flow.condition is None or evaluate_condition(ctx, delegate, flow.condition)
    ]


def take_outgoing(ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
    """Camunda's default outgoing behaviour: take every flow whose condition holds.

    Several flows fork (an implicit parallel split); no outgoing flow at all ends the
    path; outgoing flows of which none holds are an error.
    """
    flows = selected_flows(ctx, execution, node)
    if node.outgoing and not flows:
        raise EngineError(
            f"No conditional sequence flow leaving the Flow Node {node.id!r} "
            "could be selected for continuing the process"
        )
    leave(ctx, execution, flows)


def leave(
    ctx: CommandContext,
    execution: Execution,
    flows: Sequence[SequenceFlow],
    joined: Sequence[Execution] = (),
) -> None:
    """Leave the current activity through ``flows`` (none: the path ends here).

    ``joined`` are the executions a joining gateway consumes: each of the others ends
    with the activity, firing its end listeners (Camunda ends every joined execution
    but the one that goes on, whose end listeners fire as it leaves), and the scope is
    compacted before the outgoing tokens are created.
    """
    others = [other for other in joined if other.id != execution.id]
    ctx.state.read_activity_instances(other.activity_instance_id for other in others)
    for other in others:
        node = current_node(ctx, other)
        fire(ctx, other, node.listeners_for(ListenerEvent.END), event="end")
        end_activity_instance(ctx, other.activity_instance_id)
        remove_execution(ctx, other)
    if joined:
        owner = parent(ctx.state, execution)
        if owner is not None and execution.is_concurrent:
            compact(ctx, owner)
        execution = ctx.execution(execution.id)
        execution.is_active = True
    if not flows:
        ctx.schedule(Op.ACTIVITY_NOTIFY_LISTENER_END, execution)
        return
    node = current_node(ctx, execution)
    # transition-notify-listener-end
    fire(ctx, execution, node.listeners_for(ListenerEvent.END), event="end")
    end_activity_instance(ctx, execution.activity_instance_id)
    # transition-destroy-scope
    apply_outputs(ctx, execution, node)
    destroy_local_scope(ctx, execution)
    execution.activity_instance_id = None
    for token, flow in zip(fork(ctx, execution, len(flows)), flows, strict=True):
        ctx.schedule(Op.TRANSITION_NOTIFY_LISTENER_TAKE, token, flow_id=flow.id)


def end_path(ctx: CommandContext, execution: Execution) -> None:
    """A token is gone: remove its execution, completing the scope when it was the last."""
    if execution.is_concurrent:
        root = parent(ctx.state, execution)
        assert root is not None
        remove_execution(ctx, execution)
        ctx.redirects[execution.id] = root.id
        if children(ctx.state, root):
            compact(ctx, root)
            return
        execution = root
    complete_scope(ctx, execution)


def complete_scope(ctx: CommandContext, scope: Execution) -> None:
    """Every token of a scope is gone: end the process, or leave the sub-process.

    The process end listeners see the activity the last token ended at, as in Camunda.
    """
    token = parent(ctx.state, scope)
    if token is None:
        process_end(ctx, scope)
        return
    remove_execution(ctx, scope)
    ctx.redirects[scope.id] = token.id
    token.is_active = True
    take_outgoing(ctx, token, current_node(ctx, token))


def process_end(ctx: CommandContext, root: Execution) -> None:
    """Fire the process end listeners and mark the instance completed."""
    fire(ctx, root, ctx.process.listeners_for(ListenerEvent.END), event="end")
    finish_instance(ctx)
