"""The engine's HTTP models: Camunda 7 REST JSON (camelCase) for Safepoint's entities.

Response models carry every field Camunda's DTO has that Safepoint can fill truthfully;
fields of features Safepoint does not have (tenants, suspension, case management) are
written as Camunda writes them when unused (``null``, ``false``). Timestamps are UTC in
Camunda's format, ``2026-01-01T10:00:00.000+0000``. Variables use Camunda's typed form
(:class:`safepoint.contract.TypedValue`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from safepoint.camunda_rest import CamundaModel as CamundaModel
from safepoint.camunda_rest import ExceptionDto as ExceptionDto
from safepoint.camunda_rest import HealthDto as HealthDto
from safepoint.camunda_rest import LinkDto as LinkDto
from safepoint.camunda_rest import ProcessDefinitionDto as ProcessDefinitionDto
from safepoint.contract import Timestamp, TypedValue
from safepoint.contract.base import MAX_RETRIES, MAX_RETRY_TIMEOUT_MS
from safepoint.core.entities import (
    ExternalTask,
    HistoricActivityInstance,
    Incident,
    Job,
    ProcessInstance,
    Task,
)
from safepoint_engine.service import (
    ActivityInstanceNode,
    HistoricProcessInstance,
    TransitionInstanceNode,
)

DEFAULT_TASK_PRIORITY = 50
"""Camunda's priority of a user task that sets none (Safepoint's tasks set none)."""


class RequestModel(CamundaModel):
    """A request body; unknown fields are ignored, as Camunda's REST API ignores them."""

    model_config = ConfigDict(extra="ignore")


def _duration_ms(start: datetime, end: datetime | None) -> int | None:
    """Milliseconds from ``start`` to ``end``, ``None`` while it runs."""
    return None if end is None else int((end - start).total_seconds() * 1000)


# --------------------------------------------------------------------------------------
# Process definitions and instances
# --------------------------------------------------------------------------------------


class ProcessDefinitionDiagramDto(CamundaModel):
    """``GET /process-definition/{id}/xml``: the BPMN XML a definition was deployed from."""

    id: str
    bpmn20_xml: str


class StartProcessInstanceDto(RequestModel):
    """The body of ``POST /process-definition/.../start``."""

    variables: dict[str, TypedValue] = Field(default_factory=dict)
    business_key: str | None = None
    with_variables_in_return: bool = False


class ProcessInstanceDto(CamundaModel):
    """Camunda's ``ProcessInstanceDto``."""

    links: list[LinkDto] = Field(default_factory=list)
    id: str
    definition_id: str
    business_key: str | None = None
    case_instance_id: str | None = None
    ended: bool
    suspended: bool = False
    tenant_id: str | None = None

    @classmethod
    def of(cls, instance: ProcessInstance, links: list[LinkDto]) -> ProcessInstanceDto:
        """The DTO of a process instance."""
        return cls(
            links=links,
            id=instance.id,
            definition_id=instance.process_definition_id,
            business_key=instance.business_key,
            ended=instance.ended,
        )


class ProcessInstanceWithVariablesDto(ProcessInstanceDto):
    """A started process instance with its variables (``withVariablesInReturn``)."""

    variables: dict[str, TypedValue]


class TransitionInstanceDto(CamundaModel):
    """A token at an asynchronous boundary (Camunda's ``TransitionInstanceDto``)."""

    id: str
    parent_activity_instance_id: str
    process_instance_id: str
    process_definition_id: str
    activity_id: str
    activity_name: str | None
    activity_type: str
    execution_id: str
    target_activity_id: str = Field(description="deprecated in Camunda: the activityId")

    @classmethod
    def of(cls, node: TransitionInstanceNode) -> TransitionInstanceDto:
        """The DTO of a transition instance."""
        return cls(
            id=node.id,
            parent_activity_instance_id=node.parent_activity_instance_id,
            process_instance_id=node.process_instance_id,
            process_definition_id=node.process_definition_id,
            activity_id=node.activity_id,
            activity_name=node.activity_name,
            activity_type=node.activity_type,
            execution_id=node.execution_id,
            target_activity_id=node.activity_id,
        )


class ActivityInstanceDto(CamundaModel):
    """A node of the activity instance tree (Camunda's ``ActivityInstanceDto``)."""

    id: str
    parent_activity_instance_id: str | None
    activity_id: str
    activity_type: str
    process_instance_id: str
    process_definition_id: str
    child_activity_instances: list[ActivityInstanceDto]
    child_transition_instances: list[TransitionInstanceDto]
    execution_ids: list[str]
    activity_name: str | None
    name: str | None = Field(description="deprecated in Camunda: the activityName")

    @classmethod
    def of(cls, node: ActivityInstanceNode) -> ActivityInstanceDto:
        """The DTO of a tree node and everything under it."""
        return cls(
            id=node.id,
            parent_activity_instance_id=node.parent_activity_instance_id,
            activity_id=node.activity_id,
            activity_type=node.activity_type,
            process_instance_id=node.process_instance_id,
            process_definition_id=node.process_definition_id,
            child_activity_instances=[cls.of(child) for child in node.child_activity_instances],
            child_transition_instances=[
                TransitionInstanceDto.of(child) for child in node.child_transition_instances
            ],
            execution_ids=list(node.execution_ids),
            activity_name=node.activity_name,
            name=node.activity_name,
        )


