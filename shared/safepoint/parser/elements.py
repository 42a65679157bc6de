"""One parse function per supported BPMN flow-node tag, in the table ``ELEMENT_PARSERS``.

A tag that is not in the table is refused with "unsupported element": Safepoint never
deploys a process part of which it would silently skip at run time.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from safepoint.model import (
    EndEvent,
    ExclusiveGateway,
    FlowNode,
    ImplementationKind,
    InclusiveGateway,
    IntermediateCatchEvent,
    ManualTask,
    ParallelGateway,
    ReceiveTask,
    SendTask,
    ServiceTask,
    StartEvent,
    SubProcess,
    Task,
    UserTask,
)
from safepoint.parser.context import ParseContext, describe
from safepoint.parser.extensions import (
    FORM_EXTENSIONS,
    IMPLEMENTATION_ATTRIBUTES,
    CommonFields,
    common_fields,
    extension_elements,
    parse_implementation,
)
from safepoint.parser.xml import BPMN_NS, bpmn, camunda, children, local_name, namespace_of

NodeParser = Callable[[etree._Element, ParseContext, str, str], FlowNode | None]
"""Parses one flow-node element: ``(element, ctx, node_id, scope_id)``; None if refused."""

IGNORED_NODE_CHILDREN = frozenset(
    bpmn(name)
    for name in (
        "documentation",
        "extensionElements",
        "incoming",
        "outgoing",
        "ioSpecification",
        "dataInput",
        "dataOutput",
        "inputSet",
        "outputSet",
        "dataInputAssociation",
        "dataOutputAssociation",
        "property",
        "auditing",
        "monitoring",
    )
)
"""Children of a flow node that change nothing at run time (diagram, documentation, data)."""


def parse_flow_node(element: etree._Element, ctx: ParseContext, scope_id: str) -> FlowNode | None:
    """Parse one flow-node element of a scope, or refuse it with a problem (then None)."""
    parser = ELEMENT_PARSERS.get(str(element.tag))
    if parser is None:  # named by its own id, else by the enclosing scope's (loop markers)
        ctx.unsupported(element, element.get("id") or scope_id)
        return None
    node_id = element.get("id")
    if not node_id:
        ctx.problem(f"the {describe(element)} has no id", element)
        return None
    if element.tag != bpmn("subProcess"):
        _check_children(element, ctx, node_id)
    if ctx.boolean(element, "isForCompensation", False, node_id):
        ctx.problem("compensation handlers (isForCompensation) are not supported", element)
    if element.get("default") is not None and element.tag not in _GATEWAYS_WITH_DEFAULT:
        ctx.problem(f"a default flow on a {describe(element)} is not supported", element)
    return parser(element, ctx, node_id, scope_id)


def _check_children(element: etree._Element, ctx: ParseContext, node_id: str) -> None:
    """Refuse children that would change behaviour (loops, resource roles, ...)."""
    is_event = local_name(element).endswith("Event")
    for child in children(element):
        if child.tag in IGNORED_NODE_CHILDREN or (is_event and _is_event_definition(child)):
            continue
        ctx.unsupported(child, node_id)


def _is_event_definition(element: etree._Element) -> bool:
    name = local_name(element)
    is_definition = name.endswith("EventDefinition") or name == "eventDefinitionRef"
    return namespace_of(element) == BPMN_NS and is_definition


def _event_definitions(element: etree._Element) -> list[etree._Element]:
    return [child for child in children(element) if _is_event_definition(child)]


def _refuse_input_output(
    common: CommonFields, element: etree._Element, ctx: ParseContext, *, outputs_only: bool = False
) -> None:
    """Refuse I/O mappings where Camunda does: gateways, start events, end-event outputs."""
    mapping = common["input_output"]
    if mapping is None or (outputs_only and not mapping.outputs):
        return
    what = "camunda:outputParameter" if outputs_only else "camunda:inputOutput"
    ctx.problem(f"{what} is not allowed on a {describe(element)}", element)


def _message_name(element: etree._Element, ctx: ParseContext, node_id: str) -> str:
    """The name of the ``bpmn:message`` that the element's ``messageRef`` refers to."""
    ref = element.get("messageRef")
    if not ref:
        ctx.problem(f"the {describe(element)} has no messageRef", element, node_id)
        return ""
    message = ctx.messages.get(ctx.local_ref(element, ref))
    if message is None:
        ctx.problem(f"messageRef {ref!r} refers to no bpmn:message", element, node_id)
        return ""
    if not message.name:
        ctx.problem(f"the bpmn:message {message.id!r} has no name", element, node_id)
    return message.name


def _start_event(
    element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str
) -> StartEvent | None:
    """A none start event; a start event with an event definition is refused."""
    common = common_fields(element, ctx, node_id, scope_id, also_accepted=FORM_EXTENSIONS)
    _refuse_input_output(common, element, ctx)
    definitions = _event_definitions(element)
    for definition in definitions:
        ctx.unsupported(definition, node_id)
    return None if definitions else StartEvent(**common)


def _end_event(
    element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str
) -> EndEvent | None:
    """A none or terminate end event; other event definitions are refused."""
    common = common_fields(element, ctx, node_id, scope_id)
    _refuse_input_output(common, element, ctx, outputs_only=True)
    definitions = _event_definitions(element)
    refused = [d for d in definitions if d.tag != bpmn("terminateEventDefinition")]
    for definition in refused:
        ctx.unsupported(definition, node_id)
    if len(definitions) > 1 and not refused:
        ctx.problem("an end event may have at most one event definition", element)
    if refused:
        return None
    return EndEvent(**common, terminate=bool(definitions))


