"""The ``camunda:`` extensions: async flags, retry cycles, priorities, listeners, I/O mappings."""

from __future__ import annotations

from collections.abc import Collection
from typing import TypedDict

from lxml import etree

from safepoint import el, isodate
from safepoint.model import (
    ExecutionListener,
    Implementation,
    ImplementationKind,
    InputOutput,
    IoParameter,
    IoValue,
    ListenerEvent,
    ListValue,
    MapValue,
)
from safepoint.parser.context import ParseContext, describe, qualified
from safepoint.parser.xml import (
    CAMUNDA_NS,
    FOX_NS,
    bpmn,
    camunda,
    children,
    line_of,
    namespace_of,
    text_of,
)

IMPLEMENTATION_ATTRIBUTES = {
    ImplementationKind.CLASS: camunda("class"),
    ImplementationKind.DELEGATE_EXPRESSION: camunda("delegateExpression"),
    ImplementationKind.EXPRESSION: camunda("expression"),
}
"""The ``camunda:`` attribute naming each kind of implementation on a service task."""

LISTENER_ATTRIBUTES = {kind: kind.value for kind in ImplementationKind}
"""On a ``camunda:executionListener`` the same attributes carry no namespace."""

IGNORED_EXTENSIONS = frozenset({camunda("properties")})
"""``camunda:`` extension elements that carry no behaviour: accepted anywhere, ignored."""

FORM_EXTENSIONS = frozenset({camunda("formData"), camunda("formProperty")})
"""Form metadata for task lists, accepted and ignored on start events and user tasks."""

_LISTENER_REFUSED = (camunda("script"), camunda("field"))

NODE_EVENTS = (ListenerEvent.START, ListenerEvent.END)
FLOW_EVENTS = (ListenerEvent.TAKE,)


class CommonFields(TypedDict):
    """The ``FlowNode`` fields every element type reads the same way."""

    id: str
    name: str | None
    scope_id: str
    async_before: bool
    async_after: bool
    exclusive: bool
    retry_time_cycle: str | None
    job_priority: str | None
    listeners: tuple[ExecutionListener, ...]
    input_output: InputOutput | None
    line: int | None


def common_fields(
    element: etree._Element,
    ctx: ParseContext,
    node_id: str,
    scope_id: str,
    *,
    also_accepted: Collection[str] = (),
) -> CommonFields:
    """Read the attributes and extension elements shared by every flow node.

    Extension elements other than the known ones in the ``camunda:`` namespace (and those
    in ``also_accepted``) are refused; other vendors' extensions are ignored.
    """
    listeners: list[ExecutionListener] = []
    input_output: InputOutput | None = None
    retry_time_cycle: str | None = None
    for extension in extension_elements(element):
        tag = extension.tag
        if tag == camunda("executionListener"):
            listener = parse_listener(extension, ctx, node_id, NODE_EVENTS)
            if listener is not None:
                listeners.append(listener)
        elif tag == camunda("inputOutput"):
            if input_output is not None:
                ctx.problem("more than one camunda:inputOutput", extension, node_id)
            input_output = parse_input_output(extension, ctx, node_id)
        elif tag in (camunda("failedJobRetryTimeCycle"), f"{{{FOX_NS}}}failedJobRetryTimeCycle"):
            if retry_time_cycle is not None:
                ctx.problem("more than one failedJobRetryTimeCycle", extension, node_id)
            retry_time_cycle = parse_retry_cycle(extension, ctx, node_id)
        else:
            check_ignorable_extension(extension, ctx, node_id, also_accepted)
    async_before = ctx.boolean(element, camunda("asyncBefore"), False, node_id)
    legacy_async = ctx.boolean(element, camunda("async"), False, node_id)
    return CommonFields(
        id=node_id,
        name=element.get("name"),
        scope_id=scope_id,
        async_before=async_before or legacy_async,
        async_after=ctx.boolean(element, camunda("asyncAfter"), False, node_id),
        exclusive=ctx.boolean(element, camunda("exclusive"), True, node_id),
        retry_time_cycle=retry_time_cycle,
        job_priority=job_priority(element, ctx, node_id),
        listeners=tuple(listeners),
        input_output=input_output,
        line=line_of(element),
    )


def extension_elements(element: etree._Element) -> list[etree._Element]:
    """The children of the element's ``bpmn:extensionElements``, in document order."""
    return [
        extension
        for container in element.iterchildren(bpmn("extensionElements"))
        for extension in children(container)
    ]


def check_ignorable_extension(
    extension: etree._Element,
    ctx: ParseContext,
    owner_id: str | None,
    also_accepted: Collection[str] = (),
) -> None:
    """Refuse a ``camunda:`` extension that is neither understood nor harmless to ignore."""
    if extension.tag in IGNORED_EXTENSIONS or extension.tag in also_accepted:
        return
    if namespace_of(extension) in (CAMUNDA_NS, FOX_NS):
        ctx.unsupported(extension, owner_id)


def job_priority(element: etree._Element, ctx: ParseContext, owner_id: str | None) -> str | None:
    """``camunda:jobPriority``: an integer or an expression, kept as written."""
    raw = element.get(camunda("jobPriority"))
    if raw is None:
        return None
    value = raw.strip()
    if el.is_expression(value):
        ctx.expression(value, element, "camunda:jobPriority", owner_id)
        return value
    try:
        int(value)
    except ValueError:
        message = f"camunda:jobPriority {raw!r} is neither an integer nor an expression"
        ctx.problem(message, element, owner_id)
        return None
    return value


