"""Camunda's typed variables JSON (``{"amount": {"value": 10, "type": "Integer"}}``) ⇄ Python.

The supported types and their Python values:

=========== ======================================== ===================================
type        JSON ``value``                           Python value
=========== ======================================== ===================================
String      a string                                 ``str``
Integer     an integer in 32 bits                    ``int``
Long        an integer in 64 bits                    ``int``
Short       an integer in 16 bits                    ``int``
Double      a number                                 ``float``
Boolean     ``true`` / ``false``                     ``bool``
Null        ``null``                                 ``None``
Date        ``2026-01-01T10:00:00.000+0000``         aware ``datetime`` in UTC
Json        a string holding JSON (Camunda's form),  what the JSON holds (dict, list...)
            or the JSON object or array itself
Object      as Json, with ``valueInfo``              what the JSON holds
            ``{"serializationDataFormat":
            "application/json"}``
(no type)   any JSON value: the type is inferred     as above
=========== ======================================== ===================================

A ``null`` value of any type is ``None``, as in Camunda. Type names are matched without
regard to case (Camunda lowercases their first letter). Anything else (``Bytes``,
``File``, ``Xml``, Java-serialized objects) is refused with the reason. Dates have
millisecond precision, Camunda's (Java ``Date``) precision: to_typed cuts off the rest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Self

from pydantic import BaseModel, Field, JsonValue, ValidationError, model_validator

from safepoint.contract.base import WIRE_CONFIG, format_date, parse_date, validation_reason
from safepoint.errors import ContractViolation

JSON_FORMAT = "application/json"
"""The ``serializationDataFormat`` of an ``Object`` value Safepoint accepts."""

_INTEGER_RANGES = {
    "Short": range(-(2**15), 2**15),
    "Integer": range(-(2**31), 2**31),
    "Long": range(-(2**63), 2**63),
}


class TypedValue(BaseModel):
    """One variable in Camunda's REST form: ``{"value": ..., "type": ..., "valueInfo": {}}``.

    Validation checks that ``value`` fits ``type``, so a message whose variables do not
    is refused as a whole (and dead-lettered with the reason) at the consumer's door.
    """

    model_config = WIRE_CONFIG

    value: JsonValue = None
    type: str | None = Field(
        default=None,
        description="String, Integer, Long, Short, Double, Boolean, Null, Date, Json or "
        "Object (with valueInfo.serializationDataFormat application/json); "
        "inferred from the value when missing",
    )
    value_info: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _value_fits_type(self) -> Self:
        python_value(self)
        return self


TypedVariables = dict[str, TypedValue]
"""Variables by name, each in Camunda's typed form: the field type of every message."""


def python_value(typed: TypedValue) -> object:
    """The Python value of one typed value.

    Raises:
        ValueError: the value does not fit its type, or the type is not supported.
    """
    if typed.type is None:
        return _inferred(typed.value)
    type_name = _TYPE_NAMES.get(typed.type.lower())
    if type_name is None:
        raise ValueError(
            f"variable type {typed.type!r} is not supported; use one of {', '.join(_TYPES)}"
        )
    if typed.value is None:
        return None
    return _TYPES[type_name](typed.value, typed.value_info)


def from_typed(variables: Mapping[str, TypedValue | Mapping[str, object]]) -> dict[str, object]:
    """Convert typed variables (models or plain JSON dicts) to Python values by name.

    Raises:
        ContractViolation: a variable is malformed or of a type that is not supported;
            the reason names the variable.
    """
    values: dict[str, object] = {}
    for name, raw in variables.items():
        try:
            typed = raw if isinstance(raw, TypedValue) else TypedValue.model_validate(raw)
            values[name] = python_value(typed)
        except ValidationError as exc:
            raise ContractViolation(f"variable {name!r}: {validation_reason(exc)}") from exc
        except ValueError as exc:
            raise ContractViolation(f"variable {name!r}: {exc}") from exc
    return values


def to_typed(values: Mapping[str, object]) -> TypedVariables:
    """Convert Python values by name to typed variables, choosing each type from the value.

    ``int`` is Integer when it fits 32 bits, else Long; ``float`` Double; ``str`` String;
    ``bool`` Boolean; ``None`` Null; an aware ``datetime`` Date; ``dict``/``list`` Json
    (its value a JSON string, as Camunda writes it).

    Raises:
        ContractViolation: a value has no typed form (naive datetime, an int beyond 64
            bits, NaN, a set, ...); the reason names the variable and says what to use.
    """
    return {name: _typed(name, value) for name, value in values.items()}


