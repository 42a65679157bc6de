"""The behaviour protocol, and the behaviour of elements that just pass the token on."""

from __future__ import annotations

from typing import Protocol

from safepoint.core.context import CommandContext
from safepoint.core.entities import Execution
from safepoint.core.transitions import take_outgoing
from safepoint.model import FlowNode


class ActivityBehavior(Protocol):
    """What an element does when a token enters it, and when its wait state is signalled."""

    def execute(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Run the element; either leave it or leave the token waiting."""
        ...

    def signal(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Continue after the wait state (task completed, message received...)."""
        ...


class PassThrough:
    """Start events, abstract tasks and manual tasks: leave at once."""

    def execute(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Take the outgoing flows."""
        take_outgoing(ctx, execution, node)

    def signal(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Take the outgoing flows."""
        take_outgoing(ctx, execution, node)
