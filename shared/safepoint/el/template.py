"""Splits a text into literal parts and ``${...}``/``#{...}`` expressions."""

from __future__ import annotations

import re

from safepoint.el.lexer import tokenize
from safepoint.el.nodes import Node
from safepoint.el.parser import parse

_MARK = re.compile(r"\\?[$#]\{")
"""An expression's opening ``${``/``#{``, or the same escaped with a backslash."""


def contains_expression(text: str) -> bool:
    """Whether ``text`` opens at least one unescaped ``${`` or ``#{``."""
    return any(not match.group().startswith("\\") for match in _MARK.finditer(text))


def parse_template(text: str) -> tuple[str | Node, ...]:
    r"""Parse ``text`` into its parts: literal strings and expression trees, in order.

    ``\${`` and ``\#{`` stand for a literal ``${`` and ``#{``. Adjacent literal text is
    merged; empty literal text is left out, so plain text gives one string and
    ``"${x}"`` one node.

    Raises:
        ExpressionError: an expression has a syntax error.
    """
    parts: list[str | Node] = []
    literal: list[str] = []
    index = 0
    for match in _MARK.finditer(text):
        if match.start() < index:
            continue  # inside an expression already parsed
        literal.append(text[index : match.start()])
        if match.group().startswith("\\"):
            literal.append(match.group()[1:])
            index = match.end()
            continue
        if "".join(literal):
            parts.append("".join(literal))
        literal = []
        tokens, index = tokenize(text, match.start())
        parts.append(parse(tokens, text, match.start()))
    literal.append(text[index:])
    if "".join(literal):
        parts.append("".join(literal))
    return tuple(parts)
