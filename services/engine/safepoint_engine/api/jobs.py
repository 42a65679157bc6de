"""Routes for jobs (the safe points instances rest at) and incidents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse

from safepoint_engine.api.common import (
    JSON_ERRORS,
    Commands,
    FirstResult,
    MaxResults,
    Service,
    no_content,
)
from safepoint_engine.queries import IncidentQuery, JobQuery
from safepoint_engine.schemas import IncidentDto, JobDto, RetriesDto

router = APIRouter()


@router.get("/job", response_model=list[JobDto], tags=["Job"])
def list_jobs(
    service: Service,
    job_id: Annotated[str | None, Query(alias="jobId")] = None,
    job_definition_id: Annotated[str | None, Query(alias="jobDefinitionId")] = None,
    process_instance_id: Annotated[str | None, Query(alias="processInstanceId")] = None,
    execution_id: Annotated[str | None, Query(alias="executionId")] = None,
    process_definition_id: Annotated[str | None, Query(alias="processDefinitionId")] = None,
    process_definition_key: Annotated[str | None, Query(alias="processDefinitionKey")] = None,
    activity_id: Annotated[str | None, Query(alias="activityId")] = None,
    with_exception: Annotated[bool, Query(alias="withException")] = False,
    no_retries_left: Annotated[bool, Query(alias="noRetriesLeft")] = False,
    with_retries_left: Annotated[bool, Query(alias="withRetriesLeft")] = False,
    executable: bool = False,
    first_result: FirstResult = None,
    max_results: MaxResults = None,
) -> list[JobDto]:
    """Jobs (the safe points instances rest at), oldest first."""
    query = JobQuery(
        job_id=job_id,
        job_definition_id=job_definition_id,
        process_instance_id=process_instance_id,
        execution_id=execution_id,
        process_definition_id=process_definition_id,
        process_definition_key=process_definition_key,
        activity_id=activity_id,
        with_exception=with_exception,
        no_retries_left=no_retries_left,
        with_retries_left=with_retries_left,
        executable=executable,
    )
    return [JobDto.of(job) for job in service.jobs(query, first_result or 0, max_results)]


@router.get("/job/{job_id}", response_model=JobDto, tags=["Job"])
def get_job(service: Service, job_id: str) -> JobDto:
    """One job by id."""
    return JobDto.of(service.job(job_id))


@router.post("/job/{job_id}/execute", status_code=204, response_class=Response, tags=["Job"])
async def execute_job(service: Service, commands: Commands, job_id: str) -> Response:
    """Run the job now; on failure its retries, stack trace and incident are recorded (500)."""
    await commands(service.execute_job, job_id)
    return no_content()


@router.put("/job/{job_id}/retries", status_code=204, response_class=Response, tags=["Job"])
async def set_job_retries(
    service: Service, commands: Commands, job_id: str, body: RetriesDto
) -> Response:
    """Set the job's retries; a positive count resolves its ``failedJob`` incident."""
    await commands(service.set_job_retries, job_id, body.retries)
    return no_content()


@router.get(
    "/job/{job_id}/stacktrace",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, **JSON_ERRORS},
    tags=["Job"],
)
def get_job_stacktrace(service: Service, job_id: str) -> PlainTextResponse:
    """The stack trace of the job's last failure (empty if it has not failed)."""
    return PlainTextResponse(service.job_stacktrace(job_id) or "")


@router.get("/incident", response_model=list[IncidentDto], tags=["Incident"])
def list_incidents(
    service: Service,
    incident_id: Annotated[str | None, Query(alias="incidentId")] = None,
    incident_type: Annotated[str | None, Query(alias="incidentType")] = None,
    process_instance_id: Annotated[str | None, Query(alias="processInstanceId")] = None,
    process_definition_id: Annotated[str | None, Query(alias="processDefinitionId")] = None,
    execution_id: Annotated[str | None, Query(alias="executionId")] = None,
    activity_id: Annotated[str | None, Query(alias="activityId")] = None,
    configuration: str | None = None,
    job_definition_id: Annotated[str | None, Query(alias="jobDefinitionId")] = None,
    first_result: FirstResult = None,
    max_results: MaxResults = None,
) -> list[IncidentDto]:
    """Open incidents, oldest first."""
    query = IncidentQuery(
        incident_id=incident_id,
        incident_type=incident_type,
        process_instance_id=process_instance_id,
        process_definition_id=process_definition_id,
        execution_id=execution_id,
        activity_id=activity_id,
        configuration=configuration,
        job_definition_id=job_definition_id,
    )
    found = service.incidents(query, first_result or 0, max_results)
    return [IncidentDto.of(incident) for incident in found]
