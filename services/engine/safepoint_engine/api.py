"""The engine's HTTP routes: Camunda 7's ``/engine-rest`` paths, translated to service calls.

Routes only translate: query parameters and bodies (Camunda's names, typed variables)
into :class:`~safepoint_engine.service.EngineService` calls, and the results into
Camunda's JSON. Errors are mapped to statuses in one table, in ``app.py``. The routes
are plain ``def`` functions: FastAPI runs them in its thread pool, since the engine is
synchronous.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from safepoint.contract import TypedValue, from_typed, to_typed
from safepoint.core.deployments import ProcessDefinition
from safepoint.errors import NotFound
from safepoint_engine.queries import (
    ExternalTaskQuery,
    HistoricActivityInstanceQuery,
    HistoricProcessInstanceQuery,
    IncidentQuery,
    JobQuery,
    ProcessDefinitionQuery,
    ProcessInstanceQuery,
    TaskQuery,
)
from safepoint_engine.schemas import (
    ActivityInstanceDto,
    CompleteExternalTaskDto,
    CompleteTaskDto,
    CorrelationMessageDto,
    ExceptionDto,
    ExternalTaskBpmnErrorDto,
    ExternalTaskDto,
    ExternalTaskFailureDto,
    HealthDto,
    HistoricActivityInstanceDto,
    HistoricProcessInstanceDto,
    IncidentDto,
    JobDto,
    LinkDto,
    ProcessDefinitionDiagramDto,
    ProcessDefinitionDto,
    ProcessInstanceDto,
    ProcessInstanceWithVariablesDto,
    RetriesDto,
    StartProcessInstanceDto,
    TaskDto,
)
from safepoint_engine.service import EngineService, Unsupported

BASE_PATH = "/engine-rest"
"""Where Camunda's REST API lives; clients are configured with it."""

T = TypeVar("T")

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ExceptionDto, "description": "Invalid request"},
    404: {"model": ExceptionDto, "description": "Not found"},
    500: {"model": ExceptionDto, "description": "The command failed; nothing was committed"},
}

health = APIRouter(tags=["Health"])
router = APIRouter(prefix=BASE_PATH, responses=_ERRORS)


def get_service(request: Request) -> EngineService:
    """The service the lifespan opened (FastAPI dependency)."""
    service: EngineService = request.app.state.service
    return service


Service = Annotated[EngineService, Depends(get_service)]
FirstResult = Annotated[int | None, Query(alias="firstResult", ge=0)]
MaxResults = Annotated[int | None, Query(alias="maxResults", ge=0)]


def _page(items: Sequence[T], first_result: int | None, max_results: int | None) -> list[T]:
    """Camunda's paging: skip ``firstResult`` items, return at most ``maxResults``."""
    start = first_result or 0
    end = None if max_results is None else start + max_results
    return list(items[start:end])


def _links(request: Request, path: str) -> list[LinkDto]:
    """The ``self`` link of a resource under ``/engine-rest``."""
    base = str(request.base_url).rstrip("/")
    return [LinkDto(method="GET", href=f"{base}{BASE_PATH}{path}", rel="self")]


def _no_content() -> Response:
    return Response(status_code=204)


# --------------------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------------------


@health.get("/health", response_model=HealthDto, summary="Liveness")
def liveness() -> HealthDto:
    """The process is up and serving HTTP."""
    return HealthDto(status="UP")


@health.get(
    "/health/ready",
    response_model=HealthDto,
    responses={503: {"model": HealthDto, "description": "The database is not reachable"}},
    summary="Readiness",
)
def readiness(service: Service) -> HealthDto | JSONResponse:
    """The service can take requests: its database answers."""
    try:
        service.check_database()
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        body = HealthDto(status="DOWN", database="DOWN", message=str(exc))
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return HealthDto(status="UP", database="UP")


# --------------------------------------------------------------------------------------
# Process definitions
# --------------------------------------------------------------------------------------


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
    return [ProcessDefinitionDto.of(d) for d in _page(found, first_result, max_results)]


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
def start_process_instance_by_key(
    service: Service, request: Request, key: str, body: StartProcessInstanceDto | None = None
) -> ProcessInstanceDto:
    """Start the latest version of ``key``; it runs up to its first safe points."""
    definition = service.latest_process_definition(key)
    return _start(service, request, definition, body or StartProcessInstanceDto())


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
def start_process_instance(
    service: Service,
    request: Request,
    process_definition_id: str,
    body: StartProcessInstanceDto | None = None,
) -> ProcessInstanceDto:
    """Start this exact process definition version."""
    definition = service.process_definition(process_definition_id)
    return _start(service, request, definition, body or StartProcessInstanceDto())


