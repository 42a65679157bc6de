"""Walks a process and its sub-processes: flow nodes, sequence flows, and how they connect."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

from lxml import etree

from safepoint.model import (
    ExecutionListener,
    FlowNode,
    ParallelGateway,
    Process,
    SequenceFlow,
    StartEvent,
    SubProcess,
)
from safepoint.parser.context import ParseContext
from safepoint.parser.elements import IGNORED_NODE_CHILDREN, parse_flow_node
from safepoint.parser.extensions import (
    FLOW_EVENTS,
    NODE_EVENTS,
    check_ignorable_extension,
    extension_elements,
    job_priority,
    parse_listener,
)
from safepoint.parser.validation import validate_process
from safepoint.parser.xml import BPMN_NS, XSI_NS, bpmn, camunda, children, line_of, text_of

IGNORED_SCOPE_CHILDREN = IGNORED_NODE_CHILDREN | frozenset(
    bpmn(name)
    for name in (
        "laneSet",
        "textAnnotation",
        "association",
        "group",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
    )
)
"""Children of a process or sub-process that are diagram, documentation or inert data."""

_FLOW_CHILDREN = frozenset(
    {bpmn("documentation"), bpmn("extensionElements"), bpmn("conditionExpression")}
)
_EXPRESSION_LANGUAGES = frozenset({"juel"})
_PROCESS_EXTENSIONS = frozenset({camunda("potentialStarter")})


@dataclass
class _RawFlow:
    """A ``sequenceFlow`` as written, before its references are checked."""

    element: etree._Element
    scope_id: str
    source_ref: str | None
    target_ref: str | None
    condition: str | None
    listeners: tuple[ExecutionListener, ...]


@dataclass
class _Walk:
    """Everything found while walking one process, at any depth."""

    ctx: ParseContext
    nodes: dict[str, FlowNode] = field(default_factory=dict)
    flows: list[_RawFlow] = field(default_factory=list)
    refused_ids: set[str] = field(default_factory=set)


def parse_process(element: etree._Element, ctx: ParseContext) -> Process | None:
    """Parse and validate one executable ``bpmn:process``; None if it has no id."""
    process_id = element.get("id")
    if not process_id:
        ctx.problem("the process has no id", element)
        return None
    listeners: list[ExecutionListener] = []
    for extension in extension_elements(element):
        if extension.tag == camunda("executionListener"):
            listener = parse_listener(extension, ctx, process_id, NODE_EVENTS)
            if listener is not None:
                listeners.append(listener)
        else:
            check_ignorable_extension(extension, ctx, process_id, _PROCESS_EXTENSIONS)
    priority = job_priority(element, ctx, process_id)
    walk = _Walk(ctx)
    node_ids, start_ids = _walk_scope(element, process_id, walk)
    flows = _connect(walk)  # also fills in each node's incoming and outgoing flows
    process = Process(
        id=process_id,
        name=element.get("name"),
        flow_nodes=walk.nodes,
        sequence_flows=flows,
        flow_node_ids=node_ids,
        start_event_ids=start_ids,
        listeners=tuple(listeners),
        job_priority=priority,
        history_time_to_live=element.get(camunda("historyTimeToLive")),
        version_tag=element.get(camunda("versionTag")),
        line=line_of(element),
    )
    validate_process(process, ctx)
    return process


def _walk_scope(
    container: etree._Element, scope_id: str, walk: _Walk
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Collect the nodes and flows of one scope, descending into sub-processes.

    Returns the ids of the scope's direct child nodes and of its none start events.
    """
    node_ids: list[str] = []
    start_ids: list[str] = []
    for child in children(container):
        if child.tag == bpmn("sequenceFlow"):
            walk.flows.append(_parse_flow(child, scope_id, walk.ctx))
            continue
        if child.tag in IGNORED_SCOPE_CHILDREN:
            continue
        node = parse_flow_node(child, walk.ctx, scope_id)
        if node is None:
            walk.refused_ids.add(child.get("id") or "")
            continue
        if node.id in walk.nodes:  # a duplicate id, already reported for the whole document
            continue
        walk.nodes[node.id] = node
        if isinstance(node, SubProcess):
            inner_ids, inner_starts = _walk_scope(child, node.id, walk)
            walk.nodes[node.id] = replace(
                node, flow_node_ids=inner_ids, start_event_ids=inner_starts
            )
        node_ids.append(node.id)
        if isinstance(node, StartEvent):
            start_ids.append(node.id)
    return tuple(node_ids), tuple(start_ids)


def _parse_flow(element: etree._Element, scope_id: str, ctx: ParseContext) -> _RawFlow:
    """Read a ``sequenceFlow``: its references, condition and TAKE listeners."""
    flow_id = element.get("id") or None
    for attribute in ("sourceRef", "targetRef"):
        if not element.get(attribute):
            ctx.problem(f"the sequence flow has no {attribute}", element)
    listeners: list[ExecutionListener] = []
    for extension in extension_elements(element):
        if extension.tag == camunda("executionListener"):
            listener = parse_listener(extension, ctx, flow_id, FLOW_EVENTS)
            if listener is not None:
                listeners.append(listener)
        else:
            check_ignorable_extension(extension, ctx, flow_id)
    for child in children(element):
        if child.tag not in _FLOW_CHILDREN:
            ctx.unsupported(child, flow_id)
    conditions = list(element.iterchildren(bpmn("conditionExpression")))
    if len(conditions) > 1:
        ctx.problem("the sequence flow has more than one conditionExpression", element)
    return _RawFlow(
        element=element,
        scope_id=scope_id,
        source_ref=element.get("sourceRef") or None,
        target_ref=element.get("targetRef") or None,
        condition=_condition(conditions[0], ctx, flow_id) if conditions else None,
        listeners=tuple(listeners),
    )


