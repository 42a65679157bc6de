"""Service, send and user tasks."""

from __future__ import annotations

from safepoint.core.behaviors.base import PassThrough
from safepoint.core.context import CommandContext
from safepoint.core.delegates import DelegateExecution
from safepoint.core.entities import Execution, ExternalTask, Task
from safepoint.core.expressions import evaluate
from safepoint.core.history import link_task
from safepoint.core.invocation import invoke
from safepoint.core.transitions import take_outgoing
from safepoint.el import is_expression
from safepoint.model import FlowNode, ServiceTask, UserTask


class ServiceTaskBehavior(PassThrough):
    """Run the delegate or expression and leave; an external task waits for its worker."""

    def execute(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Invoke the implementation (setting ``resultVariable``), or create the external task."""
        assert isinstance(node, ServiceTask)
        if node.topic is not None:
            assert execution.activity_instance_id is not None
            task = ExternalTask(
                id=ctx.new_id(),
                process_instance_id=ctx.state.id,
                execution_id=execution.id,
                activity_id=node.id,
                activity_instance_id=execution.activity_instance_id,
                process_definition_id=ctx.definition.id,
                process_definition_key=ctx.definition.key,
                topic=node.topic,
                created_at=ctx.now,
                trace_context=dict(ctx.trace_context),
            )
            ctx.state.external_tasks[task.id] = task
            return
        assert node.implementation is not None
        delegate = DelegateExecution(ctx, execution)
        result = invoke(ctx, delegate, node.implementation)
        if node.result_variable:
            delegate.set_variable(node.result_variable, result)
        take_outgoing(ctx, execution, node)


class UserTaskBehavior(PassThrough):
    """Create a task for a person and wait until it is completed."""

    def execute(self, ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
        """Create the task (the assignee may be an expression)."""
        assert isinstance(node, UserTask)
        assert execution.activity_instance_id is not None
        assignee: object = node.assignee
        if node.assignee and is_expression(node.assignee):
            assignee = evaluate(ctx, DelegateExecution(ctx, execution), node.assignee)
        task = Task(
            id=ctx.new_id(),
            process_instance_id=ctx.state.id,
            execution_id=execution.id,
            activity_id=node.id,
            activity_instance_id=execution.activity_instance_id,
            process_definition_id=ctx.definition.id,
            created_at=ctx.now,
            name=node.name,
            assignee=None if assignee is None else str(assignee),
            candidate_groups=node.candidate_groups,
        )
        ctx.state.tasks[task.id] = task
        link_task(ctx, execution.activity_instance_id, task.id)