def parse_retry_cycle(element: etree._Element, ctx: ParseContext, owner_id: str) -> str | None:
    """A ``failedJobRetryTimeCycle``: checked now, even though Camunda only checks on failure.

    An expression is kept as written (it is evaluated when a job fails) once its syntax
    is known to be right; an empty element means no cycle.
    """
    text = text_of(element)
    if not text:
        return None
    if el.is_expression(text):
        ctx.expression(text, element, "failedJobRetryTimeCycle", owner_id)
        return text
    try:
        isodate.parse_retry_cycle(text)
    except ValueError as exc:
        ctx.problem(f"failedJobRetryTimeCycle: {exc}", element, owner_id)
        return None
    return text


def parse_listener(
    element: etree._Element,
    ctx: ParseContext,
    owner_id: str | None,
    events: tuple[ListenerEvent, ...],
) -> ExecutionListener | None:
    """A ``camunda:executionListener``; on a sequence flow the event may be left out."""
    raw_event = element.get("event")
    if raw_event is None and events == FLOW_EVENTS:
        raw_event = ListenerEvent.TAKE.value
    allowed = "|".join(event.value for event in events)
    if raw_event is None:
        ctx.problem(f"the executionListener has no event (one of {allowed})", element, owner_id)
        event = None
    elif raw_event.strip() not in allowed.split("|"):
        ctx.problem(
            f"executionListener event {raw_event!r} is not allowed here (one of {allowed})",
            element,
            owner_id,
        )
        event = None
    else:
        event = ListenerEvent(raw_event.strip())
    refused = [child for child in children(element) if child.tag in _LISTENER_REFUSED]
    for child in refused:
        ctx.unsupported(child, owner_id)
    if refused:
        return None
    implementation = parse_implementation(
        element, ctx, owner_id, "executionListener", LISTENER_ATTRIBUTES
    )
    if event is None or implementation is None:
        return None
    return ExecutionListener(event, implementation)


def parse_implementation(
    element: etree._Element,
    ctx: ParseContext,
    owner_id: str | None,
    what: str,
    attributes: dict[ImplementationKind, str] = IMPLEMENTATION_ATTRIBUTES,
    *,
    alternative: str | None = None,
) -> Implementation | None:
    """Exactly one of the attributes ``class``, ``delegateExpression`` and ``expression``.

    A missing one is a problem: a listener or a task without code cannot run.
    """
    found = [
        (kind, value)
        for kind, attribute in attributes.items()
        if (value := element.get(attribute)) is not None
    ]
    if len(found) != 1:
        names = ", ".join(qualified(attribute) for attribute in attributes.values())
        if alternative is not None:
            names = f"{names} or {alternative}"
        count = "none" if not found else f"{len(found)}"
        ctx.problem(f"the {what} needs exactly one of {names}; it has {count}", element, owner_id)
        return None
    kind, value = found[0]
    value = value.strip()
    if not value:
        ctx.problem(f"{qualified(attributes[kind])} of the {what} is empty", element, owner_id)
        return None
    if kind is not ImplementationKind.CLASS:
        ctx.expression(value, element, f"{qualified(attributes[kind])} of the {what}", owner_id)
    return Implementation(kind, value)


def parse_input_output(element: etree._Element, ctx: ParseContext, owner_id: str) -> InputOutput:
    """A ``camunda:inputOutput`` with its input and output parameters in document order."""
    inputs: list[IoParameter] = []
    outputs: list[IoParameter] = []
    for child in children(element):
        if child.tag == camunda("inputParameter"):
            into = inputs
        elif child.tag == camunda("outputParameter"):
            into = outputs
        else:
            ctx.unsupported(child, owner_id)
            continue
        name = (child.get("name") or "").strip()
        if not name:
            ctx.problem(f"{describe(child)} has no name", child, owner_id)
            continue
        into.append(IoParameter(name, _parameter_value(child, ctx, owner_id, name)))
    return InputOutput(tuple(inputs), tuple(outputs))


def _parameter_value(
    element: etree._Element, ctx: ParseContext, owner_id: str, label: str
) -> IoValue:
    """The value of a parameter or map entry: its one child element, else its text."""
    nested = children(element)
    if not nested:
        text = text_of(element)
        if not text:
            return None
        ctx.expression(text, element, f"parameter {label!r}", owner_id)
        return text
    if len(nested) > 1:
        ctx.problem(f"{describe(element)} may hold at most one child element", element, owner_id)
        return None
    return _nested_value(nested[0], ctx, owner_id, label)


def _nested_value(element: etree._Element, ctx: ParseContext, owner_id: str, label: str) -> IoValue:
    """A ``camunda:list``, ``camunda:map`` or ``camunda:value`` (scripts are refused)."""
    if element.tag == camunda("list"):
        items = children(element)
        return ListValue(tuple(_nested_value(item, ctx, owner_id, label) for item in items))
    if element.tag == camunda("map"):
        entries: list[tuple[str, IoValue]] = []
        for entry in children(element):
            if entry.tag != camunda("entry"):
                ctx.unsupported(entry, owner_id)
                continue
            key = entry.get("key")
            if key is None:
                ctx.problem("camunda:entry has no key", entry, owner_id)
                continue
            entries.append((key, _parameter_value(entry, ctx, owner_id, label)))
        return MapValue(tuple(entries))
    if element.tag == camunda("value"):
        return _parameter_value(element, ctx, owner_id, label)
    ctx.unsupported(element, owner_id)
    return None
