"""A safe evaluator for the subset of JUEL (Unified EL) that Camunda 7 processes use.

Nothing is executed as Python: expressions are parsed into a syntax tree and
interpreted, and every access to variables, properties and methods goes through an
:class:`EvaluationContext` that the caller controls.

Example::

    compile_expression("${amount > 1000 && not approved}").evaluate(
        DefaultEvaluationContext({"amount": 1500, "approved": False})
    )  # True
"""

from safepoint.el.context import DefaultEvaluationContext, EvaluationContext
from safepoint.el.expression import Expression, compile_expression, is_expression

__all__ = [
    "DefaultEvaluationContext",
    "EvaluationContext",
    "Expression",
    "compile_expression",
    "is_expression",
]
