"""End events and message-catching elements (receive task, intermediate catch event)."""

from __future__ import annotations

from safepoint.core.behaviors.base import PassThrough
from safepoint.core.cancellation import terminate_scope
from safepoint.core.context import CommandContext
from safepoint.core.entities import EventSubscription, Execution
from safepoint.core.transitions import leave
from safepoint.model import EndEvent, FlowNode, IntermediateCatchEvent, ReceiveTask


class EndEventBehavior(PassThrough):
    """End this path; a terminate end event first cancels every other path of its scope."""

    def execute(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """End the token (after terminating the scope's other tokens if asked)."""
        assert isinstance(node, EndEvent)
        if node.terminate:
            execution = terminate_scope(ctx, execution)
        leave(ctx, execution, ())


class MessageWaitBehavior(PassThrough):
    """Subscribe to a message by name and wait until it is correlated."""

    def execute(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Create the message subscription."""
        assert isinstance(node, ReceiveTask | IntermediateCatchEvent)
        subscription = EventSubscription(
            id=ctx.new_id(),
            process_instance_id=ctx.state.id,
            execution_id=execution.id,
            activity_id=node.id,
            event_name=node.message_name,
            created_at=ctx.now,
        )
        ctx.state.subscriptions[subscription.id] = subscription
