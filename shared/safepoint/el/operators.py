"""The binary and unary operators of EL: arithmetic, equality and ordering."""

from __future__ import annotations

import datetime
import math
import operator
from collections.abc import Callable
from decimal import Decimal, DecimalException
from typing import Any

from safepoint.el.coercion import (
    CoercionError,
    Number,
    describe,
    is_number,
    parse_number,
    to_bool,
    to_number,
)

ARITHMETIC_OPERATORS = frozenset({"+", "-", "*", "/", "%"})
ORDERING_OPERATORS = frozenset({"<", ">", "<=", ">="})

_ORDERINGS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
_ORDERED_TYPES = (datetime.date, datetime.time, datetime.timedelta)


def arithmetic(symbol: str, left: object, right: object) -> Number:
    """Apply ``+ - * / %`` after coercing both operands to numbers.

    ``int`` with ``int`` stays ``int`` except for ``/``, which gives a float (a Decimal
    when a Decimal is involved). ``%`` keeps the sign of the dividend, as in Java.

    Raises:
        CoercionError: an operand is not a number, or the divisor is zero.
    """
    a = to_number(left)
    b = to_number(right)
    if symbol in ("/", "%") and b == 0:
        raise CoercionError("division by zero")
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        if isinstance(a, float) or isinstance(b, float):
            return _float_arithmetic(symbol, float(a), float(b))
        try:
            return _decimal_arithmetic(symbol, Decimal(a), Decimal(b))
        except DecimalException as exc:
            raise CoercionError(f"cannot compute {a} {symbol} {b}") from exc
    if isinstance(a, int) and isinstance(b, int):
        return _int_arithmetic(symbol, a, b)
    return _float_arithmetic(symbol, float(a), float(b))


def _int_arithmetic(symbol: str, a: int, b: int) -> Number:
    if symbol == "+":
        return a + b
    if symbol == "-":
        return a - b
    if symbol == "*":
        return a * b
    if symbol == "/":
        try:
            return a / b
        except OverflowError as exc:
            raise CoercionError(f"the result of {a} / {b} is too large") from exc
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


def _float_arithmetic(symbol: str, a: float, b: float) -> float:
    if symbol == "+":
        return a + b
    if symbol == "-":
        return a - b
    if symbol == "*":
        return a * b
    if symbol == "/":
        return a / b
    return math.fmod(a, b)


def _decimal_arithmetic(symbol: str, a: Decimal, b: Decimal) -> Decimal:
    if symbol == "+":
        return a + b
    if symbol == "-":
        return a - b
    if symbol == "*":
        return a * b
    if symbol == "/":
        return a / b
    return a % b


def negate(value: object) -> Number:
    """Unary minus: coerce to a number and negate.

    Raises:
        CoercionError: the operand is not a number.
    """
    return -to_number(value)


def equals(left: object, right: object) -> bool:
    """``==``: null equals only null; numbers and booleans are compared with coercion.

    A string compared with a number is read as a number (unequal if it is not one);
    a string compared with a boolean is read as ``'true'``/``'false'``; a boolean never
    equals a number.
    """
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, bool) and isinstance(right, bool):
            return left == right
        flag, other = (left, right) if isinstance(left, bool) else (right, left)
        if isinstance(other, str) and other.lower() in ("true", "false"):
            return flag == to_bool(other)
        return False
    if is_number(left) and isinstance(right, str):
        return _equals_text(left, right)
    if is_number(right) and isinstance(left, str):
        return _equals_text(right, left)
    return bool(left == right)


def _equals_text(number: object, text: str) -> bool:
    try:
        return bool(number == parse_number(text))
    except CoercionError:
        return False


def compare(symbol: str, left: object, right: object) -> bool:
    """``< > <= >=``: false if either side is null; numbers, strings and dates are ordered.

    A string compared with a number is read as a number.

    Raises:
        CoercionError: the operands cannot be ordered against each other.
    """
    if left is None or right is None:
        return False
    ordering = _ORDERINGS[symbol]
    if is_number(left) and is_number(right):
        return bool(ordering(left, right))
    if is_number(left) and isinstance(right, str):
        return bool(ordering(left, to_number(right)))
    if isinstance(left, str) and is_number(right):
        return bool(ordering(to_number(left), right))
    if isinstance(left, str) and isinstance(right, str):
        return bool(ordering(left, right))
    if isinstance(left, _ORDERED_TYPES) and isinstance(right, _ORDERED_TYPES):
        try:
            return bool(ordering(left, right))
        except TypeError:
            pass
    raise CoercionError(f"cannot compare {describe(left)} with {describe(right)}")
