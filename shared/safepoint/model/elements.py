"""The BPMN flow-node types Safepoint runs, named by their BPMN local names."""

from __future__ import annotations

from dataclasses import dataclass

from safepoint.model.base import FlowNode, Implementation


@dataclass(frozen=True, slots=True)
class StartEvent(FlowNode):
    """A none start event (``startEvent`` without an event definition)."""


@dataclass(frozen=True, slots=True)
class EndEvent(FlowNode):
    """A none end event, or a terminate end event when ``terminate`` is set."""

    terminate: bool = False


@dataclass(frozen=True, slots=True)
class IntermediateCatchEvent(FlowNode):
    """An intermediate message catch event: waits for the message named ``message_name``."""

    message_name: str = ""


@dataclass(frozen=True, slots=True)
class Task(FlowNode):
    """An abstract ``task``: passes straight through."""


@dataclass(frozen=True, slots=True)
class ManualTask(FlowNode):
    """A ``manualTask``: passes straight through, like Camunda."""


@dataclass(frozen=True, slots=True)
class ServiceTask(FlowNode):
    """A ``serviceTask``: runs a registered delegate or an expression, or is an external task.

    Exactly one of ``implementation`` and ``topic`` is set: ``topic`` marks an
    external task (``camunda:type="external"``) that waits for a worker.
    """

    implementation: Implementation | None = None
    result_variable: str | None = None
    topic: str | None = None

    @property
    def is_external(self) -> bool:
        """Whether the task is done by an external worker."""
        return self.topic is not None


@dataclass(frozen=True, slots=True)
class SendTask(ServiceTask):
    """A ``sendTask``: behaves as a service task."""


@dataclass(frozen=True, slots=True)
class UserTask(FlowNode):
    """A ``userTask``: waits until a person completes it."""

    assignee: str | None = None
    candidate_groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReceiveTask(FlowNode):
    """A ``receiveTask``: waits for the message named ``message_name``."""

    message_name: str = ""


@dataclass(frozen=True, slots=True)
class ExclusiveGateway(FlowNode):
    """An ``exclusiveGateway``: takes the first flow whose condition holds, else the default."""

    default_flow: str | None = None


@dataclass(frozen=True, slots=True)
class InclusiveGateway(FlowNode):
    """An ``inclusiveGateway``: takes every flow whose condition holds, else the default."""

    default_flow: str | None = None


@dataclass(frozen=True, slots=True)
class ParallelGateway(FlowNode):
    """A ``parallelGateway``: joins all incoming tokens, forks to all outgoing flows."""


@dataclass(frozen=True, slots=True)
class SubProcess(FlowNode):
    """An embedded ``subProcess``: a scope with its own flow nodes.

    ``flow_node_ids`` are the direct children; the nodes themselves live in
    ``Process.flow_nodes`` like every other node.
    """

    flow_node_ids: tuple[str, ...] = ()
    start_event_ids: tuple[str, ...] = ()