def _intermediate_catch_event(
    element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str
) -> IntermediateCatchEvent | None:
    """A message catch event; timer, signal and other catch events are refused."""
    common = common_fields(element, ctx, node_id, scope_id)
    definitions = _event_definitions(element)
    if len(definitions) != 1:
        ctx.problem("an intermediate catch event needs one messageEventDefinition", element)
        return None
    if definitions[0].tag != bpmn("messageEventDefinition"):
        ctx.unsupported(definitions[0], node_id)
        return None
    message_name = _message_name(definitions[0], ctx, node_id)
    return IntermediateCatchEvent(**common, message_name=message_name)


def _task(element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str) -> Task:
    return Task(**common_fields(element, ctx, node_id, scope_id))


def _manual_task(
    element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str
) -> ManualTask:
    return ManualTask(**common_fields(element, ctx, node_id, scope_id))


def _service_task(
    element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str
) -> ServiceTask:
    """A service or send task: a delegate, an expression, or an external task (topic)."""
    common = common_fields(element, ctx, node_id, scope_id)
    result_variable = element.get(camunda("resultVariable"))
    if result_variable is None:  # Camunda's legacy spelling
        result_variable = element.get(camunda("resultVariableName"))
    task_type = element.get(camunda("type"))
    implementation = None
    topic = None
    if task_type is not None:
        if task_type.strip().lower() != "external":
            ctx.problem(f"camunda:type={task_type!r} is not supported (only 'external')", element)
        else:
            topic = (element.get(camunda("topic")) or "").strip()
            if not topic:
                ctx.problem("an external task needs a camunda:topic", element)
            ctx.expression(topic, element, "camunda:topic")
        if any(element.get(name) is not None for name in IMPLEMENTATION_ATTRIBUTES.values()):
            ctx.problem(
                "an external task (camunda:type) cannot also have camunda:class, "
                "camunda:delegateExpression or camunda:expression",
                element,
            )
    elif not any(ext.tag == camunda("connector") for ext in extension_elements(element)):
        # A connector has already been refused as an unsupported extension.
        implementation = parse_implementation(
            element, ctx, node_id, describe(element), alternative='camunda:type="external"'
        )
        if (
            implementation is not None
            and result_variable is not None
            and implementation.kind is not ImplementationKind.EXPRESSION
        ):
            ctx.problem(
                f"camunda:resultVariable is not supported with camunda:{implementation.kind.value}",
                element,
            )
    task_class = SendTask if element.tag == bpmn("sendTask") else ServiceTask
    return task_class(
        **common, implementation=implementation, result_variable=result_variable, topic=topic
    )


def _user_task(element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str) -> UserTask:
    common = common_fields(element, ctx, node_id, scope_id, also_accepted=FORM_EXTENSIONS)
    assignee = (element.get(camunda("assignee")) or "").strip() or None
    if assignee is not None:
        ctx.expression(assignee, element, "camunda:assignee")
    groups = split_comma_list(element.get(camunda("candidateGroups")) or "")
    for group in groups:
        ctx.expression(group, element, "camunda:candidateGroups")
    return UserTask(**common, assignee=assignee, candidate_groups=groups)


def split_comma_list(text: str) -> tuple[str, ...]:
    """Split ``a, ${f(b, c)}, d`` at the commas that are outside braces; drop empty items."""
    items: list[str] = []
    depth = 0
    start = 0
    for position, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            items.append(text[start:position])
            start = position + 1
    items.append(text[start:])
    return tuple(item.strip() for item in items if item.strip())


def _receive_task(
    element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str
) -> ReceiveTask:
    common = common_fields(element, ctx, node_id, scope_id)
    return ReceiveTask(**common, message_name=_message_name(element, ctx, node_id))


def _exclusive_gateway(
    element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str
) -> ExclusiveGateway:
    common = common_fields(element, ctx, node_id, scope_id)
    _refuse_input_output(common, element, ctx)
    return ExclusiveGateway(**common, default_flow=element.get("default"))


def _inclusive_gateway(
    element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str
) -> InclusiveGateway:
    common = common_fields(element, ctx, node_id, scope_id)
    _refuse_input_output(common, element, ctx)
    return InclusiveGateway(**common, default_flow=element.get("default"))


def _parallel_gateway(
    element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str
) -> ParallelGateway:
    common = common_fields(element, ctx, node_id, scope_id)
    _refuse_input_output(common, element, ctx)
    return ParallelGateway(**common)


def _sub_process(
    element: etree._Element, ctx: ParseContext, node_id: str, scope_id: str
) -> SubProcess | None:
    """An embedded sub-process, still without children (the scope walker adds them)."""
    if ctx.boolean(element, "triggeredByEvent", False, node_id):
        ctx.problem("event sub-processes (triggeredByEvent) are not supported", element)
        return None
    return SubProcess(**common_fields(element, ctx, node_id, scope_id))


ELEMENT_PARSERS: dict[str, NodeParser] = {
    bpmn("startEvent"): _start_event,
    bpmn("endEvent"): _end_event,
    bpmn("intermediateCatchEvent"): _intermediate_catch_event,
    bpmn("task"): _task,
    bpmn("manualTask"): _manual_task,
    bpmn("serviceTask"): _service_task,
    bpmn("sendTask"): _service_task,
    bpmn("userTask"): _user_task,
    bpmn("receiveTask"): _receive_task,
    bpmn("exclusiveGateway"): _exclusive_gateway,
    bpmn("inclusiveGateway"): _inclusive_gateway,
    bpmn("parallelGateway"): _parallel_gateway,
    bpmn("subProcess"): _sub_process,
}
"""Every flow-node tag Safepoint runs (Clark notation), mapped to its parse function."""

_GATEWAYS_WITH_DEFAULT = frozenset({bpmn("exclusiveGateway"), bpmn("inclusiveGateway")})
