"""Running what a BPMN element names: a registered delegate or an expression."""

from __future__ import annotations

from safepoint.core.context import CommandContext
from safepoint.core.delegates import DelegateExecution, call_delegate, resolve_delegate
from safepoint.core.expressions import evaluate
from safepoint.model import Implementation, ImplementationKind


def invoke(
    ctx: CommandContext,
    execution: DelegateExecution,
    implementation: Implementation,
    *,
    listener: bool = False,
) -> object:
    """Run an implementation (class, delegate expression or expression); return its result.

    ``camunda:class`` names a delegate in the registry; ``camunda:delegateExpression``
    evaluates to a delegate (or to the name of one); ``camunda:expression`` is evaluated
    for its value.
    """
    if implementation.kind is ImplementationKind.CLASS:
        target = resolve_delegate(ctx, implementation.value)
        return call_delegate(target, execution, listener=listener)
    if implementation.kind is ImplementationKind.DELEGATE_EXPRESSION:
        target = evaluate(ctx, execution, implementation.value)
        if isinstance(target, str):
            target = resolve_delegate(ctx, target)
        return call_delegate(target, execution, listener=listener)
    return evaluate(ctx, execution, implementation.value)
