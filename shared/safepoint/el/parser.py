"""Recursive-descent parser from the tokens of one ``${...}`` to its syntax tree."""

from __future__ import annotations

from safepoint.el.lexer import Token
from safepoint.el.nodes import (
    Binary,
    Conditional,
    Identifier,
    Index,
    Literal,
    MethodCall,
    Node,
    Property,
    Unary,
    walk,
)
from safepoint.errors import ExpressionError

MAX_NESTING = 32
"""Most parentheses, brackets, call arguments and ternaries that may nest in each other."""

MAX_DEPTH = 128
"""Most levels the syntax tree may have, so that evaluation never exhausts the stack."""

_BINARY_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"||"}),
    frozenset({"&&"}),
    frozenset({"==", "!="}),
    frozenset({"<", ">", "<=", ">="}),
    frozenset({"+", "-"}),
    frozenset({"*", "/", "%"}),
)
"""Binary operators by precedence, lowest first; all associate to the left."""

_PREFIX = frozenset({"-", "!", "empty"})


def parse(tokens: list[Token], source: str, opening: int) -> Node:
    """Parse the tokens of the expression opened at offset ``opening`` of ``source``.

    Args:
        tokens: the tokens from :func:`safepoint.el.lexer.tokenize`, ending with ``end``.
        source: the whole text, for error messages.
        opening: the offset of the ``${`` or ``#{``.

    Raises:
        ExpressionError: a syntax error, with the offset of the offending token.
    """
    return _Parser(tokens, source).parse(opening)


class _Parser:
    def __init__(self, tokens: list[Token], source: str) -> None:
        self._tokens = tokens
        self._source = source
        self._index = 0
        self._nesting = 0

    def parse(self, opening: int) -> Node:
        if self._peek().kind == "end":
            raise self._error("empty expression", opening)
        node = self._expression()
        token = self._peek()
        if token.kind == "instanceof":
            raise self._error("the 'instanceof' operator is not supported", token.position)
        if token.kind != "end":
            raise self._error(f"unexpected token '{token.text}'", token.position)
        deepest, position = max((d, n.position) for n, d in walk(node))
        if deepest > MAX_DEPTH:
            raise self._error(f"expression is too complex (more than {MAX_DEPTH} levels)", position)
        return node

    def _expression(self) -> Node:
        if self._nesting >= MAX_NESTING:
            raise self._error(
                f"expression is nested too deeply (more than {MAX_NESTING} levels)",
                self._peek().position,
            )
        self._nesting += 1
        try:
            condition = self._binary(0)
            if self._peek().kind != "?":
                return condition
            question = self._advance()
            then = self._expression()
            self._expect(":", question)
            otherwise = self._expression()
            return Conditional(condition, then, otherwise, question.position)
        finally:
            self._nesting -= 1

    def _binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self._unary()
        operators = _BINARY_LEVELS[level]
        left = self._binary(level + 1)
        while self._peek().kind in operators:
            operator = self._advance()
            right = self._binary(level + 1)
            left = Binary(operator.kind, left, right, operator.position)
        return left

    def _unary(self) -> Node:
        prefixes: list[Token] = []
        while self._peek().kind in _PREFIX:
            prefixes.append(self._advance())
        node = self._postfix()
        for prefix in reversed(prefixes):
            node = Unary(prefix.kind, node, prefix.position)
        return node

    def _postfix(self) -> Node:
        node = self._primary()
        while True:
            token = self._peek()
            if token.kind == ".":
                self._advance()
                name = self._advance()
                if name.kind != "ident":
                    raise self._error(
                        f"expected a property name after '.', found {_describe(name)}",
                        name.position,
                    )
                if self._peek().kind == "(":
                    node = MethodCall(node, name.text, self._arguments(), name.position)
                else:
                    node = Property(node, name.text, name.position)
            elif token.kind == "[":
                self._advance()
                index = self._expression()
                self._expect("]", token)
                node = Index(node, index, token.position)
            elif token.kind == "(":
                raise self._error(_call_refusal(node), token.position)
            else:
                return node

    def _arguments(self) -> tuple[Node, ...]:
        opening = self._advance()
        arguments: list[Node] = []
        if self._peek().kind == ")":
            self._advance()
            return ()
        while True:
            arguments.append(self._expression())
            if self._peek().kind != ",":
                break
            self._advance()
        self._expect(")", opening)
        return tuple(arguments)

    def _primary(self) -> Node:
        token = self._advance()
        if token.kind == "literal":
            return Literal(token.value, token.position)
        if token.kind == "ident":
            return Identifier(token.text, token.position)
        if token.kind == "(":
            node = self._expression()
            self._expect(")", token)
            return node
        if token.kind == "instanceof":
            raise self._error("the 'instanceof' operator is not supported", token.position)
        if token.kind == "end":
            raise self._error("unexpected end of expression", token.position)
        raise self._error(f"unexpected token '{token.text}'", token.position)

    def _expect(self, kind: str, opener: Token) -> None:
        token = self._peek()
        if token.kind != kind:
            raise self._error(
                f"expected '{kind}' to match '{opener.text}' at position {opener.position}, "
                f"found {_describe(token)}",
                token.position,
            )
        self._advance()

    def _peek(self) -> Token:
        return self._tokens[self._index]

    def _advance(self) -> Token:
        token = self._tokens[self._index]
        if token.kind != "end":
            self._index += 1
        return token

    def _error(self, message: str, position: int) -> ExpressionError:
        return ExpressionError(message, expression=self._source, position=position)


def _describe(token: Token) -> str:
    return "the end of the expression" if token.kind == "end" else f"'{token.text}'"


def _call_refusal(node: Node) -> str:
    if isinstance(node, Identifier):
        return (
            f"function calls such as '{node.name}(...)' are not supported; "
            "only methods can be called, as in 'object.method(...)'"
        )
    return "only methods can be called, as in 'object.method(...)'"
