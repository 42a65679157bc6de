"""Camunda's typed variables ⇄ Python values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from safepoint.contract.variables import TypedValue, from_typed, to_typed
from safepoint.errors import ContractViolation

AT = datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ("hello", "String"),
        ("", "String"),
        (10, "Integer"),
        (-(2**31), "Integer"),
        (2**31, "Long"),
        (-(2**63), "Long"),
        (1.5, "Double"),
        (True, "Boolean"),
        (False, "Boolean"),
        (None, "Null"),
        (AT, "Date"),
        ({"a": [1, 2, {"b": None}], "ü": "ß"}, "Json"),
        ([1, "x", 2.5], "Json"),
    ],
)
def test_python_values_round_trip_through_their_camunda_type(value: object, type_name: str) -> None:
    typed = to_typed({"v": value})

    assert typed["v"].type == type_name
    wire = {"v": typed["v"].model_dump(mode="json")}
    back = from_typed(wire)["v"]
    assert back == value
    assert type(back) is type(value)


def test_to_typed_writes_camundas_json_shapes() -> None:
    typed = to_typed({"amount": 10, "when": AT, "order": {"id": 7}, "nothing": None})

    assert {name: value.model_dump(mode="json") for name, value in typed.items()} == {
        "amount": {"value": 10, "type": "Integer", "valueInfo": {}},
        "when": {"value": "2026-01-01T10:00:00.123+0000", "type": "Date", "valueInfo": {}},
        "order": {"value": '{"id":7}', "type": "Json", "valueInfo": {}},
        "nothing": {"value": None, "type": "Null", "valueInfo": {}},
    }


def test_dates_are_written_in_utc_with_millisecond_precision() -> None:
    paris = timezone(timedelta(hours=1))
    value = datetime(2026, 1, 1, 11, 0, 0, 987654, tzinfo=paris)

    assert to_typed({"d": value})["d"].value == "2026-01-01T10:00:00.987+0000"


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T10:00:00.000+0000",
        "2026-01-01T10:00:00Z",
        "2026-01-01T10:00:00+00:00",
        "2026-01-01T11:00:00.000+0100",
        "2026-01-01T05:00:00.000000-05:00",
    ],
)
def test_dates_are_read_in_camundas_format_and_iso_8601(text: str) -> None:
    value = from_typed({"d": {"value": text, "type": "Date"}})["d"]

    assert value == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert isinstance(value, datetime) and value.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ({"value": 10, "type": "Long"}, 10),
        ({"value": 7, "type": "Short"}, 7),
        ({"value": 10, "type": "Double"}, 10.0),
        ({"value": 10.0, "type": "Integer"}, 10),
        ({"value": 10, "type": "integer"}, 10),
        ({"value": None, "type": "Integer"}, None),
        ({"value": "x"}, "x"),
        ({"value": 5}, 5),
        ({"value": 2.5}, 2.5),
        ({"value": True}, True),
        ({"value": None}, None),
        ({"value": {"a": 1}}, {"a": 1}),
        ({}, None),
        ({"value": '{"a": [1, 2]}', "type": "Json"}, {"a": [1, 2]}),
        ({"value": {"a": 1}, "type": "Json"}, {"a": 1}),
        ({"value": '"just a string"', "type": "Json"}, "just a string"),
        (
            {
                "value": '{"customer": "Ann"}',
                "type": "Object",
                "valueInfo": {
                    "objectTypeName": "com.example.Order",
                    "serializationDataFormat": "application/json",
                },
            },
            {"customer": "Ann"},
        ),
    ],
)
def test_camunda_typed_values_become_python_values(
    typed: dict[str, object], expected: object
) -> None:
    value = from_typed({"v": typed})["v"]

    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        (
            {"value": "10", "type": "Integer"},
            'an Integer value must be an integer, not "10" (string)',
        ),
        ({"value": True, "type": "Integer"}, "an Integer value must be an integer"),
        ({"value": 2**31, "type": "Integer"}, "out of the Integer range"),
        ({"value": 40000, "type": "Short"}, "out of the Short range"),
        ({"value": 2**63, "type": "Long"}, "out of the Long range"),
        ({"value": 1.5, "type": "Long"}, "a Long value must be an integer"),
        ({"value": "x", "type": "Double"}, "a Double value must be a number"),
        ({"value": "true", "type": "Boolean"}, "a Boolean value must be true or false"),
        ({"value": 5, "type": "String"}, "a String value must be a JSON string"),
        ({"value": 1, "type": "Null"}, "a Null value must be null"),
        ({"value": "2026-01-01", "type": "Date"}, "not an ISO 8601 date-time with an offset"),
        ({"value": "2026-01-01T10:00:00", "type": "Date"}, "with an offset"),
        ({"value": "2026-13-01T10:00:00Z", "type": "Date"}, "not a valid date-time"),
        ({"value": 1767261600000, "type": "Date"}, "a Date value must be a string"),
        ({"value": "{", "type": "Json"}, "a Json value must hold valid JSON"),
        ({"value": 5, "type": "Json"}, "a Json value must be a string holding JSON"),
        (
            {
                "value": "rO0ABXNy",
                "type": "Object",
                "valueInfo": {"serializationDataFormat": "application/x-java-serialized-object"},
            },
            "only accepted with valueInfo.serializationDataFormat 'application/json'",
        ),
        ({"value": "{}", "type": "Object"}, "serializationDataFormat"),
        ({"value": "AAEC", "type": "Bytes"}, "variable type 'Bytes' is not supported"),
        ({"value": None, "type": "File"}, "variable type 'File' is not supported"),
        (
            {"value": 1, "type": "Integer", "scope": "local"},
            "scope: Extra inputs are not permitted",
        ),
        ({"value": 2**64}, "out of the Long range"),
    ],
)
def test_malformed_or_unsupported_typed_values_are_refused_with_the_reason(
    typed: dict[str, object], reason: str
) -> None:
    with pytest.raises(ContractViolation) as caught:
        from_typed({"amount": typed})

    assert caught.value.reason.startswith("variable 'amount': ")
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (datetime(2026, 1, 1, 10, 0), "has no timezone"),
        (2**64, "does not fit a Long"),
        (float("nan"), "cannot be written as JSON"),
        (float("inf"), "cannot be written as JSON"),
        ({"when": AT}, "cannot be written as JSON"),
        ({1, 2}, "a set has no typed form"),
        (date(2026, 1, 1), "a date has no typed form"),
        (b"bytes", "a bytes has no typed form"),
    ],
)
def test_python_values_without_a_typed_form_are_refused(value: object, reason: str) -> None:
    with pytest.raises(ContractViolation) as caught:
        to_typed({"v": value})

    assert caught.value.reason.startswith("variable 'v': ")
    assert reason in caught.value.reason


def test_typed_value_models_check_their_value_when_built() -> None:
    with pytest.raises(ValueError, match="an Integer value must be an integer"):
        TypedValue(value="ten", type="Integer")


def test_from_typed_accepts_models_and_plain_dicts_together() -> None:
    assert from_typed(
        {"a": TypedValue(value=1, type="Integer"), "b": {"value": "x", "type": "String"}}
    ) == {"a": 1, "b": "x"}
