"""One behaviour per BPMN element type: what ``activity-execute`` does, and ``signal``."""

from __future__ import annotations

from safepoint.core.behaviors.base import ActivityBehavior, PassThrough
from safepoint.core.behaviors.events import EndEventBehavior, MessageWaitBehavior
from safepoint.core.behaviors.gateways import (
    ExclusiveGatewayBehavior,
    InclusiveGatewayBehavior,
    ParallelGatewayBehavior,
)
from safepoint.core.behaviors.scopes import SubProcessBehavior
from safepoint.core.behaviors.tasks import ServiceTaskBehavior, UserTaskBehavior
from safepoint.model import (
    EndEvent,
    ExclusiveGateway,
    FlowNode,
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

BEHAVIORS: dict[type[FlowNode], ActivityBehavior] = {
    StartEvent: PassThrough(),
    Task: PassThrough(),
    ManualTask: PassThrough(),
    ServiceTask: ServiceTaskBehavior(),
    SendTask: ServiceTaskBehavior(),
    UserTask: UserTaskBehavior(),
    ReceiveTask: MessageWaitBehavior(),
    IntermediateCatchEvent: MessageWaitBehavior(),
    EndEvent: EndEventBehavior(),
    ExclusiveGateway: ExclusiveGatewayBehavior(),
    InclusiveGateway: InclusiveGatewayBehavior(),
    ParallelGateway: ParallelGatewayBehavior(),
    SubProcess: SubProcessBehavior(),
}
"""The behaviour of each supported element type; the parser refuses every other type."""


def behavior_for(node: FlowNode) -> ActivityBehavior:
    """The behaviour that runs ``node``."""
    return BEHAVIORS[type(node)]


__all__ = ["BEHAVIORS", "ActivityBehavior", "behavior_for"]