def _start(
    service: EngineService,
    request: Request,
    definition: ProcessDefinition,
    body: StartProcessInstanceDto,
) -> ProcessInstanceDto:
    instance = service.start_process_instance(
        definition, from_typed(body.variables), body.business_key
    )
    links = _links(request, f"/process-instance/{instance.id}")
    dto = ProcessInstanceDto.of(instance, links)
    if not body.with_variables_in_return:
        return dto
    variables = to_typed(service.variables_after_command(instance.id))
    return ProcessInstanceWithVariablesDto(**dto.model_dump(), variables=variables)


# --------------------------------------------------------------------------------------
# Process instances
# --------------------------------------------------------------------------------------


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
    found = _page(service.process_instances(query), first_result, max_results)
    return [ProcessInstanceDto.of(i, _links(request, f"/process-instance/{i.id}")) for i in found]


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
    return ProcessInstanceDto.of(instance, _links(request, f"/process-instance/{instance.id}"))


@router.delete(
    "/process-instance/{process_instance_id}",
    status_code=204,
    response_class=Response,
    tags=["Process Instance"],
)
def delete_process_instance(
    service: Service,
    process_instance_id: str,
    skip_custom_listeners: Annotated[bool, Query(alias="skipCustomListeners")] = False,
    skip_io_mappings: Annotated[bool, Query(alias="skipIoMappings")] = False,
    fail_if_not_exists: Annotated[bool, Query(alias="failIfNotExists")] = True,
) -> Response:
    """Cancel a running instance; its end listeners and output mappings run."""
    if skip_custom_listeners or skip_io_mappings:
        raise Unsupported("skipCustomListeners and skipIoMappings are not supported yet")
    service.delete_process_instance(process_instance_id, fail_if_not_exists=fail_if_not_exists)
    return _no_content()


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


# --------------------------------------------------------------------------------------
# Jobs and incidents
# --------------------------------------------------------------------------------------


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
    return [JobDto.of(job) for job in _page(service.jobs(query), first_result, max_results)]


@router.get("/job/{job_id}", response_model=JobDto, tags=["Job"])
def get_job(service: Service, job_id: str) -> JobDto:
    """One job by id."""
    return JobDto.of(service.job(job_id))


@router.post("/job/{job_id}/execute", status_code=204, response_class=Response, tags=["Job"])
def execute_job(service: Service, job_id: str) -> Response:
    """Run the job now; on failure its retries, stack trace and incident are recorded (500)."""
    service.execute_job(job_id)
    return _no_content()


@router.put("/job/{job_id}/retries", status_code=204, response_class=Response, tags=["Job"])
def set_job_retries(service: Service, job_id: str, body: RetriesDto) -> Response:
    """Set the job's retries; a positive count resolves its ``failedJob`` incident."""
    service.set_job_retries(job_id, body.retries)
    return _no_content()


