"""Typed serialization of variable values, with Camunda's type names; never pickle.

A value is stored as ``(type_name, text)``. The text is canonical (the same value always
gives the same text), so comparing texts tells whether a variable changed, including a
list or dict that a delegate mutated in place without setting it again.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal

from safepoint.errors import BadUserRequest, PersistenceError

INTEGER_RANGE = range(-(2**31), 2**31)
LONG_RANGE = range(-(2**63), 2**63)

_SUPPORTED = (
    "None, bool, int, float, str, a timezone-aware datetime, or dicts and lists of JSON values"
)


def serialize(value: object, *, name: str = "value") -> tuple[str, str]:
    """Return ``(type_name, text)`` for ``value``.

    Args:
        value: the variable's value.
        name: the variable's name, for the error message.

    Raises:
        BadUserRequest: the value's type cannot be stored.
    """
    if value is None:
        return "Null", ""
    if isinstance(value, bool):
        return "Boolean", "true" if value else "false"
    if isinstance(value, int):
        if value in INTEGER_RANGE:
            return "Integer", int.__repr__(value)
        if value in LONG_RANGE:
            return "Long", int.__repr__(value)
        raise BadUserRequest(
            f"variable {name!r} holds {value}, which is outside the 64-bit Long range; use a string"
        )
    if isinstance(value, float):  # NaN and infinities are refused when written: see diff
        return "Double", float.__repr__(value)
    if isinstance(value, str):
        return "String", str.__str__(value)
    if isinstance(value, datetime):
        return "Date", _aware(value, name).astimezone(UTC).isoformat()
    if isinstance(value, dict | list):
        _check_json(value, name, name)
        return "Json", json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    raise _refused(value, name, name)


def deserialize(type_name: str, text: str) -> object:
    """Return the value stored as ``(type_name, text)`` by :func:`serialize`.

    Raises:
        PersistenceError: ``type_name`` is not a known type.
    """
    match type_name:
        case "Null":
            return None
        case "Boolean":
            return text == "true"
        case "Integer" | "Long":
            return int(text)
        case "Double":
            return float(text)
        case "String":
            return text
        case "Date":
            return datetime.fromisoformat(text).astimezone(UTC)
        case "Json":
            return json.loads(text)
    raise PersistenceError(f"unknown variable type {type_name!r} in the database")


def _aware(value: datetime, name: str) -> datetime:
    """Return ``value`` if it has a timezone, else refuse it."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadUserRequest(
            f"variable {name!r} holds a naive datetime, which cannot be stored; "
            "give it a timezone, e.g. datetime.now(timezone.utc)"
        )
    return value


def _check_json(value: object, name: str, path: str) -> None:
    """Refuse anything in ``value`` that JSON would not give back unchanged."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadUserRequest(
                f"variable {name!r} holds {value} at {path}, which JSON cannot represent; "
                "use None or a string"
            )
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, name, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise BadUserRequest(
                    f"variable {name!r} has a key of type {type(key).__name__} at {path}, "
                    "which JSON cannot keep; use string keys"
                )
            _check_json(item, name, f"{path}[{key!r}]")
        return
    raise _refused(value, name, path)


def _refused(value: object, name: str, path: str) -> BadUserRequest:
    """The error for a value of a type that cannot be stored, with what to use instead."""
    type_name = type(value).__name__
    if isinstance(value, tuple | set | frozenset):
        hint = "use a list"
    elif isinstance(value, datetime):
        hint = "use an ISO 8601 string inside a dict or list, or a datetime variable of its own"
    elif isinstance(value, date):
        hint = "use a timezone-aware datetime or an ISO 8601 string"
    elif isinstance(value, Decimal):
        hint = "use a float, or a string to keep every digit"
    elif isinstance(value, bytes | bytearray):
        hint = "use a base64-encoded string"
    else:
        hint = f"use {_SUPPORTED}"
    where = "" if path == name else f" at {path}"
    return BadUserRequest(
        f"variable {name!r} has type {type_name}{where}, which cannot be stored; {hint}"
    )
