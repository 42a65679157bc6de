"""Shared building blocks of the BPMN model: flow nodes, listeners, I/O mappings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ImplementationKind(StrEnum):
    """How a service task or listener names the code it runs (Camunda's attributes)."""

    CLASS = "class"
    """``camunda:class``: the value is a name looked up in the delegate registry."""
    DELEGATE_EXPRESSION = "delegateExpression"
    """``camunda:delegateExpression``: an expression resolving to a registered delegate."""
    EXPRESSION = "expression"
    """``camunda:expression``: an expression evaluated for its value (and side effects)."""


@dataclass(frozen=True, slots=True)
class Implementation:
    """The code a service task or an execution listener runs, as written in the BPMN file."""

    kind: ImplementationKind
    value: str


class ListenerEvent(StrEnum):
    """The moments an execution listener can observe."""

    START = "start"
    END = "end"
    TAKE = "take"


@dataclass(frozen=True, slots=True)
class ExecutionListener:
    """A ``camunda:executionListener`` on a flow node, a process or a sequence flow."""

    event: ListenerEvent
    implementation: Implementation


@dataclass(frozen=True, slots=True)
class ListValue:
    """A ``camunda:list`` inside an input/output parameter."""

    items: tuple[IoValue, ...]


@dataclass(frozen=True, slots=True)
class MapValue:
    """A ``camunda:map`` inside an input/output parameter (entries keep document order)."""

    entries: tuple[tuple[str, IoValue], ...]


IoValue = str | ListValue | MapValue | None
"""A parameter value: text (a literal or an expression template), a list, a map, or null."""


@dataclass(frozen=True, slots=True)
class IoParameter:
    """One ``camunda:inputParameter`` or ``camunda:outputParameter``."""

    name: str
    value: IoValue


@dataclass(frozen=True, slots=True)
class InputOutput:
    """A ``camunda:inputOutput`` mapping: inputs create local variables, outputs copy out."""

    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()


@dataclass(frozen=True, slots=True)
class FlowNode:
    """Fields every flow node has, whatever its BPMN type.

    ``scope_id`` is the id of the process or sub-process that directly contains the
    node. ``incoming`` and ``outgoing`` are sequence-flow ids in document order.
    ``retry_time_cycle`` is the raw ``camunda:failedJobRetryTimeCycle`` text (already
    validated by the parser; it may be an expression evaluated at failure time).
    """

    id: str
    name: str | None = None
    scope_id: str = ""
    incoming: tuple[str, ...] = ()
    outgoing: tuple[str, ...] = ()
    async_before: bool = False
    async_after: bool = False
    exclusive: bool = True
    retry_time_cycle: str | None = None
    job_priority: str | None = None
    listeners: tuple[ExecutionListener, ...] = ()
    input_output: InputOutput | None = None
    line: int | None = field(default=None, compare=False)

    @property
    def element_type(self) -> str:
        """The BPMN local name of the element, e.g. ``serviceTask``."""
        name = type(self).__name__
        return name[0].lower() + name[1:]

    def listeners_for(self, event: ListenerEvent) -> tuple[ExecutionListener, ...]:
        """The listeners of this node for one event, in document order."""
        return tuple(listener for listener in self.listeners if listener.event is event)
