"""The syntax tree of an expression: frozen dataclasses, data only.

Every node carries ``position``, the character offset in the source text that error
messages point at (the operator for operations, the name for identifiers and properties).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias, assert_never


@dataclass(frozen=True, slots=True)
class Literal:
    """``true``, ``false``, ``null``, a number or a string."""

    value: object
    position: int


@dataclass(frozen=True, slots=True)
class Identifier:
    """A top-level name, resolved through the evaluation context."""

    name: str
    position: int


@dataclass(frozen=True, slots=True)
class Property:
    """``base.name``."""

    base: Node
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class Index:
    """``base[index]``."""

    base: Node
    index: Node
    position: int


@dataclass(frozen=True, slots=True)
class MethodCall:
    """``base.name(arguments...)``."""

    base: Node
    name: str
    arguments: tuple[Node, ...]
    position: int


@dataclass(frozen=True, slots=True)
class Unary:
    """``-x``, ``!x`` or ``empty x``; ``operator`` is ``-``, ``!`` or ``empty``."""

    operator: str
    operand: Node
    position: int


@dataclass(frozen=True, slots=True)
class Binary:
    """``left operator right``; keyword aliases are stored as their symbol (``and`` as ``&&``)."""

    operator: str
    left: Node
    right: Node
    position: int


@dataclass(frozen=True, slots=True)
class Conditional:
    """``condition ? then : otherwise``."""

    condition: Node
    then: Node
    otherwise: Node
    position: int


Node: TypeAlias = (
    Literal | Identifier | Property | Index | MethodCall | Unary | Binary | Conditional
)


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of ``node``, left to right."""
    match node:
        case Literal() | Identifier():
            return ()
        case Property():
            return (node.base,)
        case Index():
            return (node.base, node.index)
        case MethodCall():
            return (node.base, *node.arguments)
        case Unary():
            return (node.operand,)
        case Binary():
            return (node.left, node.right)
        case Conditional():
            return (node.condition, node.then, node.otherwise)
        case _:
            assert_never(node)


def walk(root: Node) -> Iterator[tuple[Node, int]]:
    """Every node under ``root`` with its depth (``root`` has depth 1), without recursion."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        yield node, depth
        stack.extend((child, depth + 1) for child in reversed(children(node)))
