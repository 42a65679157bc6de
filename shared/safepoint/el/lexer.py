"""Splits the body of one ``${...}`` into tokens, up to its closing ``}``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from safepoint.errors import ExpressionError

KEYWORD_OPERATORS: dict[str, str] = {
    "and": "&&",
    "or": "||",
    "not": "!",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "div": "/",
    "mod": "%",
    "empty": "empty",
    "instanceof": "instanceof",
}
"""Reserved words that are operators, mapped to the token kind they stand for."""

KEYWORD_LITERALS: dict[str, object] = {"true": True, "false": False, "null": None}

_SYMBOLS = ("==", "!=", "<=", ">=", "&&", "||", *"<>!+-*/%?:()[].,")
_HINTS = {"=": "use '==' to compare", "&": "use '&&' or 'and'", "|": "use '||' or 'or'"}
_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?")
_ESCAPED = frozenset("'\"\\")
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class Token:
    """One token.

    ``kind`` is ``literal`` (``value`` holds it), ``ident``, ``end`` (the closing ``}``)
    or the operator symbol, keyword aliases included (``and`` has kind ``&&``).
    ``text`` is the token as written.
    """

    kind: str
    text: str
    position: int
    value: object = None


def tokenize(source: str, opening: int) -> tuple[list[Token], int]:
    """Tokenize the expression whose ``${`` or ``#{`` starts at ``opening`` in ``source``.

    Returns:
        The tokens, the last being the ``end`` token of the closing ``}``, and the offset
        just after that ``}``.

    Raises:
        ExpressionError: an unexpected character, an unterminated string, or no ``}``.
    """
    tokens: list[Token] = []
    index = opening + 2
    length = len(source)
    while index < length:
        char = source[index]
        if char.isspace():
            index += 1
        elif char == "}":
            tokens.append(Token("end", char, index))
            return tokens, index + 1
        elif char in "'\"":
            token = _string(source, index)
            tokens.append(token)
            index += len(token.text)
        elif char in _DIGITS or (char == "." and source[index + 1 : index + 2] in _DIGITS):
            index = _number(source, index, tokens)
        elif char.isalpha() or char in "_$":
            end = index + 1
            while end < length and (source[end].isalnum() or source[end] in "_$"):
                end += 1
            tokens.append(_word(source[index:end], index))
            index = end
        else:
            symbol = next((s for s in _SYMBOLS if source.startswith(s, index)), None)
            if symbol is None:
                hint = f": {_HINTS[char]}" if char in _HINTS else ""
                raise ExpressionError(
                    f"unexpected character {char!r}{hint}", expression=source, position=index
                )
            tokens.append(Token(symbol, symbol, index))
            index += len(symbol)
    delimiter = source[opening : opening + 2]
    raise ExpressionError(
        f"unterminated expression: '{delimiter}' is never closed by '}}'",
        expression=source,
        position=opening,
    )


def _word(word: str, position: int) -> Token:
    if word in KEYWORD_LITERALS:
        return Token("literal", word, position, KEYWORD_LITERALS[word])
    if word in KEYWORD_OPERATORS:
        return Token(KEYWORD_OPERATORS[word], word, position)
    return Token("ident", word, position)


def _number(source: str, start: int, tokens: list[Token]) -> int:
    match = _NUMBER.match(source, start)
    assert match is not None  # the caller saw a digit, or a dot and a digit
    text = match.group()
    try:
        value: object = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError as exc:  # more digits than int() accepts
        raise ExpressionError(
            "number literal is too long", expression=source, position=start
        ) from exc
    tokens.append(Token("literal", text, start, value))
    return match.end()


def _string(source: str, start: int) -> Token:
    quote = source[start]
    chars: list[str] = []
    index = start + 1
    while index < len(source):
        char = source[index]
        if char == quote:
            return Token("literal", source[start : index + 1], start, "".join(chars))
        if char == "\\" and source[index + 1 : index + 2] in _ESCAPED:
            chars.append(source[index + 1])
            index += 2
            continue
        chars.append(char)
        index += 1
    raise ExpressionError("unterminated string literal", expression=source, position=start)
