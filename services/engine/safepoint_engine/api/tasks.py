"""Routes for user tasks: listing and completing them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from safepoint.contract import TypedValue, from_typed, to_typed
from safepoint_engine.api.common import Commands, FirstResult, MaxResults, Service, no_content
from safepoint_engine.queries import TaskQuery
from safepoint_engine.schemas import CompleteTaskDto, TaskDto

router = APIRouter()


@router.get("/task", response_model=list[TaskDto], tags=["Task"])
def list_tasks(
    service: Service,
    task_id: Annotated[str | None, Query(alias="taskId")] = None,
    process_instance_id: Annotated[str | None, Query(alias="processInstanceId")] = None,
    process_definition_id: Annotated[str | None, Query(alias="processDefinitionId")] = None,
    execution_id: Annotated[str | None, Query(alias="executionId")] = None,
    task_definition_key: Annotated[str | None, Query(alias="taskDefinitionKey")] = None,
    name: str | None = None,
    assignee: str | None = None,
    candidate_group: Annotated[str | None, Query(alias="candidateGroup")] = None,
    first_result: FirstResult = None,
    max_results: MaxResults = None,
) -> list[TaskDto]:
    """Open user tasks, oldest first."""
    query = TaskQuery(
        task_id=task_id,
        process_instance_id=process_instance_id,
        process_definition_id=process_definition_id,
        execution_id=execution_id,
        task_definition_key=task_definition_key,
        name=name,
        assignee=assignee,
        candidate_group=candidate_group,
    )
    return [TaskDto.of(task) for task in service.tasks(query, first_result or 0, max_results)]


@router.get("/task/{task_id}", response_model=TaskDto, tags=["Task"])
def get_task(service: Service, task_id: str) -> TaskDto:
    """One open user task by id."""
    return TaskDto.of(service.task(task_id))


@router.post(
    "/task/{task_id}/complete",
    status_code=204,
    response_model=None,
    responses={200: {"model": dict[str, TypedValue], "description": "withVariablesInReturn"}},
    tags=["Task"],
)
async def complete_task(
    service: Service, commands: Commands, task_id: str, body: CompleteTaskDto | None = None
) -> Response:
    """Complete the task and continue the instance to its next safe points (204)."""
    body = body or CompleteTaskDto()
    variables = from_typed(body.variables)
    returned = body.with_variables_in_return

    def complete() -> dict[str, object] | None:
        task = service.complete_task(task_id, variables)
        return service.variables_after_command(task.process_instance_id) if returned else None

    after = await commands(complete)
    if after is None:
        return no_content()
    typed = to_typed(after)
    return JSONResponse({name: value.model_dump(mode="json") for name, value in typed.items()})
