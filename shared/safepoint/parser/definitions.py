"""The ``bpmn:definitions`` level: ids, messages, executable processes, what is ignored."""

from __future__ import annotations

from lxml import etree

from safepoint.errors import BpmnParseError
from safepoint.model import Definitions, Message, Process
from safepoint.parser.context import ParseContext
from safepoint.parser.scope import parse_process
from safepoint.parser.xml import BPMN_NS, BPMNDI_NS, bpmn, children, line_of, namespace_of

IGNORED_DEFINITIONS_CHILDREN = frozenset(
    bpmn(name)
    for name in (
        "collaboration",
        "documentation",
        "extensionElements",
        "error",
        "signal",
        "escalation",
        "itemDefinition",
        "dataStore",
        "category",
        "interface",
        "resource",
        "relationship",
        "correlationProperty",
        "partnerEntity",
        "partnerRole",
        "endPoint",
    )
)
"""Declarations that do nothing unless a flow node uses them (such uses are refused).

Elements outside the BPMN namespace (``bpmndi:BPMNDiagram``, other vendors') are ignored.
"""


def build_definitions(root: etree._Element, resource_name: str) -> Definitions:
    """Turn a parsed ``bpmn:definitions`` element into the model.

    Raises:
        BpmnParseError: with every problem of the document, in document order.
    """
    ctx = ParseContext(resource_name, target_namespace=root.get("targetNamespace"))
    _check_unique_ids(root, ctx)
    for element in root.iterchildren(bpmn("message")):
        _parse_message(element, ctx)
    processes: list[Process] = []
    executable = 0
    for child in children(root):
        if child.tag == bpmn("process"):
            if not ctx.boolean(child, "isExecutable", False):
                continue  # like Camunda: a non-executable process is not deployed
            executable += 1
            process = parse_process(child, ctx)
            if process is not None:
                processes.append(process)
        elif child.tag in IGNORED_DEFINITIONS_CHILDREN or child.tag == bpmn("message"):
            continue
        elif namespace_of(child) == BPMN_NS:
            ctx.unsupported(child)
    if not executable:
        ctx.problem('the document has no executable process (isExecutable="true")', root)
    if ctx.problems:
        raise BpmnParseError(sorted(ctx.problems, key=lambda problem: problem.line or 0))
    return Definitions(
        processes=tuple(processes),
        messages={key: message for key, message in ctx.messages.items() if message.name},
        target_namespace=ctx.target_namespace,
    )


def _check_unique_ids(root: etree._Element, ctx: ParseContext) -> None:
    """Every ``id`` of a BPMN or diagram element is unique in the document.

    Ids inside extensions (such as ``camunda:formField``) are names of their own.
    """
    first_lines: dict[str, int | None] = {}
    for element in root.iter(f"{{{BPMN_NS}}}*", f"{{{BPMNDI_NS}}}*"):
        element_id = element.get("id")
        if element_id is None:
            continue
        if element_id in first_lines:
            ctx.problem(
                f"the id {element_id!r} is already used on line {first_lines[element_id]}", element
            )
        else:
            first_lines[element_id] = line_of(element)


def _parse_message(element: etree._Element, ctx: ParseContext) -> None:
    """Collect a ``bpmn:message``; flow nodes refer to it by id and use its name."""
    message_id = element.get("id")
    if not message_id:
        ctx.problem("the message has no id", element)
        return
    name = (element.get("name") or "").strip()
    ctx.expression(name, element, "the message name")
    ctx.messages.setdefault(message_id, Message(message_id, name))
