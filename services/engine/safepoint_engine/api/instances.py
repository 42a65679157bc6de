"""Routes for running process instances: cancelling, variables, activity tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from safepoint.contract import TypedValue, to_typed
from safepoint.errors import NotFound
from safepoint_engine.api.common import (
    Commands,
    FirstResult,
    MaxResults,
    Service,
    links,
    no_content,
)
from safepoint_engine.queries import ProcessInstanceQuery
from safepoint_engine.schemas import ActivityInstanceDto, ProcessInstanceDto
from safepoint_engine.service import Unsupported

router = APIRouter()


@router.get("/process-instance", response_model=list[ProcessInstanceDto], tags=["Process Instance"])
def list_process_instances(
    service: Service,
    request: Request,
    process_instance_ids: Annotated[
        str | None, Query(alias="processInstanceIds", description="comma-separated ids")
    ] = None,
    process_definition_id: Annotated[str | None, Query(alias="processDefinitionId")] = None,
    process_definition_key: Annotated[str | None, Query(alias="processDefinitionKey")] = None,
    business_key: Annotated[str | None, Query(alias="businessKey")] = None,
    active: bool | None = None,
    suspended: bool | None = None,
    first_result: FirstResult = None,
    max_results: MaxResults = None,
) -> list[ProcessInstanceDto]:
    """Running process instances, oldest first (ended ones are under history)."""
    query = ProcessInstanceQuery(
        process_instance_ids=(
            None if process_instance_ids is None else frozenset(process_instance_ids.split(","))
        ),
        process_definition_id=process_definition_id,
        process_definition_key=process_definition_key,
        business_key=business_key,
        active=active,
        suspended=suspended,
    )
    found = service.process_instances(query, first_result or 0, max_results)
    return [ProcessInstanceDto.of(i, links(request, f"/process-instance/{i.id}")) for i in found]


@router.get(
    "/process-instance/{process_instance_id}",
    response_model=ProcessInstanceDto,
    tags=["Process Instance"],
)
def get_process_instance(
    service: Service, request: Request, process_instance_id: str
) -> ProcessInstanceDto:
    """One running process instance (404 once it has ended, as in Camunda)."""
    instance = service.process_instance(process_instance_id)
    return ProcessInstanceDto.of(instance, links(request, f"/process-instance/{instance.id}"))


@router.delete(
    "/process-instance/{process_instance_id}",
    status_code=204,
    response_class=Response,
    tags=["Process Instance"],
)
async def delete_process_instance(
    service: Service,
    commands: Commands,
    process_instance_id: str,
    skip_custom_listeners: Annotated[bool, Query(alias="skipCustomListeners")] = False,
    skip_io_mappings: Annotated[bool, Query(alias="skipIoMappings")] = False,
    fail_if_not_exists: Annotated[bool, Query(alias="failIfNotExists")] = True,
) -> Response:
    """Cancel a running instance; its end listeners and output mappings run."""
    if skip_custom_listeners or skip_io_mappings:
        raise Unsupported("skipCustomListeners and skipIoMappings are not supported yet")
    await commands(
        service.delete_process_instance,
        process_instance_id,
        fail_if_not_exists=fail_if_not_exists,
    )
    return no_content()


@router.get(
    "/process-instance/{process_instance_id}/variables",
    response_model=dict[str, TypedValue],
    tags=["Process Instance"],
)
def get_process_instance_variables(
    service: Service, process_instance_id: str
) -> dict[str, TypedValue]:
    """The process variables of a running instance, typed."""
    return to_typed(service.variables(process_instance_id))


@router.get(
    "/process-instance/{process_instance_id}/variables/{name}",
    response_model=TypedValue,
    tags=["Process Instance"],
)
def get_process_instance_variable(
    service: Service, process_instance_id: str, name: str
) -> TypedValue:
    """One process variable of a running instance, typed."""
    variables = service.variables(process_instance_id)
    if name not in variables:
        raise NotFound(f"variable of process instance {process_instance_id!r} named", name)
    return to_typed({name: variables[name]})[name]


@router.get(
    "/process-instance/{process_instance_id}/activity-instances",
    response_model=ActivityInstanceDto,
    tags=["Process Instance"],
)
def get_activity_instance_tree(service: Service, process_instance_id: str) -> ActivityInstanceDto:
    """The activity instance tree; tokens at safe points are transition instances."""
    return ActivityInstanceDto.of(service.activity_instance_tree(process_instance_id))
