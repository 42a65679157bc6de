"""``camunda:inputOutput``: input parameters create local variables, outputs copy them out."""

from __future__ import annotations

from safepoint.core.context import CommandContext
from safepoint.core.delegates import DelegateExecution
from safepoint.core.entities import Execution
from safepoint.core.expressions import evaluate
from safepoint.core.tree import variable_scope_ids
from safepoint.el import is_expression
from safepoint.model import FlowNode, IoValue, ListValue, MapValue


def io_value(ctx: CommandContext, execution: DelegateExecution, value: IoValue) -> object:
    """The value of a parameter: an evaluated template, a literal, a list or a map."""
    if value is None:
        return None
    if isinstance(value, str):
        return evaluate(ctx, execution, value) if is_expression(value) else value
    if isinstance(value, ListValue):
        return [io_value(ctx, execution, item) for item in value.items]
    assert isinstance(value, MapValue)
    return {key: io_value(ctx, execution, item) for key, item in value.entries}


def apply_inputs(ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
    """Evaluate the input parameters (in the enclosing scope) and set them locally.

    All parameters are evaluated before any is set, so one input does not see another,
    as in Camunda where inputs are evaluated against the parent scope.
    """
    if node.input_output is None or not node.input_output.inputs:
        return
    assert execution.activity_instance_id is not None
    delegate = DelegateExecution(ctx, execution)
    values = {
        parameter.name: io_value(ctx, delegate, parameter.value)
        for parameter in node.input_output.inputs
    }
    ctx.state.variables.setdefault(execution.activity_instance_id, {}).update(values)


def apply_outputs(ctx: CommandContext, execution: Execution, node: FlowNode) -> None:
    """Evaluate the output parameters in the activity's scope; set them in the parent's."""
    if node.input_output is None or not node.input_output.outputs:
        return
    delegate = DelegateExecution(ctx, execution)
    values = [
        (parameter.name, io_value(ctx, delegate, parameter.value))
        for parameter in node.input_output.outputs
    ]
    scope_ids = variable_scope_ids(ctx.state, ctx.process, execution)
    if execution.activity_instance_id in scope_ids:
        scope_ids.remove(execution.activity_instance_id)
    for name, value in values:
        target = next(
            (sid for sid in scope_ids if name in ctx.state.variables.get(sid, {})), scope_ids[-1]
        )
        ctx.state.variables.setdefault(target, {})[name] = value


def destroy_local_scope(ctx: CommandContext, execution: Execution) -> None:
    """Drop the local variables of the activity instance ``execution`` is leaving."""
    if execution.activity_instance_id is not None:
        ctx.state.variables.pop(execution.activity_instance_id, None)
