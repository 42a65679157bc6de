"""Events: facts Safepoint publishes to the topic exchange ``safepoint.events``.

Each event class has its routing key (``process.started``, ...) in ``routing_key``;
listeners bind their own queues with the keys (or patterns, ``process.*``) they want.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from safepoint.contract.base import WIRE_CONFIG, Message, MessageType, Timestamp


class Event(Message):
    """A fact published to ``safepoint.events`` with routing key ``routing_key``."""

    routing_key: ClassVar[str]


class ProcessInstanceStarted(Event):
    """A process instance was started."""

    message_type: ClassVar[MessageType] = MessageType.PROCESS_INSTANCE_STARTED
    routing_key: ClassVar[str] = "process.started"

    process_instance_id: str
    process_definition_id: str
    process_definition_key: str
    business_key: str | None = None
    started_at: Timestamp


class ProcessInstanceCompleted(Event):
    """A process instance reached its end."""

    message_type: ClassVar[MessageType] = MessageType.PROCESS_INSTANCE_COMPLETED
    routing_key: ClassVar[str] = "process.completed"

    process_instance_id: str
    process_definition_id: str
    process_definition_key: str
    business_key: str | None = None
    ended_at: Timestamp


class ActivityCompleted(Event):
    """An activity instance ended (Camunda's historic activity instance end)."""

    message_type: ClassVar[MessageType] = MessageType.ACTIVITY_COMPLETED
    routing_key: ClassVar[str] = "activity.completed"

    process_instance_id: str
    process_definition_key: str
    activity_id: str
    activity_instance_id: str
    activity_type: str
    activity_name: str | None = None
    ended_at: Timestamp


class IncidentCreated(Event):
    """An incident was raised, e.g. ``failedJob`` when a job's retries ran out.

    ``configuration`` is the job id for ``failedJob`` incidents.
    """

    message_type: ClassVar[MessageType] = MessageType.INCIDENT_CREATED
    routing_key: ClassVar[str] = "incident.created"

    incident_id: str
    incident_type: str
    process_instance_id: str
    process_definition_id: str
    activity_id: str
    message: str | None = None
    configuration: str | None = None
    created_at: Timestamp


class DeployedProcessDefinition(BaseModel):
    """One process definition a deployment created (a new version of ``key``)."""

    model_config = WIRE_CONFIG

    id: str
    key: str
    version: int = Field(ge=1)
    name: str | None = None


class DeploymentCreated(Event):
    """A deployment was stored, with the process definitions it created."""

    message_type: ClassVar[MessageType] = MessageType.DEPLOYMENT_CREATED
    routing_key: ClassVar[str] = "deployment.created"

    deployment_id: str
    name: str | None = None
    deployed_at: Timestamp
    process_definitions: list[DeployedProcessDefinition] = Field(default_factory=list)


EVENTS: tuple[type[Event], ...] = (
    ProcessInstanceStarted,
    ProcessInstanceCompleted,
    ActivityCompleted,
    IncidentCreated,
    DeploymentCreated,
)
"""Every event Safepoint publishes."""