def _condition(element: etree._Element, ctx: ParseContext, flow_id: str | None) -> str | None:
    """The text of a ``conditionExpression``: an expression, not a script.

    A refused condition still counts as a condition, so that the gateway checks do not
    report the same flow a second time.
    """
    text = text_of(element)
    xsi_type = element.get(f"{{{XSI_NS}}}type")
    if xsi_type is not None and not _is_formal_expression_type(element, xsi_type):
        message = f"xsi:type {xsi_type!r} is not supported (only bpmn:tFormalExpression)"
        ctx.problem(message, element, flow_id)
    language = element.get("language")
    if language is not None and language.strip().lower() not in _EXPRESSION_LANGUAGES:
        message = f"conditions in language {language!r} (scripts) are not supported"
        ctx.problem(message, element, flow_id)
    elif element.get(camunda("resource")) is not None:
        message = "conditions from a camunda:resource (scripts) are not supported"
        ctx.problem(message, element, flow_id)
    elif not text:
        ctx.problem("the conditionExpression is empty", element, flow_id)
        return None
    elif not text.startswith(("${", "#{")) or not text.endswith("}"):
        message = f"the condition {text!r} is not an expression like ${{...}}"
        ctx.problem(message, element, flow_id)
    else:
        ctx.expression(text, element, "the condition", flow_id)
    return text or None


def _is_formal_expression_type(element: etree._Element, xsi_type: str) -> bool:
    """Whether ``xsi:type`` names ``tFormalExpression`` of BPMN (the default namespace)."""
    prefix, _, name = xsi_type.strip().rpartition(":")
    namespace = element.nsmap.get(prefix) if prefix else BPMN_NS
    return name == "tFormalExpression" and namespace == BPMN_NS


def _connect(walk: _Walk) -> dict[str, SequenceFlow]:
    """Check every flow's references, then fill each node's incoming and outgoing flows.

    A flow without id gets ``<source>-><target>#<n>``, which no XML id can clash with;
    except after an ``asyncAfter`` activity, whose jobs name the flow they continue on.
    """
    ctx = walk.ctx
    flows: dict[str, SequenceFlow] = {}
    incoming: defaultdict[str, list[str]] = defaultdict(list)
    outgoing: defaultdict[str, list[str]] = defaultdict(list)
    unnamed: Counter[tuple[str, str]] = Counter()
    for raw in walk.flows:
        source = _referenced_node(raw, "sourceRef", raw.source_ref, walk)
        target = _referenced_node(raw, "targetRef", raw.target_ref, walk)
        if source is None or target is None:
            continue
        flow_id = raw.element.get("id")
        if not flow_id:
            if source.async_after:
                ctx.problem(
                    f"Sequence flow with sourceRef='{source.id}' must have an id, "
                    f"activity with id '{source.id}' uses 'asyncAfter'.",
                    raw.element,
                    source.id,
                )
                continue
            unnamed[(source.id, target.id)] += 1
            flow_id = f"{source.id}->{target.id}#{unnamed[(source.id, target.id)]}"
            ctx.generated_ids.add(flow_id)
        elif flow_id in flows:  # a duplicate id, already reported for the whole document
            continue
        flows[flow_id] = SequenceFlow(
            id=flow_id,
            source_ref=source.id,
            target_ref=target.id,
            name=raw.element.get("name"),
            # A parallel gateway ignores conditions, as in Camunda.
            condition=None if isinstance(source, ParallelGateway) else raw.condition,
            listeners=raw.listeners,
            line=line_of(raw.element),
        )
        outgoing[source.id].append(flow_id)
        incoming[target.id].append(flow_id)
    for node_id, node in walk.nodes.items():
        walk.nodes[node_id] = replace(
            node, incoming=tuple(incoming[node_id]), outgoing=tuple(outgoing[node_id])
        )
    return flows


def _referenced_node(
    raw: _RawFlow, attribute: str, ref: str | None, walk: _Walk
) -> FlowNode | None:
    """The node a flow's reference names, in the flow's own scope; else a problem."""
    if ref is None:  # already reported
        return None
    node = walk.nodes.get(ref)
    flow_id = raw.element.get("id") or None
    if node is None:
        if ref not in walk.refused_ids:  # a refused node has been reported already
            walk.ctx.problem(f"{attribute} {ref!r} refers to no flow node", raw.element, flow_id)
        return None
    if node.scope_id != raw.scope_id:
        walk.ctx.problem(
            f"{attribute} {ref!r} is in scope {node.scope_id!r}, but the sequence flow is in "
            f"{raw.scope_id!r}: a sequence flow cannot cross a scope boundary",
            raw.element,
            flow_id,
        )
        return None
    return node
