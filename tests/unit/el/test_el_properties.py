"""Properties that hold for all operands, checked on generated values."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from safepoint.el import DefaultEvaluationContext, compile_expression

_OPERANDS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "1", "2.5", "true", "FALSE", "abc", "1e2"]),
)


def value(text: str, **variables: object) -> object:
    return compile_expression(text).evaluate(DefaultEvaluationContext(variables))


@settings(database=None)
@given(a=st.integers(-(10**6), 10**6), b=st.integers(-(10**6), 10**6).filter(bool))
def test_integer_arithmetic_follows_java(a: int, b: int) -> None:
    assert value("${a + b}", a=a, b=b) == a + b
    assert value("${a - b}", a=a, b=b) == a - b
    assert value("${a * b}", a=a, b=b) == a * b
    assert value("${a / b}", a=a, b=b) == a / b
    assert value("${a % b}", a=a, b=b) == int(math.fmod(a, b))
    assert value("${b * ((a - a mod b) div b) + a mod b == a}", a=a, b=b) is True


@settings(database=None)
@given(a=_OPERANDS, b=_OPERANDS)
def test_equality_is_symmetric_and_not_equal_is_its_negation(a: object, b: object) -> None:
    equal = value("${a == b}", a=a, b=b)
    assert equal is value("${b == a}", a=a, b=b)
    assert value("${a != b}", a=a, b=b) is (not equal)
