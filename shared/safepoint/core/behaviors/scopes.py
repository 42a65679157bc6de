"""Embedded sub-processes: a new scope execution that runs the inner flow."""

from __future__ import annotations

from safepoint.core.behaviors.base import PassThrough
from safepoint.core.context import CommandContext
from safepoint.core.entities import Execution
from safepoint.core.operations import AtomicOperation
from safepoint.core.tree import new_execution
from safepoint.model import FlowNode


class SubProcessBehavior(PassThrough):
    """Start the sub-process's start event in a child scope execution.

    The execution at the sub-process waits (inactive) until the child scope completes;
    then it leaves the sub-process like any activity (``complete_scope``).
    """

    def execute(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Create the scope execution and start the initial event (async-capable)."""
        start = ctx.process.initial_start_event(node.id)
        execution.is_active = False
        scope = new_execution(
            ctx,
            execution,
            is_scope=True,
            scope_activity_id=node.id,
            scope_instance_id=execution.activity_instance_id,
            activity_id=start.id,
        )
        ctx.schedule(AtomicOperation.ACTIVITY_START_CREATE_SCOPE, scope)
