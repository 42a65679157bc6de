"""Syntax errors are refused at compile time, with the offset of the offending part."""

from __future__ import annotations

import pytest

from safepoint.el import compile_expression
from safepoint.errors import ExpressionError


def syntax_error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert caught.value.expression == text
    return caught.value


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        ("${}", "empty expression", 0),
        ("x #{ }", "empty expression", 2),
        ("${a", "unterminated expression: '${' is never closed by '}'", 0),
        ("ok #{a + b", "unterminated expression: '#{' is never closed by '}'", 3),
        ("${a)}", "unexpected token ')'", 3),
        ("${(a}", "expected ')' to match '(' at position 2, found the end of the expression", 4),
        (
            "${((a) + 1}",
            "expected ')' to match '(' at position 2, found the end of the expression",
            10,
        ),
        ("${a[1}", "expected ']' to match '[' at position 3, found the end of the expression", 5),
        (
            "${a.f(1, 2}",
            "expected ')' to match '(' at position 5, found the end of the expression",
            10,
        ),
        ("${a ? b}", "expected ':' to match '?' at position 4, found the end of the expression", 7),
        ("${a b}", "unexpected token 'b'", 4),
        ("${1 2}", "unexpected token '2'", 4),
        ("${a +}", "unexpected end of expression", 5),
        ("${* a}", "unexpected token '*'", 2),
        ("${a @ b}", "unexpected character '@'", 4),
        ("${a = 1}", "unexpected character '=': use '==' to compare", 4),
        ("${a & b}", "unexpected character '&': use '&&' or 'and'", 4),
        ("${a | b}", "unexpected character '|': use '||' or 'or'", 4),
        ("${{a}}", "unexpected character '{'", 2),
        ("${'abc}", "unterminated string literal", 2),
        ('${"abc\\"}', "unterminated string literal", 2),
        ("${a.}", "expected a property name after '.', found the end of the expression", 4),
        ("${a.1}", "unexpected token '.1'", 3),
        ("${a.empty}", "expected a property name after '.', found 'empty'", 4),
        ("${a,b}", "unexpected token ','", 3),
        ("${a instanceof b}", "the 'instanceof' operator is not supported", 4),
        ("${instanceof}", "the 'instanceof' operator is not supported", 2),
        (
            "${f(1)}",
            "function calls such as 'f(...)' are not supported; "
            "only methods can be called, as in 'object.method(...)'",
            3,
        ),
        ("${a[0](1)}", "only methods can be called, as in 'object.method(...)'", 6),
        ("text ${a} then ${b +* c}", "unexpected token '*'", 20),
    ],
)
def test_syntax_errors(text: str, reason: str, position: int) -> None:
    error = syntax_error(text)
    assert error.reason == reason
    assert error.position == position


def test_the_message_says_where() -> None:
    assert str(syntax_error("${a)}")) == "unexpected token ')' at position 3 in expression '${a)}'"


def test_deep_nesting_is_refused_not_a_crash() -> None:
    deep = "${" + "(" * 100 + "1" + ")" * 100 + "}"
    assert "nested too deeply" in syntax_error(deep).reason
    long_chain = "${" + " + ".join(["1"] * 500) + "}"
    assert "too complex" in syntax_error(long_chain).reason
    many_nots = "${" + "!" * 1000 + "true}"
    assert "too complex" in syntax_error(many_nots).reason


def test_reasonable_nesting_is_fine() -> None:
    text = "${" + "(" * 20 + "1" + ")" * 20 + " + " + " + ".join(["1"] * 60) + "}"
    assert compile_expression(text).evaluate(_NoVariables()) == 61


class _NoVariables:
    def resolve(self, name: str) -> object:
        raise KeyError(name)

    def get_property(self, base: object, name: object) -> object:
        raise AssertionError

    def call_method(self, base: object, name: str, args: tuple[object, ...]) -> object:
        raise AssertionError


def test_a_failed_compile_is_not_cached_as_a_success() -> None:
    for _ in range(2):
        syntax_error("${a +}")