# --------------------------------------------------------------------------------------
# Jobs and incidents
# --------------------------------------------------------------------------------------


class JobDto(CamundaModel):
    """Camunda's ``JobDto``."""

    id: str
    job_definition_id: str
    process_instance_id: str
    process_definition_id: str
    process_definition_key: str
    execution_id: str
    exception_message: str | None
    failed_activity_id: str | None
    retries: int
    due_date: Timestamp | None
    suspended: bool = False
    priority: int
    tenant_id: str | None = None
    create_time: Timestamp
    batch_id: str | None = None

    @classmethod
    def of(cls, job: Job) -> JobDto:
        """The DTO of a job."""
        return cls(
            id=job.id,
            job_definition_id=job.job_definition_id,
            process_instance_id=job.process_instance_id,
            process_definition_id=job.process_definition_id,
            process_definition_key=job.process_definition_key,
            execution_id=job.execution_id,
            exception_message=job.exception_message,
            failed_activity_id=job.failed_activity_id,
            retries=job.retries,
            due_date=job.due_at,
            priority=job.priority,
            create_time=job.created_at,
        )


class RetriesDto(RequestModel):
    """The body of ``PUT /job/{id}/retries``."""

    retries: int = Field(ge=0, le=MAX_RETRIES)


class IncidentDto(CamundaModel):
    """Camunda's ``IncidentDto``; a root incident is its own cause and root cause."""

    id: str
    process_definition_id: str
    process_instance_id: str
    execution_id: str
    incident_timestamp: Timestamp
    incident_type: str
    activity_id: str
    failed_activity_id: str | None
    cause_incident_id: str
    root_cause_incident_id: str
    configuration: str | None
    tenant_id: str | None = None
    incident_message: str | None
    job_definition_id: str | None
    annotation: str | None = None

    @classmethod
    def of(cls, incident: Incident) -> IncidentDto:
        """The DTO of an incident."""
        return cls(
            id=incident.id,
            process_definition_id=incident.process_definition_id,
            process_instance_id=incident.process_instance_id,
            execution_id=incident.execution_id,
            incident_timestamp=incident.created_at,
            incident_type=incident.incident_type,
            activity_id=incident.activity_id,
            failed_activity_id=incident.failed_activity_id,
            cause_incident_id=incident.id,
            root_cause_incident_id=incident.id,
            configuration=incident.configuration,
            incident_message=incident.message,
            job_definition_id=incident.job_definition_id,
        )


# --------------------------------------------------------------------------------------
# Messages, user tasks, external tasks
# --------------------------------------------------------------------------------------


class CorrelationMessageDto(RequestModel):
    """The body of ``POST /message`` (Camunda's ``CorrelationMessageDto``)."""

    message_name: str
    business_key: str | None = None
    process_variables: dict[str, TypedValue] = Field(default_factory=dict)
    process_variables_local: dict[str, TypedValue] = Field(default_factory=dict)
    correlation_keys: dict[str, TypedValue] = Field(default_factory=dict)
    local_correlation_keys: dict[str, TypedValue] = Field(default_factory=dict)
    process_instance_id: str | None = None
    tenant_id: str | None = None
    without_tenant_id: bool = False
    all: bool = False
    result_enabled: bool = False
    variables_in_result_enabled: bool = False


class TaskDto(CamundaModel):
    """Camunda's ``TaskDto``."""

    id: str
    name: str | None
    assignee: str | None
    owner: str | None = None
    created: Timestamp
    last_updated: Timestamp | None = None
    due: Timestamp | None = None
    follow_up: Timestamp | None = None
    delegation_state: str | None = None
    description: str | None = None
    execution_id: str
    parent_task_id: str | None = None
    priority: int = DEFAULT_TASK_PRIORITY
    process_definition_id: str
    process_instance_id: str
    task_definition_key: str
    case_execution_id: str | None = None
    case_instance_id: str | None = None
    case_definition_id: str | None = None
    suspended: bool = False
    form_key: str | None = None
    tenant_id: str | None = None

    @classmethod
    def of(cls, task: Task) -> TaskDto:
        """The DTO of a user task."""
        return cls(
            id=task.id,
            name=task.name,
            assignee=task.assignee,
            created=task.created_at,
            execution_id=task.execution_id,
            process_definition_id=task.process_definition_id,
            process_instance_id=task.process_instance_id,
            task_definition_key=task.activity_id,
        )


class CompleteTaskDto(RequestModel):
    """The body of ``POST /task/{id}/complete``."""

    variables: dict[str, TypedValue] = Field(default_factory=dict)
    with_variables_in_return: bool = False


