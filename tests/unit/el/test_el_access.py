"""Identifiers, properties, indexes and method calls go through the evaluation context."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from safepoint.el import DefaultEvaluationContext, EvaluationContext, compile_expression
from safepoint.errors import BpmnError, ExpressionError


@dataclass
class Customer:
    name: str
    tier: int
    _secret: str = "hidden"

    def greet(self, greeting: str) -> str:
        return f"{greeting}, {self.name}"


def value(text: str, **variables: object) -> object:
    return compile_expression(text).evaluate(DefaultEvaluationContext(variables))


def failure(text: str, **variables: object) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        value(text, **variables)
    return caught.value


def test_identifiers_resolve_from_variables_keeping_their_type() -> None:
    order = {"lines": [1, 2]}
    assert value("${order}", order=order) is order
    assert value("${flag}", flag=None) is None


def test_unknown_identifier_names_it_with_its_position() -> None:
    error = failure("${amount > 1000}")
    assert error.reason == "Cannot resolve identifier 'amount'"
    assert error.position == 2
    assert error.expression == "${amount > 1000}"
    assert str(error) == (
        "Cannot resolve identifier 'amount' at position 2 in expression '${amount > 1000}'"
    )


def test_a_key_error_from_a_custom_context_is_reported_as_unresolved() -> None:
    class Variables(DefaultEvaluationContext):
        def resolve(self, name: str) -> object:
            raise KeyError(name)

    with pytest.raises(ExpressionError, match="Cannot resolve identifier 'x'"):
        compile_expression("${1 + x}").evaluate(Variables())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${order.total}", 12),
        ("${order['total']}", 12),
        ('${order["total"]}', 12),
        ("${order.missing}", None),
        ("${order.lines[1]}", "b"),
        ("${order.lines['0']}", "a"),
        ("${order.lines[5]}", None),
        ("${order.lines[-1]}", None),
        ("${order.pair[0] + order.pair[1]}", 3),
        ("${order[key]}", 12),
        ("${order.nested.deep}", True),
        ("${order.nothing.deeper}", None),
        ("${order[nothing]}", None),
        ("${nothing[0]}", None),
        ("${order.codes[7]}", "seven"),
        ("${order._id}", 5),
    ],
)
def test_property_access_on_maps_and_lists(text: str, expected: object) -> None:
    order = {
        "total": 12,
        "lines": ["a", "b"],
        "pair": (1, 2),
        "nested": {"deep": True},
        "nothing": None,
        "codes": {7: "seven"},
        "_id": 5,
    }
    assert value(text, order=order, key="total", nothing=None) == expected


def test_public_attributes_of_objects() -> None:
    customer = Customer("Ada", 2)
    assert value("${customer.name}", customer=customer) == "Ada"
    assert value("${customer['tier'] > 1}", customer=customer) is True


@pytest.mark.parametrize(
    "text",
    [
        "${x.__class__}",
        "${x['__class__']}",
        "${customer._secret}",
        "${customer.__dict__}",
        "${mapping.__class__}",
        "${customer.greet.__globals__}",
    ],
)
def test_private_names_are_refused(text: str) -> None:
    error = failure(text, x=1, customer=Customer("Ada", 2), mapping={"__class__": 1})
    assert "is not allowed: names starting with '_' are private" in error.reason
    assert error.expression == text
    assert error.position is not None


def test_interpreter_internals_are_not_readable() -> None:
    def generator() -> object:
        yield 1

    error = failure("${g.gi_frame}", g=generator())
    assert error.reason == "cannot read properties of a value of type generator"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${customer.email}", "a value of type Customer has no property 'email'"),
        ("${items['first']}", "cannot use string 'first' as a list index"),
        ("${items[true]}", "cannot use boolean true as a list index"),
        ("${mapping[items]}", "cannot use a value of type list as a key of a map"),
        ("${customer[1]}", "cannot use number 1 as a property name"),
    ],
)
def test_bad_property_access(text: str, reason: str) -> None:
    error = failure(text, customer=Customer("Ada", 2), items=[1], mapping={})
    assert error.reason == reason


def test_method_calls_are_refused_by_default() -> None:
    error = failure("${customer.greet('Hi')}", customer=Customer("Ada", 2))
    assert error.reason == (
        "method calls are not allowed on a value of type Customer: cannot call 'greet'"
    )
    assert error.position == 11


def test_method_call_on_null_is_an_error() -> None:
    assert failure("${nobody.greet()}", nobody=None).reason == "cannot call method 'greet' on null"


class Beans(DefaultEvaluationContext):
    """Allows calls on registered beans only, as the engine core does."""

    def __init__(self, variables: dict[str, object], beans: dict[str, object]) -> None:
        super().__init__({**variables, **beans})
        self.beans = list(beans.values())
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def call_method(self, base: object, name: str, args: tuple[object, ...]) -> object:
        if not any(base is bean for bean in self.beans):
            return super().call_method(base, name, args)
        self.calls.append((name, args))
        method = getattr(base, name)
        assert callable(method)
        return method(*args)


def test_a_custom_context_allows_method_calls_on_registered_objects() -> None:
    context = Beans({"name": "Ada", "other": Customer("Bob", 1)}, {"greeter": Customer("G", 0)})
    assert compile_expression("${greeter.greet('Hello')}").evaluate(context) == "Hello, G"
    result = compile_expression("${greeter.greet(name) == 'Ada, G'}").evaluate(context)
    assert result is True
    assert context.calls == [("greet", ("Hello",)), ("greet", ("Ada",))]
    with pytest.raises(ExpressionError, match="method calls are not allowed"):
        compile_expression("${other.greet('Hi')}").evaluate(context)


def test_method_arguments_are_evaluated_left_to_right() -> None:
    class Recorder(DefaultEvaluationContext):
        def call_method(self, base: object, name: str, args: tuple[object, ...]) -> object:
            return (name, args)

    expression = compile_expression("${bean.run(1, 'x', a + 1, null, bean.tag)}")
    context = Recorder({"bean": {"tag": "t"}, "a": 1})
    assert expression.evaluate(context) == ("run", (1, "x", 2, None, "t"))
    assert compile_expression("${bean.run()}").evaluate(context) == ("run", ())


def test_errors_from_a_context_get_the_expression_and_position() -> None:
    class Refusing(DefaultEvaluationContext):
        def get_property(self, base: object, name: object) -> object:
            raise ExpressionError("no reading here", expression="")

    with pytest.raises(ExpressionError) as caught:
        compile_expression("${a.b}").evaluate(Refusing({"a": {}}))
    assert caught.value.reason == "no reading here"
    assert caught.value.expression == "${a.b}"
    assert caught.value.position == 4


def test_other_exceptions_from_a_context_pass_through() -> None:
    class Failing(DefaultEvaluationContext):
        def call_method(self, base: object, name: str, args: tuple[object, ...]) -> object:
            raise BpmnError("REJECTED")

    with pytest.raises(BpmnError):
        compile_expression("${bean.check()}").evaluate(Failing({"bean": object()}))


def test_any_object_with_the_three_methods_is_a_context() -> None:
    class Minimal:
        def resolve(self, name: str) -> object:
            return {"x": 2}[name]

        def get_property(self, base: object, name: object) -> object:
            return None

        def call_method(self, base: object, name: str, args: tuple[object, ...]) -> object:
            return None

    context: EvaluationContext = Minimal()
    assert compile_expression("${x * 21}").evaluate(context) == 42
