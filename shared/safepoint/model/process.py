"""Processes, sequence flows and the definitions document that holds them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from safepoint.model.base import ExecutionListener, FlowNode, ListenerEvent
from safepoint.model.elements import StartEvent, SubProcess


@dataclass(frozen=True, slots=True)
class SequenceFlow:
    """A ``sequenceFlow``; ``condition`` is the raw ``${...}`` text of its condition, if any."""

    id: str
    source_ref: str
    target_ref: str
    name: str | None = None
    condition: str | None = None
    listeners: tuple[ExecutionListener, ...] = ()
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Process:
    """An executable ``process``: every flow node and flow of it, nested ones included.

    ``flow_nodes`` maps each node id (at any depth) to its node; ``flow_node_ids``
    lists the top-level ones. Sequence flows are looked up by id in ``sequence_flows``.
    """

    id: str
    name: str | None = None
    flow_nodes: Mapping[str, FlowNode] = field(default_factory=dict)
    sequence_flows: Mapping[str, SequenceFlow] = field(default_factory=dict)
    flow_node_ids: tuple[str, ...] = ()
    start_event_ids: tuple[str, ...] = ()
    listeners: tuple[ExecutionListener, ...] = ()
    job_priority: str | None = None
    history_time_to_live: str | None = None
    """``camunda:historyTimeToLive`` as written; checked and turned into days at deployment."""
    version_tag: str | None = None
    line: int | None = field(default=None, compare=False)

    def node(self, node_id: str) -> FlowNode:
        """The flow node with this id (raises ``KeyError`` when there is none)."""
        return self.flow_nodes[node_id]

    def flow(self, flow_id: str) -> SequenceFlow:
        """The sequence flow with this id (raises ``KeyError`` when there is none)."""
        return self.sequence_flows[flow_id]

    def outgoing(self, node: FlowNode) -> tuple[SequenceFlow, ...]:
        """The outgoing flows of a node in document order."""
        return tuple(self.sequence_flows[flow_id] for flow_id in node.outgoing)

    def initial_start_event(self, scope_id: str) -> StartEvent:
        """The none start event of the process (``scope_id == id``) or of a sub-process."""
        if scope_id == self.id:
            ids = self.start_event_ids
        else:
            scope = self.flow_nodes[scope_id]
            assert isinstance(scope, SubProcess)
            ids = scope.start_event_ids
        node = self.flow_nodes[ids[0]]
        assert isinstance(node, StartEvent)
        return node

    def scope_chain(self, node_id: str) -> tuple[str, ...]:
        """Ids of the scopes enclosing a node, innermost first, the process last."""
        chain: list[str] = []
        scope_id = self.flow_nodes[node_id].scope_id
        while scope_id != self.id:
            chain.append(scope_id)
            scope_id = self.flow_nodes[scope_id].scope_id
        chain.append(self.id)
        return tuple(chain)

    def listeners_for(self, event: ListenerEvent) -> tuple[ExecutionListener, ...]:
        """The process-level listeners for one event, in document order."""
        return tuple(listener for listener in self.listeners if listener.event is event)


@dataclass(frozen=True, slots=True)
class Message:
    """A ``message`` declared at the definitions level; flow nodes refer to it by id."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Definitions:
    """One parsed BPMN document: its executable processes and declared messages."""

    processes: tuple[Process, ...]
    messages: Mapping[str, Message] = field(default_factory=dict)
    target_namespace: str | None = None

    def process(self, process_id: str) -> Process:
        """The process with this id (raises ``KeyError`` when there is none)."""
        for process in self.processes:
            if process.id == process_id:
                return process
        raise KeyError(process_id)
