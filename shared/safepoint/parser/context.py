"""What the parse of one document shares: its problems, its messages, attribute readers."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from safepoint import el
from safepoint.errors import ExpressionError, Problem
from safepoint.model import Message
from safepoint.parser.xml import BPMN_NS, CAMUNDA_NS, line_of, local_name, namespace_of

_BOOLEANS = {"true": True, "false": False}


@dataclass
class ParseContext:
    """Collects every problem of one document, so that all are reported together.

    ``messages`` are the document's ``bpmn:message`` declarations by id, read before
    any process, since flow nodes refer to them.
    """

    resource_name: str
    target_namespace: str | None = None
    messages: dict[str, Message] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    generated_ids: set[str] = field(default_factory=set)
    """Ids the parser made up for sequence flows that have none in the document."""

    def problem(self, message: str, element: etree._Element, element_id: str | None = None) -> None:
        """Record a problem at the element's own line.

        ``element_id`` names the element concerned; by default the element's own id.
        """
        if element_id is None:
            element_id = element.get("id")
        self.report(message, line=line_of(element), element_id=element_id)

    def written_id(self, element_id: str) -> str | None:
        """The id as the document writes it: None for an id the parser made up."""
        return None if element_id in self.generated_ids else element_id

    def report(self, message: str, *, line: int | None, element_id: str | None) -> None:
        """Record a problem at a known line (for checks that run on the built model)."""
        self.problems.append(
            Problem(
                message, line=line, element_id=element_id or None, resource_name=self.resource_name
            )
        )

    def local_ref(self, element: etree._Element, ref: str) -> str:
        """The id a QName reference such as ``tns:Message_1`` points to in this document.

        A prefix is dropped when it is bound to the document's target namespace; a
        reference into another namespace is kept whole, so that it finds nothing.
        """
        prefix, colon, local = ref.partition(":")
        if colon and element.nsmap.get(prefix) == self.target_namespace:
            return local
        return ref

    def unsupported(self, element: etree._Element, element_id: str | None = None) -> None:
        """Record that an element is not supported (it is refused, never ignored)."""
        self.problem(f"unsupported element {describe(element)}", element, element_id)

    def boolean(
        self,
        element: etree._Element,
        attribute: str,
        default: bool,
        element_id: str | None = None,
    ) -> bool:
        """Read a ``true``/``false`` attribute (any case); anything else is a problem."""
        raw = element.get(attribute)
        if raw is None:
            return default
        value = _BOOLEANS.get(raw.strip().lower())
        if value is None:
            self.problem(
                f"attribute {qualified(attribute)} must be 'true' or 'false', not {raw!r}",
                element,
                element_id,
            )
            return default
        return value

    def expression(
        self,
        text: str,
        element: etree._Element,
        what: str,
        element_id: str | None = None,
    ) -> None:
        """Check the syntax of a text that may hold expressions; a bad one is a problem."""
        if not el.is_expression(text):
            return
        try:
            el.compile_expression(text)
        except ExpressionError as exc:
            at = f" at position {exc.position}" if exc.position is not None else ""
            message = f"invalid expression in {what} {text!r}: {exc.reason}{at}"
            self.problem(message, element, element_id)


def qualified(name: str) -> str:
    """A Clark-notation name as people write it: ``camunda:asyncBefore`` or ``default``."""
    if name.startswith(f"{{{CAMUNDA_NS}}}"):
        return "camunda:" + name.split("}", 1)[1]
    return name.split("}", 1)[-1]


def describe(element: etree._Element) -> str:
    """An element's tag as people write it, e.g. ``bpmn:boundaryEvent``."""
    prefixes = {CAMUNDA_NS: "camunda", BPMN_NS: "bpmn"}
    namespace = namespace_of(element)
    prefix = prefixes.get(namespace) or element.prefix
    return f"{prefix}:{local_name(element)}" if prefix else local_name(element)
