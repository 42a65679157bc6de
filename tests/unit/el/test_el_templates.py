"""Compiling texts: single expressions, templates, literal text and the cache."""

from __future__ import annotations

import pytest

from safepoint.el import DefaultEvaluationContext, Expression, compile_expression, is_expression


def value(text: str, **variables: object) -> object:
    return compile_expression(text).evaluate(DefaultEvaluationContext(variables))


def test_a_single_expression_keeps_its_type() -> None:
    items = [1, 2]
    assert value("${items}", items=items) is items
    assert value("${42}") == 42
    assert value("#{amount}", amount=1.5) == 1.5
    assert value("${null}") is None
    assert value("${true}") is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello ${name}, you owe ${amount}", "Hello Ada, you owe 12.5"),
        ("${name}${name}", "AdaAda"),
        (" ${amount}", " 12.5"),
        ("${amount} ", "12.5 "),
        ("[${nothing}]", "[]"),
        ("flag=${flag}", "flag=true"),
        ("#{name} and ${name}", "Ada and Ada"),
        ("${'}'} closes", "} closes"),
        ("cost: $5, #1 {ok}", "cost: $5, #1 {ok}"),
        ("\\${name} is ${name}", "${name} is Ada"),
        ("\\#{name}", "#{name}"),
        ("a \\ b", "a \\ b"),
    ],
)
def test_templates_give_strings(text: str, expected: str) -> None:
    assert value(text, name="Ada", amount=12.5, nothing=None, flag=True) == expected


@pytest.mark.parametrize("text", ["plain text", "", "  ", "price in $ and # {x}"])
def test_plain_text_is_a_literal(text: str) -> None:
    expression = compile_expression(text)
    assert expression.evaluate(DefaultEvaluationContext()) == text
    assert expression.identifiers == frozenset()
    assert not is_expression(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${a}", True),
        ("#{a}", True),
        ("x ${a} y", True),
        ("${", True),
        ("\\${a}", False),
        ("$ {a}", False),
        ("{a}", False),
        ("no expression", False),
    ],
)
def test_is_expression(text: str, expected: bool) -> None:
    assert is_expression(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${a + b.c * d[e]}", {"a", "b", "d", "e"}),
        ("${bean.call(x, y.z)} ${w}", {"bean", "x", "y", "w"}),
        ("${true ? 1 : 'x'}", set()),
        ("${not empty list and list[0] > limit}", {"list", "limit"}),
    ],
)
def test_identifiers_are_the_top_level_names(text: str, expected: set[str]) -> None:
    assert compile_expression(text).identifiers == frozenset(expected)


def test_compiling_is_cached() -> None:
    first = compile_expression("${amount > 1000}")
    assert compile_expression("${amount > 1000}") is first
    assert isinstance(first, Expression)
    assert first.source == "${amount > 1000}"
    assert repr(first) == "Expression(source='${amount > 1000}')"


def test_expressions_are_frozen_and_reusable() -> None:
    expression = compile_expression("${n * 2}")
    with pytest.raises(AttributeError):
        expression.source = "other"  # type: ignore[misc]
    assert expression.evaluate(DefaultEvaluationContext({"n": 1})) == 2
    assert expression.evaluate(DefaultEvaluationContext({"n": 5})) == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${'it\\'s'}", "it's"),
        ('${"say \\"hi\\""}', 'say "hi"'),
        ("${'back\\\\slash'}", "back\\slash"),
        ('${"single \' inside"}', "single ' inside"),
        ("${'double \" inside'}", 'double " inside'),
        ("${'C:\\temp'}", "C:\\temp"),
        ("${''}", ""),
    ],
)
def test_string_literals(text: str, expected: str) -> None:
    assert value(text) == expected


def test_whitespace_and_newlines_inside_expressions_are_ignored() -> None:
    assert value("${\n  a\n  &&\tb\n}", a=True, b=True) is True


def test_identifiers_may_use_underscores_digits_and_dollars() -> None:
    assert value("${_a1 + $b}", _a1=1, **{"$b": 2}) == 3
