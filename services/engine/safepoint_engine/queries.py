"""The filters of the engine's list queries (Camunda's query parameters).

A field left ``None`` (or ``False`` for a flag) does not filter.
"""

from __future__ import annotations

from dataclasses import dataclass

# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessDefinitionQuery:
    """Filters of ``GET /process-definition``."""

    process_definition_id: str | None = None
    key: str | None = None
    name: str | None = None
    version: int | None = None
    deployment_id: str | None = None
    latest_version: bool = False


@dataclass(frozen=True, slots=True)
class ProcessInstanceQuery:
    """Filters of ``GET /process-instance`` (running instances only)."""

    process_instance_ids: frozenset[str] | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    business_key: str | None = None
    active: bool | None = None
    suspended: bool | None = None


@dataclass(frozen=True, slots=True)
class JobQuery:
    """Filters of ``GET /job``."""

    job_id: str | None = None
    job_definition_id: str | None = None
    process_instance_id: str | None = None
    execution_id: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    activity_id: str | None = None
    with_exception: bool = False
    no_retries_left: bool = False
    with_retries_left: bool = False
    executable: bool = False

    def where(self) -> dict[str, object]:
        """The filters that are a job's attribute equal to a value."""
        return given(
            id=self.job_id,
            job_definition_id=self.job_definition_id,
            execution_id=self.execution_id,
            process_definition_id=self.process_definition_id,
            process_definition_key=self.process_definition_key,
            activity_id=self.activity_id,
        )


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """Filters of ``GET /incident`` (open incidents only, as in Camunda)."""

    incident_id: str | None = None
    incident_type: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    execution_id: str | None = None
    activity_id: str | None = None
    configuration: str | None = None
    job_definition_id: str | None = None

    def where(self) -> dict[str, object]:
        """The filters that are an incident's attribute equal to a value."""
        return given(
            id=self.incident_id,
            incident_type=self.incident_type,
            process_definition_id=self.process_definition_id,
            execution_id=self.execution_id,
            activity_id=self.activity_id,
            configuration=self.configuration,
            job_definition_id=self.job_definition_id,
        )


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Filters of ``GET /task`` (open user tasks)."""

    task_id: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    execution_id: str | None = None
    task_definition_key: str | None = None
    name: str | None = None
    assignee: str | None = None
    candidate_group: str | None = None

    def where(self) -> dict[str, object]:
        """The filters that are a task's attribute equal to a value."""
        return given(
            id=self.task_id,
            process_definition_id=self.process_definition_id,
            execution_id=self.execution_id,
            activity_id=self.task_definition_key,
            name=self.name,
            assignee=self.assignee,
        )


@dataclass(frozen=True, slots=True)
class ExternalTaskQuery:
    """Filters of ``GET /external-task``."""

    external_task_id: str | None = None
    topic_name: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    execution_id: str | None = None
    activity_id: str | None = None
    with_retries_left: bool = False
    no_retries_left: bool = False

    def where(self) -> dict[str, object]:
        """The filters that are an external task's attribute equal to a value."""
        return given(
            id=self.external_task_id,
            process_definition_id=self.process_definition_id,
            execution_id=self.execution_id,
            activity_id=self.activity_id,
        )


@dataclass(frozen=True, slots=True)
class HistoricProcessInstanceQuery:
    """Filters of ``GET /history/process-instance``."""

    process_instance_id: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    business_key: str | None = None
    finished: bool = False
    unfinished: bool = False


@dataclass(frozen=True, slots=True)
class HistoricActivityInstanceQuery:
    """Filters of ``GET /history/activity-instance``."""

    process_instance_id: str | None = None
    activity_id: str | None = None
    activity_type: str | None = None
    finished: bool = False
    unfinished: bool = False
    canceled: bool = False


def given(**values: object) -> dict[str, object]:
    """``values`` without the filters not given (``None``)."""
    return {name: value for name, value in values.items() if value is not None}


def matches(value: object, wanted: object | None) -> bool:
    """Whether ``value`` passes a filter that is ``None`` when not given."""
    return wanted is None or value == wanted