def _typed(name: str, value: object) -> TypedValue:
    """The typed form of one Python value."""
    if value is None:
        return TypedValue(value=None, type="Null")
    if isinstance(value, bool):
        return TypedValue(value=value, type="Boolean")
    if isinstance(value, int):
        for type_name in ("Integer", "Long"):
            if value in _INTEGER_RANGES[type_name]:
                return TypedValue(value=value, type=type_name)
        raise ContractViolation(f"variable {name!r}: {value} does not fit a Long (64 bits)")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ContractViolation(f"variable {name!r}: {value} cannot be written as JSON")
        return TypedValue(value=value, type="Double")
    if isinstance(value, str):
        return TypedValue(value=value, type="String")
    if isinstance(value, datetime):
        try:
            return TypedValue(value=format_date(value), type="Date")
        except ValueError as exc:
            raise ContractViolation(f"variable {name!r}: {exc}") from exc
    if isinstance(value, dict | list):
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ContractViolation(
                f"variable {name!r}: cannot be written as JSON ({exc}); "
                "use only None, bool, int, float, str, dict and list inside it"
            ) from exc
        return TypedValue(value=text, type="Json")
    raise ContractViolation(
        f"variable {name!r}: a {type(value).__name__} has no typed form; use None, bool, "
        "int, float, str, an aware datetime, or a dict or list of JSON values"
    )


# --------------------------------------------------------------------------------------
# JSON value → Python value, per type
# --------------------------------------------------------------------------------------


def _describe(value: object) -> str:
    """``10 (int)``: a value and its JSON kind, cut short, for an error message."""
    text = json.dumps(value)
    if len(text) > 60:
        text = f"{text[:57]}..."
    return f"{text} ({_json_kind(value)})"


def _json_kind(value: object) -> str:
    match value:
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
    return type(value).__name__


def _string(value: JsonValue, _info: dict[str, JsonValue]) -> object:
    if not isinstance(value, str):
        raise ValueError(f"a String value must be a JSON string, not {_describe(value)}")
    return value


def _integer(type_name: str) -> Callable[[JsonValue, dict[str, JsonValue]], object]:
    bounds = _INTEGER_RANGES[type_name]

    def convert(value: JsonValue, _info: dict[str, JsonValue]) -> object:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            article = "an" if type_name[0] in "AEIOU" else "a"
            raise ValueError(
                f"{article} {type_name} value must be an integer, not {_describe(value)}"
            )
        if value not in bounds:
            raise ValueError(
                f"{value} is out of the {type_name} range [{bounds.start}, {bounds.stop - 1}]"
            )
        return value

    return convert


def _double(value: JsonValue, _info: dict[str, JsonValue]) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a Double value must be a number, not {_describe(value)}")
    if not math.isfinite(value):
        raise ValueError(f"a Double value must be finite, not {value}")
    return float(value)


def _boolean(value: JsonValue, _info: dict[str, JsonValue]) -> object:
    if not isinstance(value, bool):
        raise ValueError(f"a Boolean value must be true or false, not {_describe(value)}")
    return value


def _null(value: JsonValue, _info: dict[str, JsonValue]) -> object:
    raise ValueError(f"a Null value must be null, not {_describe(value)}")


def _date(value: JsonValue, _info: dict[str, JsonValue]) -> object:
    if not isinstance(value, str):
        raise ValueError(f"a Date value must be a string, not {_describe(value)}")
    return parse_date(value)


def _json(value: JsonValue, _info: dict[str, JsonValue]) -> object:
    if isinstance(value, dict | list):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"a Json value must be a string holding JSON, or an object or array, "
            f"not {_describe(value)}"
        )
    try:
        parsed: object = json.loads(value, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise ValueError(f"a Json value must hold valid JSON: {exc}") from None
    return parsed


def _not_json(constant: str) -> object:
    """``NaN`` and ``Infinity``, which Python's JSON reader takes but JSON has not."""
    raise ValueError(f"a Json value must hold valid JSON, and {constant} is not JSON")


def _object(value: JsonValue, info: dict[str, JsonValue]) -> object:
    data_format = info.get("serializationDataFormat")
    if data_format != JSON_FORMAT:
        raise ValueError(
            f"an Object value is only accepted with valueInfo.serializationDataFormat "
            f"{JSON_FORMAT!r}, not {data_format!r}"
        )
    return _json(value, info)


def _inferred(value: JsonValue) -> object:
    """The Python value of an untyped JSON value (Camunda infers the type the same way)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _integer("Long")(value, {})
    if isinstance(value, float):
        return _double(value, {})
    return value


_TYPES: dict[str, Callable[[JsonValue, dict[str, JsonValue]], object]] = {
    "String": _string,
    "Integer": _integer("Integer"),
    "Long": _integer("Long"),
    "Short": _integer("Short"),
    "Double": _double,
    "Boolean": _boolean,
    "Null": _null,
    "Date": _date,
    "Json": _json,
    "Object": _object,
}
_TYPE_NAMES = {name.lower(): name for name in _TYPES}
