"""Coercions of the EL spec (JSR 245, section 1.18), simplified for Python values."""

from __future__ import annotations

import re
from collections.abc import Sized
from decimal import Decimal
from typing import TypeAlias

Number: TypeAlias = int | float | Decimal
"""The numbers expressions compute with (``bool`` is never a number here)."""

_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class CoercionError(ValueError):
    """A value cannot be coerced as an operator needs; the evaluator adds the position."""


def describe(value: object) -> str:
    """Name ``value`` for an error message: ``null``, ``boolean true``, ``string 'x'``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {to_text(value)}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if is_number(value):
        return f"number {value}"
    return f"a value of type {type(value).__name__}"


def is_number(value: object) -> bool:
    """Whether ``value`` is a number for expressions: int, float or Decimal, never a bool."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def parse_number(text: str) -> Number:
    """Read ``text`` as a number: an int if it is integral text, else a float.

    The empty string is 0, as in the EL spec.

    Raises:
        CoercionError: ``text`` is not a number.
    """
    if text == "":
        return 0
    try:
        if _INTEGER.fullmatch(text):
            return int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
    except ValueError:  # an integer too long to convert
        pass
    raise CoercionError(f"cannot use {describe(text)} as a number")


def to_number(value: object) -> Number:
    """Coerce ``value`` to a number: null is 0, strings are parsed, booleans are refused.

    Raises:
        CoercionError: ``value`` cannot be used as a number.
    """
    if value is None:
        return 0
    if isinstance(value, bool):
        raise CoercionError(f"cannot use {describe(value)} as a number")
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        return parse_number(value)
    raise CoercionError(f"cannot use {describe(value)} as a number")


def to_bool(value: object) -> bool:
    """Coerce ``value`` to a boolean.

    null and ``""`` are false; the strings ``'true'`` and ``'false'`` (in any case) are
    read as booleans.

    Raises:
        CoercionError: any other value, so that a mistyped condition fails loudly.
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered in ("false", ""):
            return False
        raise CoercionError(
            f"cannot use {describe(value)} as a boolean (expected 'true' or 'false')"
        )
    raise CoercionError(f"cannot use {describe(value)} as a boolean")


def to_text(value: object) -> str:
    """Coerce ``value`` to a string: null is ``""``, booleans are ``true``/``false``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return str(value)


def is_empty(value: object) -> bool:
    """The ``empty`` operator: true for null, ``""`` and empty collections."""
    if value is None:
        return True
    if isinstance(value, Sized):
        return len(value) == 0
    return False
