"""Compiled expressions: what the engine keeps and evaluates, cached by source text."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from safepoint.el.coercion import to_text
from safepoint.el.context import EvaluationContext
from safepoint.el.evaluator import evaluate
from safepoint.el.nodes import Identifier, Node, walk
from safepoint.el.template import contains_expression, parse_template


@dataclass(frozen=True)
class Expression:
    """A compiled expression text, ready to be evaluated many times.

    Attributes:
        source: the text it was compiled from.
        parts: literal strings and syntax trees, in the order of the text.
        identifiers: the top-level identifiers it references.
    """

    source: str
    parts: tuple[str | Node, ...] = field(repr=False)
    identifiers: frozenset[str] = field(repr=False)

    def evaluate(self, context: EvaluationContext) -> object:
        """Evaluate against ``context``.

        A text that is exactly one ``${...}`` gives that expression's value, of any type.
        Otherwise the result is a string: the literal text with each expression's value
        inserted (null as ``""``, booleans as ``true``/``false``).

        Raises:
            ExpressionError: evaluation failed.
        """
        if len(self.parts) == 1 and not isinstance(self.parts[0], str):
            return evaluate(self.parts[0], context, self.source)
        return "".join(
            part if isinstance(part, str) else to_text(evaluate(part, context, self.source))
            for part in self.parts
        )


@functools.lru_cache(maxsize=4096)
def compile_expression(text: str) -> Expression:
    """Compile a Camunda expression text: ``${...}``, ``#{...}``, a template or plain text.

    Results are cached: compiling the same text again returns the same object.

    Raises:
        ExpressionError: a syntax error, with ``position`` its offset in ``text``.
    """
    parts = parse_template(text)
    identifiers = frozenset(
        node.name
        for part in parts
        if not isinstance(part, str)
        for node, _ in walk(part)
        if isinstance(node, Identifier)
    )
    return Expression(text, parts, identifiers)


def is_expression(text: str) -> bool:
    """Whether ``text`` contains at least one ``${...}`` or ``#{...}`` expression."""
    return contains_expression(text)
