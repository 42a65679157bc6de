"""Operators of the expression language: arithmetic, comparison, logic, precedence."""

from __future__ import annotations

from decimal import Decimal

import pytest

from safepoint.el import DefaultEvaluationContext, compile_expression
from safepoint.errors import ExpressionError


def value(text: str, **variables: object) -> object:
    return compile_expression(text).evaluate(DefaultEvaluationContext(variables))


def failure(text: str, **variables: object) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        value(text, **variables)
    return caught.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${1 + 2}", 3),
        ("${5 - 7}", -2),
        ("${6 * 7}", 42),
        ("${7 / 2}", 3.5),
        ("${7 div 2}", 3.5),
        ("${6 / 3}", 2.0),
        ("${7 % 3}", 1),
        ("${7 mod 3}", 1),
        ("${-7 % 3}", -1),
        ("${7 % -3}", 1),
        ("${7.5 % 2}", 1.5),
        ("${1.5 + 1}", 2.5),
        ("${-3}", -3),
        ("${- -3}", 3),
        ("${1e3}", 1000.0),
        ("${2.5E-1}", 0.25),
        ("${.5 + 1}", 1.5),
    ],
)
def test_arithmetic(text: str, expected: object) -> None:
    result = value(text)
    assert result == expected
    assert type(result) is type(expected)


def test_int_arithmetic_stays_int_and_division_gives_float() -> None:
    assert type(value("${2 + 2 * 2 - 1 % 2}")) is int
    assert type(value("${4 / 2}")) is float


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${n + 1}", 1),
        ("${'2' + 3}", 5),
        ("${'2.5' * 2}", 5.0),
        ("${'1e2' + 0}", 100.0),
        ("${s - 1}", 9),
        ("${'' + 1}", 1),
        ("${-s}", -10),
        ("${-n}", 0),
    ],
)
def test_arithmetic_coerces_null_and_strings(text: str, expected: object) -> None:
    assert value(text, n=None, s="10") == expected


def test_decimal_arithmetic_keeps_decimals() -> None:
    assert value("${price * 2}", price=Decimal("1.10")) == Decimal("2.20")
    assert value("${price / 4}", price=Decimal("1")) == Decimal("0.25")
    assert value("${price + 0.5}", price=Decimal("1")) == 1.5


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        ("${'abc' + 1}", "cannot use string 'abc' as a number", 8),
        ("${true + 1}", "cannot use boolean true as a number", 7),
        ("${1 / 0}", "division by zero", 4),
        ("${1 div 0.0}", "division by zero", 4),
        ("${1 % 0}", "division by zero", 4),
        ("${-'x'}", "cannot use string 'x' as a number", 2),
        ("${items * 2}", "cannot use a value of type list as a number", 8),
    ],
)
def test_arithmetic_errors(text: str, reason: str, position: int) -> None:
    error = failure(text, items=[1])
    assert error.reason == reason
    assert error.position == position
    assert error.expression == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${1 == 1}", True),
        ("${1 eq 1.0}", True),
        ("${1 != 2}", True),
        ("${1 ne 1}", False),
        ("${null == null}", True),
        ("${null == 0}", False),
        ("${0 == null}", False),
        ("${null != 'x'}", True),
        ("${'1' == 1}", True),
        ("${1 == '1.0'}", True),
        ("${1 == 'one'}", False),
        ("${true == 'true'}", True),
        ("${'FALSE' == false}", True),
        ("${true == 'yes'}", False),
        ("${true == 1}", False),
        ("${'a' == 'a'}", True),
        ("${'a' eq 'b'}", False),
        ("${items == other}", True),
    ],
)
def test_equality(text: str, expected: bool) -> None:
    assert value(text, items=[1, 2], other=[1, 2]) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${1 < 2}", True),
        ("${1 lt 1}", False),
        ("${2 > 1}", True),
        ("${2 gt 2}", False),
        ("${2 <= 2}", True),
        ("${3 le 2}", False),
        ("${2 >= 3}", False),
        ("${3 ge 3}", True),
        ("${'10' > 9}", True),
        ("${9 < '10'}", True),
        ("${'10' > '9'}", False),
        ("${'abc' < 'abd'}", True),
        ("${null < 1}", False),
        ("${1 > null}", False),
        ("${null >= null}", False),
        ("${1.5 > 1}", True),
    ],
)
def test_relational(text: str, expected: bool) -> None:
    assert value(text) is expected


