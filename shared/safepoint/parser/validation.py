"""Semantic checks on a built process: start events, end events, gateways and their flows."""

from __future__ import annotations

from safepoint.model import (
    EndEvent,
    ExclusiveGateway,
    InclusiveGateway,
    Process,
    StartEvent,
    SubProcess,
)
from safepoint.parser.context import ParseContext


def validate_process(process: Process, ctx: ParseContext) -> None:
    """Record every problem of the process's structure (references are checked before)."""
    _check_start_events(process, ctx)
    for node in process.flow_nodes.values():
        if isinstance(node, StartEvent) and node.incoming:
            ctx.report(
                "a start event cannot have incoming sequence flows",
                line=node.line,
                element_id=node.id,
            )
        elif isinstance(node, EndEvent) and node.outgoing:
            ctx.report(
                "an end event cannot have outgoing sequence flows",
                line=node.line,
                element_id=node.id,
            )
        elif isinstance(node, ExclusiveGateway | InclusiveGateway):
            _check_default_flow(process, node, ctx)
            if isinstance(node, ExclusiveGateway):
                _check_exclusive_gateway(process, node, ctx)


def _check_start_events(process: Process, ctx: ParseContext) -> None:
    """Each scope needs exactly one none start event to be started by."""
    scopes: list[tuple[str, str, int | None, tuple[str, ...]]] = [
        ("process", process.id, process.line, process.start_event_ids)
    ]
    scopes += [
        ("sub-process", node.id, node.line, node.start_event_ids)
        for node in process.flow_nodes.values()
        if isinstance(node, SubProcess)
    ]
    for kind, scope_id, line, start_ids in scopes:
        if not start_ids:
            ctx.report(f"the {kind} has no none start event", line=line, element_id=scope_id)
        for extra_id in start_ids[1:]:
            ctx.report(
                f"the {kind} {scope_id!r} has more than one none start event",
                line=process.flow_nodes[extra_id].line,
                element_id=extra_id,
            )


def _check_default_flow(
    process: Process, gateway: ExclusiveGateway | InclusiveGateway, ctx: ParseContext
) -> None:
    """The default flow must leave the gateway, and has no condition."""
    default = gateway.default_flow
    if default is None:
        return
    if default not in gateway.outgoing:
        ctx.report(
            f"the default flow {default!r} is not an outgoing sequence flow of the gateway",
            line=gateway.line,
            element_id=gateway.id,
        )
    elif (flow := process.flow(default)).condition is not None:
        ctx.report(
            f"the default flow of gateway {gateway.id!r} cannot have a condition",
            line=flow.line,
            element_id=ctx.written_id(flow.id),
        )


def _check_exclusive_gateway(
    process: Process, gateway: ExclusiveGateway, ctx: ParseContext
) -> None:
    """Camunda's rules for the flows of an exclusive gateway (``validateExclusiveGateway``).

    A gateway needs an outgoing flow; a single one has no condition; with a default flow,
    every other flow has a condition, and without one at most one flow has none.
    """
    flows = process.outgoing(gateway)
    if not flows:
        ctx.report(
            "an exclusive gateway needs an outgoing sequence flow",
            line=gateway.line,
            element_id=gateway.id,
        )
        return
    if len(flows) == 1:
        if flows[0].condition is not None:
            ctx.report(
                f"the only outgoing sequence flow of exclusive gateway {gateway.id!r} "
                "cannot have a condition",
                line=flows[0].line,
                element_id=ctx.written_id(flows[0].id),
            )
        return
    unconditional = [
        flow for flow in flows if flow.condition is None and flow.id != gateway.default_flow
    ]
    if len(unconditional) > 1 or (unconditional and gateway.default_flow is not None):
        for flow in unconditional:
            ctx.report(
                f"the sequence flow out of exclusive gateway {gateway.id!r} has no "
                "condition and is not its default flow",
                line=flow.line,
                element_id=ctx.written_id(flow.id),
            )
