"""The evaluation context: every way an expression reaches the world outside it."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Protocol

from safepoint.el.coercion import describe
from safepoint.errors import ExpressionError

_OPAQUE_TYPES: tuple[type, ...] = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
    types.TracebackType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
)
"""Objects whose attributes lead to interpreter internals: never read through ``a.b``."""


class EvaluationContext(Protocol):
    """What an expression may resolve, read and call; implemented by the caller.

    An implementation signals a refusal or a failure with :class:`ExpressionError` and no
    position (pass ``expression=""``): the evaluator fills in the expression and the
    position of the part being evaluated. Other exceptions (a delegate's ``BpmnError``,
    for example) pass through unchanged.
    """

    def resolve(self, name: str) -> object:
        """Return the value of the top-level identifier ``name``.

        Raises:
            ExpressionError: no such identifier (a ``KeyError`` is accepted too and
                reported as ``Cannot resolve identifier``).
        """
        ...

    def get_property(self, base: object, name: object) -> object:
        """Return ``base.name`` or ``base[name]``.

        ``name`` is a ``str`` for ``base.name``; for ``base[key]`` it is the value of
        ``key`` (often a ``str`` or an ``int``). ``base`` and ``name`` are never null:
        the evaluator returns null itself then, as the EL spec says.
        """
        ...

    def call_method(self, base: object, name: str, args: tuple[object, ...]) -> object:
        """Call ``base.name(*args)`` and return its result; ``base`` is never null."""
        ...


class DefaultEvaluationContext:
    """Safe defaults: variables from a mapping, data access only, no method calls.

    - ``resolve`` reads ``variables``;
    - ``get_property`` reads a mapping's item (null when the key is missing), a list's
      or tuple's item by index (null when out of range), or another object's public
      attribute; names starting with ``_`` are refused on objects and names starting
      with ``__`` everywhere;
    - ``call_method`` refuses every call. Subclass it to allow calls on chosen objects.
    """

    def __init__(self, variables: Mapping[str, object] | None = None) -> None:
        """Create a context reading identifiers from ``variables``."""
        self._variables: Mapping[str, object] = variables if variables is not None else {}

    def resolve(self, name: str) -> object:
        """Return the variable ``name``.

        Raises:
            ExpressionError: there is no variable ``name``.
        """
        try:
            return self._variables[name]
        except KeyError as exc:
            raise _refusal(f"Cannot resolve identifier {name!r}") from exc

    def get_property(self, base: object, name: object) -> object:
        """Return the item or public attribute ``name`` of ``base``.

        Raises:
            ExpressionError: the access is refused or the attribute does not exist.
        """
        if isinstance(name, str) and name.startswith("__"):
            raise _private(name)
        if isinstance(base, Mapping):
            try:
                return base.get(name)
            except TypeError as exc:  # an unhashable key
                raise _refusal(f"cannot use {describe(name)} as a key of a map") from exc
        if isinstance(base, list | tuple):
            index = _list_index(name)
            return base[index] if 0 <= index < len(base) else None
        if not isinstance(name, str):
            raise _refusal(f"cannot use {describe(name)} as a property name")
        if name.startswith("_"):
            raise _private(name)
        if isinstance(base, _OPAQUE_TYPES):
            raise _refusal(f"cannot read properties of {describe(base)}")
        try:
            return getattr(base, name)
        except AttributeError as exc:
            raise _refusal(f"{describe(base)} has no property {name!r}") from exc

    def call_method(self, base: object, name: str, args: tuple[object, ...]) -> object:
        """Refuse the call.

        Raises:
            ExpressionError: always; subclasses decide which calls to allow.
        """
        raise _refusal(f"method calls are not allowed on {describe(base)}: cannot call {name!r}")


def _list_index(name: object) -> int:
    if isinstance(name, int) and not isinstance(name, bool):
        return name
    if isinstance(name, str) and name.isascii() and name.isdigit() and len(name) < 19:
        return int(name)
    raise _refusal(f"cannot use {describe(name)} as a list index")


def _private(name: str) -> ExpressionError:
    return _refusal(f"access to {name!r} is not allowed: names starting with '_' are private")


def _refusal(message: str) -> ExpressionError:
    return ExpressionError(message, expression="")