@router.get(
    "/job/{job_id}/stacktrace",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
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
    found = _page(service.incidents(query), first_result, max_results)
    return [IncidentDto.of(incident) for incident in found]


# --------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------


@router.post("/message", status_code=204, response_class=Response, tags=["Message"])
def correlate_message(service: Service, body: CorrelationMessageDto) -> Response:
    """Deliver a message to the one execution waiting for it (400 if none or several)."""
    unsupported = [
        name
        for name, given in (
            ("processVariablesLocal", bool(body.process_variables_local)),
            ("correlationKeys", bool(body.correlation_keys)),
            ("localCorrelationKeys", bool(body.local_correlation_keys)),
            ("processInstanceId", body.process_instance_id is not None),
            ("tenantId", body.tenant_id is not None),
            ("all", body.all),
            ("resultEnabled", body.result_enabled),
            ("variablesInResultEnabled", body.variables_in_result_enabled),
        )
        if given
    ]
    if unsupported:
        raise Unsupported(
            f"message correlation by messageName and businessKey only: "
            f"{', '.join(unsupported)} not supported yet"
        )
    service.correlate_message(
        body.message_name, body.business_key, from_typed(body.process_variables)
    )
    return _no_content()


# --------------------------------------------------------------------------------------
# User tasks
# --------------------------------------------------------------------------------------


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
    return [TaskDto.of(task) for task in _page(service.tasks(query), first_result, max_results)]


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
def complete_task(service: Service, task_id: str, body: CompleteTaskDto | None = None) -> Response:
    """Complete the task and continue the instance to its next safe points (204)."""
    body = body or CompleteTaskDto()
    task = service.complete_task(task_id, from_typed(body.variables))
    if not body.with_variables_in_return:
        return _no_content()
    variables = to_typed(service.variables_after_command(task.process_instance_id))
    return JSONResponse({name: value.model_dump(mode="json") for name, value in variables.items()})


# --------------------------------------------------------------------------------------
# External tasks
# --------------------------------------------------------------------------------------


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
    found = _page(service.external_tasks(query), first_result, max_results)
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
def complete_external_task(
    service: Service, external_task_id: str, body: CompleteExternalTaskDto
) -> Response:
    """Complete the external task for ``workerId`` and continue the instance."""
    if body.local_variables:
        raise Unsupported("localVariables are not supported yet; send them as variables")
    service.complete_external_task(external_task_id, body.worker_id, from_typed(body.variables))
    return _no_content()


@router.post(
    "/external-task/{external_task_id}/failure",
    status_code=204,
    response_class=Response,
    tags=["External Task"],
)
def handle_external_task_failure(
    service: Service, external_task_id: str, body: ExternalTaskFailureDto
) -> Response:
    """Report a worker's failure: the task comes back after ``retryTimeout`` ms.

    At 0 ``retries`` (the default, as in Camunda) it does not, and a
    ``failedExternalTask`` incident opens.
    """
    service.handle_external_task_failure(
        external_task_id,
        body.worker_id,
        error_message=body.error_message,
        error_details=body.error_details,
        retries=body.retries,
        retry_timeout=timedelta(milliseconds=body.retry_timeout),
    )
    return _no_content()


@router.post(
    "/external-task/{external_task_id}/bpmnError",
    status_code=204,
    response_class=Response,
    tags=["External Task"],
)
def handle_external_task_bpmn_error(
    service: Service, external_task_id: str, body: ExternalTaskBpmnErrorDto
) -> Response:
    """Report a business error; with no error boundary event to catch it, an incident opens."""
    service.handle_external_task_bpmn_error(
        external_task_id,
        body.worker_id,
        error_code=body.error_code,
        error_message=body.error_message,
        variables=from_typed(body.variables),
    )
    return _no_content()


@router.put(
    "/external-task/{external_task_id}/retries",
    status_code=204,
    response_class=Response,
    tags=["External Task"],
)
def set_external_task_retries(
    service: Service, external_task_id: str, body: RetriesDto
) -> Response:
    """Set the task's retries; a positive count resolves its ``failedExternalTask`` incident."""
    service.set_external_task_retries(external_task_id, body.retries)
    return _no_content()


# --------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------


@router.get(
    "/history/process-instance",
    response_model=list[HistoricProcessInstanceDto],
    tags=["Historic Process Instance"],
)
def list_historic_process_instances(
    service: Service,
    process_instance_id: Annotated[str | None, Query(alias="processInstanceId")] = None,
    process_definition_id: Annotated[str | None, Query(alias="processDefinitionId")] = None,
    process_definition_key: Annotated[str | None, Query(alias="processDefinitionKey")] = None,
    business_key: Annotated[str | None, Query(alias="processInstanceBusinessKey")] = None,
    finished: bool = False,
    unfinished: bool = False,
    first_result: FirstResult = None,
    max_results: MaxResults = None,
) -> list[HistoricProcessInstanceDto]:
    """Process instances, running and ended, oldest first."""
    query = HistoricProcessInstanceQuery(
        process_instance_id=process_instance_id,
        process_definition_id=process_definition_id,
        process_definition_key=process_definition_key,
        business_key=business_key,
        finished=finished,
        unfinished=unfinished,
    )
    found = _page(service.historic_process_instances(query), first_result, max_results)
    return [HistoricProcessInstanceDto.of(historic) for historic in found]


@router.get(
    "/history/process-instance/{process_instance_id}",
    response_model=HistoricProcessInstanceDto,
    tags=["Historic Process Instance"],
)
def get_historic_process_instance(
    service: Service, process_instance_id: str
) -> HistoricProcessInstanceDto:
    """One process instance, running or ended."""
    return HistoricProcessInstanceDto.of(service.historic_process_instance(process_instance_id))


@router.get(
    "/history/activity-instance",
    response_model=list[HistoricActivityInstanceDto],
    responses={501: {"model": ExceptionDto, "description": "processInstanceId missing"}},
    tags=["Historic Activity Instance"],
)
def list_historic_activity_instances(
    service: Service,
    process_instance_id: Annotated[str | None, Query(alias="processInstanceId")] = None,
    activity_id: Annotated[str | None, Query(alias="activityId")] = None,
    activity_type: Annotated[str | None, Query(alias="activityType")] = None,
    finished: bool = False,
    unfinished: bool = False,
    canceled: bool = False,
    first_result: FirstResult = None,
    max_results: MaxResults = None,
) -> list[HistoricActivityInstanceDto]:
    """The activity instances of a process instance, in the order they started."""
    query = HistoricActivityInstanceQuery(
        process_instance_id=process_instance_id,
        activity_id=activity_id,
        activity_type=activity_type,
        finished=finished,
        unfinished=unfinished,
        canceled=canceled,
    )
    history = service.historic_activity_instances(query)
    instance = history.instance
    if instance is None:
        return []
    found = _page(history.activities, first_result, max_results)
    return [HistoricActivityInstanceDto.of(activity, instance) for activity in found]
