"""Routes for external tasks: completing, failing, BPMN errors, retries."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from safepoint.contract import from_typed
from safepoint_engine.api.common import Commands, FirstResult, MaxResults, Service, no_content
from safepoint_engine.queries import ExternalTaskQuery
from safepoint_engine.schemas import (
    CompleteExternalTaskDto,
    ExternalTaskBpmnErrorDto,
    ExternalTaskDto,
    ExternalTaskFailureDto,
    RetriesDto,
)
from safepoint_engine.service import Unsupported

router = APIRouter()


@router.get("/external-task", response_model=list[ExternalTaskDto], tags=["External Task"])
def list_external_tasks(
    service: Service,
    external_task_id: Annotated[str | None, Query(alias="externalTaskId")] = None,
    topic_name: Annotated[str | None, Query(alias="topicName")] = None,
    process_instance_id: Annotated[str | None, Query(alias="processInstanceId")] = None,
    process_definition_id: Annotated[str | None, Query(alias="processDefinitionId")] = None,
    execution_id: Annotated[str | None, Query(alias="executionId")] = None,
    activity_id: Annotated[str | None, Query(alias="activityId")] = None,
    with_retries_left: Annotated[bool, Query(alias="withRetriesLeft")] = False,
    no_retries_left: Annotated[bool, Query(alias="noRetriesLeft")] = False,
    first_result: FirstResult = None,
    max_results: MaxResults = None,
) -> list[ExternalTaskDto]:
    """Open external tasks, oldest first."""
    query = ExternalTaskQuery(
        external_task_id=external_task_id,
        topic_name=topic_name,
        process_instance_id=process_instance_id,
        process_definition_id=process_definition_id,
        execution_id=execution_id,
        activity_id=activity_id,
        with_retries_left=with_retries_left,
        no_retries_left=no_retries_left,
    )
    found = service.external_tasks(query, first_result or 0, max_results)
    return [ExternalTaskDto.of(task) for task in found]


@router.get(
    "/external-task/{external_task_id}", response_model=ExternalTaskDto, tags=["External Task"]
)
def get_external_task(service: Service, external_task_id: str) -> ExternalTaskDto:
    """One open external task by id."""
    return ExternalTaskDto.of(service.external_task(external_task_id))


@router.post(
    "/external-task/{external_task_id}/complete",
    status_code=204,
    response_class=Response,
    tags=["External Task"],
)
async def complete_external_task(
    service: Service, commands: Commands, external_task_id: str, body: CompleteExternalTaskDto
) -> Response:
    """Complete the external task for ``workerId`` and continue the instance."""
    if body.local_variables:
        raise Unsupported("localVariables are not supported yet; send them as variables")
    await commands(
        service.complete_external_task,
        external_task_id,
        body.worker_id,
        from_typed(body.variables),
    )
    return no_content()


@router.post(
    "/external-task/{external_task_id}/failure",
    status_code=204,
    response_class=Response,
    tags=["External Task"],
)
async def handle_external_task_failure(
    service: Service, commands: Commands, external_task_id: str, body: ExternalTaskFailureDto
) -> Response:
    """Report a worker's failure: the task comes back after ``retryTimeout`` ms.

    At 0 ``retries`` (the default, as in Camunda) it does not, and a
    ``failedExternalTask`` incident opens.
    """
    await commands(
        service.handle_external_task_failure,
        external_task_id,
        body.worker_id,
        error_message=body.error_message,
        error_details=body.error_details,
        retries=body.retries,
        retry_timeout=timedelta(milliseconds=body.retry_timeout),
    )
    return no_content()


@router.post(
    "/external-task/{external_task_id}/bpmnError",
    status_code=204,
    response_class=Response,
    tags=["External Task"],
)
async def handle_external_task_bpmn_error(
    service: Service, commands: Commands, external_task_id: str, body: ExternalTaskBpmnErrorDto
) -> Response:
    """Report a business error; with no error boundary event to catch it, an incident opens."""
    await commands(
        service.handle_external_task_bpmn_error,
        external_task_id,
        body.worker_id,
        error_code=body.error_code,
        error_message=body.error_message,
        variables=from_typed(body.variables),
    )
    return no_content()


@router.put(
    "/external-task/{external_task_id}/retries",
    status_code=204,
    response_class=Response,
    tags=["External Task"],
)
async def set_external_task_retries(
    service: Service, commands: Commands, external_task_id: str, body: RetriesDto
) -> Response:
    """Set the task's retries; a positive count resolves its ``failedExternalTask`` incident."""
    await commands(service.set_external_task_retries, external_task_id, body.retries)
    return no_content()
