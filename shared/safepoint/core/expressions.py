"""Evaluating ``${...}`` expressions against an execution: variables, ``execution``, beans."""

from __future__ import annotations

from safepoint.core.context import CommandContext
from safepoint.core.delegates import EXECUTION_METHODS, EXECUTION_PROPERTIES, DelegateExecution
from safepoint.el import DefaultEvaluationContext, compile_expression
from safepoint.errors import EngineError, ExpressionError


class ExecutionEvaluationContext(DefaultEvaluationContext):
    """Identifiers resolve to ``execution``, then variables, then registered delegates.

    Method calls are allowed on ``execution`` (``getVariable``, ``setVariable``...) and on
    objects registered in the delegate registry (their public methods): nothing else
    can be called from a BPMN file.
    """

    def __init__(self, ctx: CommandContext, execution: DelegateExecution) -> None:
        """Evaluate from ``execution`` within ``ctx``."""
        super().__init__()
        self._ctx = ctx
        self._execution = execution

    def resolve(self, name: str) -> object:
        """``execution``, a visible variable, or a registered delegate, in that order."""
        if name == "execution":
            return self._execution
        if self._execution.has_variable(name):
            return self._execution.get_variable(name)
        if name in self._ctx.delegates:
            return self._ctx.delegates[name]
        raise ExpressionError(f"Cannot resolve identifier {name!r}", expression="")

    def get_property(self, base: object, name: object) -> object:
        """Read the whitelisted properties of ``execution``; otherwise the safe defaults."""
        if isinstance(base, DelegateExecution):
            attribute = EXECUTION_PROPERTIES.get(name) if isinstance(name, str) else None
            if attribute is None:
                raise ExpressionError(f"execution has no property {name!r}", expression="")
            return getattr(base, attribute)
        return super().get_property(base, name)

    def call_method(self, base: object, name: str, args: tuple[object, ...]) -> object:
        """Call a whitelisted method of ``execution`` or a public method of a registered bean."""
        if isinstance(base, DelegateExecution):
            attribute = EXECUTION_METHODS.get(name)
            if attribute is None:
                raise ExpressionError(f"execution has no method {name!r}", expression="")
            return getattr(base, attribute)(*args)
        if not name.startswith("_") and any(base is bean for bean in self._ctx.delegates.values()):
            method = getattr(base, name, None)
            if callable(method):
                return method(*args)
        return super().call_method(base, name, args)


def evaluate(ctx: CommandContext, execution: DelegateExecution, text: str) -> object:
    """The value of an expression (or template, or literal text) at ``execution``."""
    return compile_expression(text).evaluate(ExecutionEvaluationContext(ctx, execution))


def evaluate_condition(ctx: CommandContext, execution: DelegateExecution, text: str) -> bool:
    """The truth of a sequence-flow condition; a non-boolean result is an error."""
    value = evaluate(ctx, execution, text)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise EngineError(f"condition {text!r} evaluated to {value!r}, which is not a boolean")
