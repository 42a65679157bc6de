"""Evaluates a syntax tree against an evaluation context, following EL semantics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import assert_never

from safepoint.el.coercion import CoercionError, is_empty, to_bool
from safepoint.el.context import EvaluationContext
from safepoint.el.nodes import (
    Binary,
    Conditional,
    Identifier,
    Index,
    Literal,
    MethodCall,
    Node,
    Property,
    Unary,
)
from safepoint.el.operators import (
    ARITHMETIC_OPERATORS,
    ORDERING_OPERATORS,
    arithmetic,
    compare,
    equals,
    negate,
)
from safepoint.errors import ExpressionError


def evaluate(node: Node, context: EvaluationContext, source: str) -> object:
    """Evaluate ``node``, parsed from ``source``, against ``context``.

    Raises:
        ExpressionError: evaluation failed; ``position`` points at the failing part.
    """
    return _Evaluator(context, source).evaluate(node)


class _Evaluator:
    __slots__ = ("_context", "_source")

    def __init__(self, context: EvaluationContext, source: str) -> None:
        self._context = context
        self._source = source

    def evaluate(self, node: Node) -> object:
        match node:
            case Literal():
                return node.value
            case Identifier():
                with self._located(node.position, node.name):
                    return self._context.resolve(node.name)
            case Property():
                base = self.evaluate(node.base)
                if base is None:
                    return None
                with self._located(node.position):
                    return self._context.get_property(base, node.name)
            case Index():
                base = self.evaluate(node.base)
                key = self.evaluate(node.index)
                if base is None or key is None:
                    return None
                with self._located(node.position):
                    return self._context.get_property(base, key)
            case MethodCall():
                return self._call(node)
            case Unary():
                return self._unary(node)
            case Binary():
                return self._binary(node)
            case Conditional():
                condition = self._bool(self.evaluate(node.condition), node.position)
                return self.evaluate(node.then if condition else node.otherwise)
            case _:
                assert_never(node)

    def _call(self, node: MethodCall) -> object:
        base = self.evaluate(node.base)
        if base is None:
            raise self._error(f"cannot call method {node.name!r} on null", node.position)
        arguments = tuple([self.evaluate(argument) for argument in node.arguments])
        with self._located(node.position):
            return self._context.call_method(base, node.name, arguments)

    def _unary(self, node: Unary) -> object:
        operand = self.evaluate(node.operand)
        if node.operator == "empty":
            return is_empty(operand)
        if node.operator == "!":
            return not self._bool(operand, node.position)
        with self._coercing(node.position):
            return negate(operand)

    def _binary(self, node: Binary) -> object:
        symbol = node.operator
        left = self.evaluate(node.left)
        if symbol == "&&":
            return self._bool(left, node.position) and self._bool(
                self.evaluate(node.right), node.position
            )
        if symbol == "||":
            return self._bool(left, node.position) or self._bool(
                self.evaluate(node.right), node.position
            )
        right = self.evaluate(node.right)
        if symbol == "==":
            return equals(left, right)
        if symbol == "!=":
            return not equals(left, right)
        with self._coercing(node.position):
            if symbol in ARITHMETIC_OPERATORS:
                return arithmetic(symbol, left, right)
            if symbol in ORDERING_OPERATORS:
                return compare(symbol, left, right)
        raise self._error(f"unknown operator {symbol!r}", node.position)

    def _bool(self, value: object, position: int) -> bool:
        with self._coercing(position):
            return to_bool(value)

    @contextmanager
    def _coercing(self, position: int) -> Iterator[None]:
        try:
            yield
        except CoercionError as exc:
            raise self._error(str(exc), position) from exc

    @contextmanager
    def _located(self, position: int, identifier: str | None = None) -> Iterator[None]:
        """Give errors from the context this expression and ``position``."""
        try:
            yield
        except ExpressionError as exc:
            if exc.position is not None:
                raise  # from a nested expression, already located
            raise self._error(exc.reason, position) from exc
        except KeyError as exc:
            if identifier is None:
                raise
            raise self._error(f"Cannot resolve identifier {identifier!r}", position) from exc

    def _error(self, message: str, position: int) -> ExpressionError:
        return ExpressionError(message, expression=self._source, position=position)
