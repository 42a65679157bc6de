"""Routes for process definitions: listing, their XML, starting instances."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from safepoint.contract import from_typed, to_typed
from safepoint.core.deployments import ProcessDefinition
from safepoint_engine.api.common import (
    Commands,
    FirstResult,
    MaxResults,
    Service,
    links,
    page,
)
from safepoint_engine.queries import ProcessDefinitionQuery
from safepoint_engine.schemas import (
    ProcessDefinitionDiagramDto,
    ProcessDefinitionDto,
    ProcessInstanceDto,
    ProcessInstanceWithVariablesDto,
    StartProcessInstanceDto,
)
from safepoint_engine.service import EngineService

router = APIRouter()


@router.get(
    "/process-definition", response_model=list[ProcessDefinitionDto], tags=["Process Definition"]
)
def list_process_definitions(
    service: Service,
    process_definition_id: Annotated[str | None, Query(alias="processDefinitionId")] = None,
    key: str | None = None,
    name: str | None = None,
    version: int | None = None,
    deployment_id: Annotated[str | None, Query(alias="deploymentId")] = None,
    latest_version: Annotated[bool, Query(alias="latestVersion")] = False,
    first_result: FirstResult = None,
    max_results: MaxResults = None,
) -> list[ProcessDefinitionDto]:
    """Deployed process definitions, by key and version."""
    query = ProcessDefinitionQuery(
        process_definition_id=process_definition_id,
        key=key,
        name=name,
        version=version,
        deployment_id=deployment_id,
        latest_version=latest_version,
    )
    found = service.process_definitions(query)
    return [ProcessDefinitionDto.of(d) for d in page(found, first_result, max_results)]


@router.get(
    "/process-definition/key/{key}",
    response_model=ProcessDefinitionDto,
    tags=["Process Definition"],
)
def get_latest_process_definition(service: Service, key: str) -> ProcessDefinitionDto:
    """The latest version of the process definition ``key``."""
    return ProcessDefinitionDto.of(service.latest_process_definition(key))


@router.get(
    "/process-definition/key/{key}/xml",
    response_model=ProcessDefinitionDiagramDto,
    tags=["Process Definition"],
)
def get_latest_process_definition_xml(service: Service, key: str) -> ProcessDefinitionDiagramDto:
    """The BPMN XML of the latest version of ``key``."""
    definition = service.latest_process_definition(key)
    xml = service.process_definition_xml(definition)
    return ProcessDefinitionDiagramDto(id=definition.id, bpmn20_xml=xml)


@router.post(
    "/process-definition/key/{key}/start",
    response_model=ProcessInstanceDto | ProcessInstanceWithVariablesDto,
    tags=["Process Definition"],
)
async def start_process_instance_by_key(
    service: Service,
    commands: Commands,
    request: Request,
    key: str,
    body: StartProcessInstanceDto | None = None,
) -> ProcessInstanceDto:
    """Start the latest version of ``key``; it runs up to its first safe points."""

    def start() -> ProcessInstanceDto:
        definition = service.latest_process_definition(key)
        return _start(service, request, definition, body or StartProcessInstanceDto())

    return await commands(start)


@router.get(
    "/process-definition/{process_definition_id}",
    response_model=ProcessDefinitionDto,
    tags=["Process Definition"],
)
def get_process_definition(service: Service, process_definition_id: str) -> ProcessDefinitionDto:
    """One process definition by id (``key:version:deploymentId``)."""
    return ProcessDefinitionDto.of(service.process_definition(process_definition_id))


@router.get(
    "/process-definition/{process_definition_id}/xml",
    response_model=ProcessDefinitionDiagramDto,
    tags=["Process Definition"],
)
def get_process_definition_xml(
    service: Service, process_definition_id: str
) -> ProcessDefinitionDiagramDto:
    """The BPMN XML the process definition was deployed from."""
    definition = service.process_definition(process_definition_id)
    xml = service.process_definition_xml(definition)
    return ProcessDefinitionDiagramDto(id=definition.id, bpmn20_xml=xml)


@router.post(
    "/process-definition/{process_definition_id}/start",
    response_model=ProcessInstanceDto | ProcessInstanceWithVariablesDto,
    tags=["Process Definition"],
)
async def start_process_instance(
    service: Service,
    commands: Commands,
    request: Request,
    process_definition_id: str,
    body: StartProcessInstanceDto | None = None,
) -> ProcessInstanceDto:
    """Start this exact process definition version."""

    def start() -> ProcessInstanceDto:
        definition = service.process_definition(process_definition_id)
        return _start(service, request, definition, body or StartProcessInstanceDto())

    return await commands(start)


def _start(
    service: EngineService,
    request: Request,
    definition: ProcessDefinition,
    body: StartProcessInstanceDto,
) -> ProcessInstanceDto:
    instance = service.start_process_instance(
        definition, from_typed(body.variables), body.business_key
    )
    dto = ProcessInstanceDto.of(instance, links(request, f"/process-instance/{instance.id}"))
    if not body.with_variables_in_return:
        return dto
    variables = to_typed(service.variables_after_command(instance.id))
    return ProcessInstanceWithVariablesDto(**dto.model_dump(), variables=variables)
