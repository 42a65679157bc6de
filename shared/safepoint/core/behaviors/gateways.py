"""Exclusive, inclusive and parallel gateways: choosing flows, forking and joining."""

from __future__ import annotations

from safepoint.core.behaviors.base import PassThrough
from safepoint.core.context import CommandContext
from safepoint.core.delegates import DelegateExecution
from safepoint.core.entities import Execution
from safepoint.core.expressions import evaluate_condition
from safepoint.core.transitions import leave
from safepoint.core.tree import (
    joined_executions,
    leaf_executions,
    scope_execution,
    waiting_count,
)
from safepoint.errors import NoOutgoingFlow
from safepoint.model import ExclusiveGateway, FlowNode, InclusiveGateway, Process, SequenceFlow


class ExclusiveGatewayBehavior(PassThrough):
    """Take the first flow (in document order) whose condition holds, else the default."""

    def execute(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Select one flow; none at all is an error."""
        assert isinstance(node, ExclusiveGateway)
        delegate = DelegateExecution(ctx, execution)
        for flow in ctx.process.outgoing(node):
            if flow.id == node.default_flow:
                continue
            if flow.condition is None or evaluate_condition(ctx, delegate, flow.condition):
                leave(ctx, execution, [flow])
                return
        if node.default_flow is not None:
            leave(ctx, execution, [ctx.process.flow(node.default_flow)])
            return
        if not node.outgoing:
            leave(ctx, execution, ())
            return
        raise NoOutgoingFlow(node.id)


class ParallelGatewayBehavior(PassThrough):
    """Wait for a token on every incoming flow, then fork to every outgoing flow."""

    def execute(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Join this token; when all have arrived, leave through all outgoing flows."""
        execution.is_active = False
        expected = max(1, len(node.incoming))
        if waiting_count(ctx.state, execution, node.id) < expected:
            return  # not every token is there: no need to read the others
        joined = joined_executions(ctx.state, execution, node.id)
        if len(joined) >= expected:
            leave(ctx, execution, ctx.process.outgoing(node), joined)


class InclusiveGatewayBehavior(PassThrough):
    """Join the tokens that can still arrive, then take every flow whose condition holds."""

    def execute(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Join; when no other token can reach the gateway, choose and take the flows."""
        assert isinstance(node, InclusiveGateway)
        execution.is_active = False
        joined = joined_executions(ctx.state, execution, node.id)
        if not activates(ctx, execution, node, joined):
            return
        leave(ctx, execution, self._selected(ctx, execution, node), joined)

    def _selected(
        self, ctx: CommandContext, execution: Execution, node: InclusiveGateway
    ) -> list[SequenceFlow]:
        delegate = DelegateExecution(ctx, execution)
        flows = [
            flow
            for flow in ctx.process.outgoing(node)
            if flow.id != node.default_flow
            and (flow.condition is None or evaluate_condition(ctx, delegate, flow.condition))
        ]
        if flows or not node.outgoing:
            return flows
        if node.default_flow is not None:
            return [ctx.process.flow(node.default_flow)]
        raise NoOutgoingFlow(node.id)


def activates(
    ctx: CommandContext, execution: Execution, node: FlowNode, joined: list[Execution]
) -> bool:
    """Whether an inclusive join fires: every incoming flow has a token, or no token can come."""
    if len(joined) >= len(node.incoming):
        return True
    joined_ids = {e.id for e in joined}
    scope = scope_execution(ctx.state, execution)
    for leaf in leaf_executions(ctx.state, scope):
        if leaf.id in joined_ids or leaf.activity_id is None:
            continue
        if is_reachable(ctx.process, leaf.activity_id, node.id):
            return False
    return True


def is_reachable(process: Process, source_id: str, target_id: str) -> bool:
    """Whether a token at ``source_id`` can still reach ``target_id`` by following flows.

    A token inside a sub-process reaches whatever the sub-process itself reaches.
    """
    seen: set[str] = set()
    stack = [source_id]
    while stack:
        node_id = stack.pop()
        if node_id == target_id:
            return True
        if node_id in seen:
            continue
        seen.add(node_id)
        node = process.node(node_id)
        stack.extend(process.flow(flow_id).target_ref for flow_id in node.outgoing)
        if node.scope_id != process.id:
            stack.append(node.scope_id)
    return False