def test_dates_are_ordered() -> None:
    from datetime import date

    assert value("${a < b}", a=date(2024, 1, 1), b=date(2024, 1, 2)) is True


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${1 < true}", "cannot compare number 1 with boolean true"),
        ("${'abc' > 1}", "cannot use string 'abc' as a number"),
        ("${items < 1}", "cannot compare a value of type list with number 1"),
    ],
)
def test_relational_errors(text: str, reason: str) -> None:
    assert failure(text, items=[]).reason == reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${true && true}", True),
        ("${true and false}", False),
        ("${false || true}", True),
        ("${false or false}", False),
        ("${!true}", False),
        ("${not false}", True),
        ("${!!true}", True),
        ("${not not false}", False),
        ("${'TRUE' && 'true'}", True),
        ("${'false' || ''}", False),
        ("${null || true}", True),
        ("${!null}", True),
    ],
)
def test_logic(text: str, expected: bool) -> None:
    assert value(text) is expected


def test_logic_short_circuits() -> None:
    assert value("${false && missing}") is False
    assert value("${true || missing}") is True
    assert value("${false and 1 / 0 > 1}") is False


@pytest.mark.parametrize("text", ["${1 && true}", "${'yes' || false}", "${!1}", "${1 ? 2 : 3}"])
def test_logic_refuses_non_booleans(text: str) -> None:
    assert "as a boolean" in failure(text).reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${empty n}", True),
        ("${empty ''}", True),
        ("${empty 'x'}", False),
        ("${empty items}", True),
        ("${empty full}", False),
        ("${empty mapping}", True),
        ("${empty 0}", False),
        ("${not empty full}", True),
        ("${!empty n}", False),
        ("${empty full[0]}", False),
    ],
)
def test_empty(text: str, expected: bool) -> None:
    assert value(text, n=None, items=[], full=[1], mapping={}) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${true ? 'a' : 'b'}", "a"),
        ("${false ? 'a' : 'b'}", "b"),
        ("${null ? 'a' : 'b'}", "b"),
        ("${'true' ? 1 : 2}", 1),
        ("${false ? 1 : true ? 2 : 3}", 2),
        ("${false ? 1 : false ? 2 : 3}", 3),
        ("${true ? false ? 1 : 2 : 3}", 2),
        ("${1 > 2 ? 'big' : 'small'}", "small"),
    ],
)
def test_ternary(text: str, expected: object) -> None:
    assert value(text) == expected


def test_ternary_evaluates_only_the_branch_taken() -> None:
    assert value("${true ? 1 : missing}") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${1 + 2 * 3}", 7),
        ("${(1 + 2) * 3}", 9),
        ("${10 - 4 - 3}", 3),
        ("${2 * 3 % 4}", 2),
        ("${12 / 2 / 3}", 2.0),
        ("${-2 * 3}", -6),
        ("${1 + 1 == 2}", True),
        ("${1 < 2 == 2 < 3}", True),
        ("${true || false && false}", True),
        ("${(true || false) && false}", False),
        ("${1 == 1 && 2 == 2}", True),
        ("${false || true ? 'y' : 'n'}", "y"),
        ("${not true == false}", True),
        ("${!false && false}", False),
        ("${empty n || false}", True),
        ("${1 + 2 > 2 and 4 div 2 eq 2}", True),
    ],
)
def test_precedence(text: str, expected: object) -> None:
    assert value(text, n=None) == expected
