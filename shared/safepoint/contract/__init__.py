"""The message contract: every message Safepoint sends or receives, as pydantic models.

No I/O here. ``safepoint.messaging`` carries these messages over RabbitMQ;
``python -m safepoint.contract.export`` publishes them as JSON Schemas and one AsyncAPI
document under ``shared/contracts/``.
"""

from safepoint.contract.base import Message, MessageType, Timestamp
from safepoint.contract.channels import Topology
from safepoint.contract.commands import (
    COMMANDS,
    CommandError,
    CommandReply,
    CompleteExternalTask,
    CompleteTask,
    CorrelateMessage,
    ExternalTaskBpmnError,
    FailExternalTask,
    SetJobRetries,
    StartProcessInstance,
)
from safepoint.contract.envelope import MESSAGE_TYPES, decode, encode, model_for
from safepoint.contract.events import (
    EVENTS,
    ActivityCompleted,
    DeployedProcessDefinition,
    DeploymentCreated,
    Event,
    IncidentCreated,
    ProcessInstanceCompleted,
    ProcessInstanceStarted,
)
from safepoint.contract.external import ExternalTaskCreated
from safepoint.contract.jobs import ExecuteJob
from safepoint.contract.variables import TypedValue, TypedVariables, from_typed, to_typed

__all__ = [
    "COMMANDS",
    "EVENTS",
    "MESSAGE_TYPES",
    "ActivityCompleted",
    "CommandError",
    "CommandReply",
    "CompleteExternalTask",
    "CompleteTask",
    "CorrelateMessage",
    "DeployedProcessDefinition",
    "DeploymentCreated",
    "Event",
    "ExecuteJob",
    "ExternalTaskBpmnError",
    "ExternalTaskCreated",
    "FailExternalTask",
    "IncidentCreated",
    "Message",
    "MessageType",
    "ProcessInstanceCompleted",
    "ProcessInstanceStarted",
    "SetJobRetries",
    "StartProcessInstance",
    "Timestamp",
    "Topology",
    "TypedValue",
    "TypedVariables",
    "decode",
    "encode",
    "from_typed",
    "model_for",
    "to_typed",
]