class ExternalTaskDto(CamundaModel):
    """Camunda's ``ExternalTaskDto``."""

    id: str
    activity_id: str
    activity_instance_id: str
    error_message: str | None
    error_details: str | None = Field(
        default=None, description="not in Camunda's DTO: GET .../errorDetails there"
    )
    execution_id: str
    lock_expiration_time: Timestamp | None = Field(
        default=None, description="always null: workers take tasks from RabbitMQ, unlocked"
    )
    process_definition_id: str
    process_definition_key: str
    process_instance_id: str
    retries: int | None
    suspended: bool = False
    worker_id: str | None = Field(
        default=None, description="always null: workers take tasks from RabbitMQ, unlocked"
    )
    topic_name: str
    tenant_id: str | None = None
    priority: int
    create_time: Timestamp

    @classmethod
    def of(cls, task: ExternalTask) -> ExternalTaskDto:
        """The DTO of an external task."""
        return cls(
            id=task.id,
            activity_id=task.activity_id,
            activity_instance_id=task.activity_instance_id,
            error_message=task.error_message,
            error_details=task.error_details,
            execution_id=task.execution_id,
            process_definition_id=task.process_definition_id,
            process_definition_key=task.process_definition_key,
            process_instance_id=task.process_instance_id,
            retries=task.retries,
            topic_name=task.topic,
            priority=task.priority,
            create_time=task.created_at,
        )


class CompleteExternalTaskDto(RequestModel):
    """The body of ``POST /external-task/{id}/complete``."""

    worker_id: str
    variables: dict[str, TypedValue] = Field(default_factory=dict)
    local_variables: dict[str, TypedValue] = Field(default_factory=dict)


class ExternalTaskFailureDto(RequestModel):
    """The body of ``POST /external-task/{id}/failure``."""

    worker_id: str
    error_message: str | None = None
    error_details: str | None = None
    retries: int = Field(
        default=0, ge=0, le=MAX_RETRIES, description="attempts left; 0 opens an incident"
    )
    retry_timeout: int = Field(
        default=0, ge=0, le=MAX_RETRY_TIMEOUT_MS, description="milliseconds until it is retried"
    )


class ExternalTaskBpmnErrorDto(RequestModel):
    """The body of ``POST /external-task/{id}/bpmnError``."""

    worker_id: str
    error_code: str
    error_message: str | None = None
    variables: dict[str, TypedValue] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------


class HistoricProcessInstanceDto(CamundaModel):
    """Camunda's ``HistoricProcessInstanceDto``."""

    id: str
    root_process_instance_id: str
    super_process_instance_id: str | None = None
    super_case_instance_id: str | None = None
    case_instance_id: str | None = None
    process_definition_name: str | None
    process_definition_key: str
    process_definition_version: int | None
    process_definition_id: str
    business_key: str | None
    start_time: Timestamp
    end_time: Timestamp | None
    removal_time: Timestamp | None = None
    duration_in_millis: int | None
    start_user_id: str | None = None
    delete_reason: str | None
    tenant_id: str | None = None
    state: str

    @classmethod
    def of(cls, historic: HistoricProcessInstance) -> HistoricProcessInstanceDto:
        """The DTO of a process instance's history record."""
        instance, definition = historic.instance, historic.definition
        return cls(
            id=instance.id,
            root_process_instance_id=instance.id,
            process_definition_name=definition.name if definition else None,
            process_definition_key=instance.process_definition_key,
            process_definition_version=definition.version if definition else None,
            process_definition_id=instance.process_definition_id,
            business_key=instance.business_key,
            start_time=instance.started_at,
            end_time=instance.ended_at,
            duration_in_millis=_duration_ms(instance.started_at, instance.ended_at),
            delete_reason=instance.delete_reason,
            state=instance.state.value,
        )


class HistoricActivityInstanceDto(CamundaModel):
    """Camunda's ``HistoricActivityInstanceDto``."""

    id: str
    parent_activity_instance_id: str | None
    activity_id: str
    activity_name: str | None
    activity_type: str
    process_definition_key: str
    process_definition_id: str
    process_instance_id: str
    execution_id: str
    task_id: str | None
    called_process_instance_id: str | None = None
    called_case_instance_id: str | None = None
    start_time: Timestamp
    end_time: Timestamp | None
    duration_in_millis: int | None
    canceled: bool
    tenant_id: str | None = None
    removal_time: Timestamp | None = None
    root_process_instance_id: str

    @classmethod
    def of(
        cls, activity: HistoricActivityInstance, instance: ProcessInstance
    ) -> HistoricActivityInstanceDto:
        """The DTO of one activity instance of ``instance``."""
        return cls(
            id=activity.id,
            parent_activity_instance_id=activity.parent_activity_instance_id,
            activity_id=activity.activity_id,
            activity_name=activity.activity_name,
            activity_type=activity.activity_type,
            process_definition_key=instance.process_definition_key,
            process_definition_id=instance.process_definition_id,
            process_instance_id=instance.id,
            execution_id=activity.execution_id,
            task_id=activity.task_id,
            start_time=activity.started_at,
            end_time=activity.ended_at,
            duration_in_millis=_duration_ms(activity.started_at, activity.ended_at),
            canceled=activity.canceled,
            root_process_instance_id=instance.id,
        )
