"""The deployer's HTTP routes: Camunda 7's ``/engine-rest/deployment`` paths.

Routes only translate: the multipart form of ``deployment/create`` (Camunda's part names)
and query parameters into :class:`~safepoint_deployer.service.DeployerService` calls, and
the results into Camunda's JSON. Errors are mapped to statuses in one table, in
``app.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from safepoint.contract.base import parse_date
from safepoint.errors import BadUserRequest
from safepoint_deployer.schemas import (
    DeploymentDto,
    DeploymentWithDefinitionsDto,
    ExceptionDto,
    HealthDto,
    LinkDto,
    ParseExceptionDto,
)
from safepoint_deployer.service import DeployerService, DeploymentQuery, Unsupported

BASE_PATH = "/engine-rest"
"""Where Camunda's REST API lives; clients are configured with it."""

DEPLOYMENT_NAME = "deployment-name"
DEPLOYMENT_SOURCE = "deployment-source"
DUPLICATE_FILTERING = "enable-duplicate-filtering"
CHANGED_ONLY = "deploy-changed-only"
TENANT_ID = "tenant-id"
ACTIVATION_TIME = "deployment-activation-time"
RESERVED_PARTS = frozenset(
    {
        DEPLOYMENT_NAME,
        DEPLOYMENT_SOURCE,
        DUPLICATE_FILTERING,
        CHANGED_ONLY,
        TENANT_ID,
        ACTIVATION_TIME,
    }
)
"""The form parts of ``deployment/create`` that are options; every other part is a resource."""

MAX_PARTS = 1000
"""The most form parts (resources and options) one deployment may have."""

T = TypeVar("T")

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ExceptionDto, "description": "Invalid request"},
    404: {"model": ExceptionDto, "description": "Not found"},
    500: {"model": ExceptionDto, "description": "The database failed; nothing was committed"},
    501: {"model": ExceptionDto, "description": "An option Safepoint does not support"},
}

_CREATE_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        DEPLOYMENT_NAME: {"type": "string"},
                        DEPLOYMENT_SOURCE: {"type": "string"},
                        DUPLICATE_FILTERING: {"type": "boolean", "default": False},
                        CHANGED_ONLY: {"type": "boolean", "default": False},
                        "data": {
                            "type": "string",
                            "format": "binary",
                            "description": "a resource (e.g. invoice.bpmn); any part that "
                            "is not an option is a resource named by its file name",
                        },
                    },
                }
            }
        },
    }
}

health = APIRouter(tags=["Health"])
router = APIRouter(prefix=BASE_PATH, tags=["Deployment"], responses=_ERRORS)


async def get_service(request: Request) -> DeployerService:
    """The service the lifespan opened (FastAPI dependency).

    ``async`` so that FastAPI calls it on the event loop, not in a worker thread.
    """
    service: DeployerService = request.app.state.service
    return service


async def get_max_resource_bytes(request: Request) -> int:
    """The largest resource a deployment may hold (from the settings)."""
    limit: int = request.app.state.max_resource_bytes
    return limit


Service = Annotated[DeployerService, Depends(get_service)]


def _page(items: Sequence[T], first_result: int | None, max_results: int | None) -> list[T]:
    """Camunda's paging: skip ``firstResult`` items, return at most ``maxResults``."""
    start = first_result or 0
    end = None if max_results is None else start + max_results
    return list(items[start:end])


def _links(request: Request, deployment_id: str) -> list[LinkDto]:
    base = str(request.base_url).rstrip("/")
    return [LinkDto(method="GET", href=f"{base}{BASE_PATH}/deployment/{deployment_id}", rel="self")]


def _flag(value: str | None, part: str) -> bool:
    """A boolean form part: ``true`` or ``false`` (any case); missing is false."""
    if value is None or value.strip().lower() == "false":
        return False
    if value.strip().lower() == "true":
        return True
    raise BadUserRequest(f"form part {part!r} must be true or false, not {value!r}")


def _date(value: str | None, parameter: str) -> datetime | None:
    """A date query parameter in Camunda's format (an offset is required)."""
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:  # parse_date's errors, out of range included
        raise BadUserRequest(f"query parameter {parameter!r}: {exc}") from exc


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
# Deployments
# --------------------------------------------------------------------------------------


@router.post(
    "/deployment/create",
    response_model=DeploymentWithDefinitionsDto,
    responses={400: {"model": ParseExceptionDto, "description": "Invalid BPMN or form"}},
    openapi_extra=_CREATE_FORM,
)
async def create_deployment(
    request: Request,
    service: Service,
    max_resource_bytes: Annotated[int, Depends(get_max_resource_bytes)],
) -> DeploymentWithDefinitionsDto:
    """Deploy BPMN resources (multipart, as Camunda's clients send them).

    Every part that is not an option (``deployment-name``, ``deployment-source``,
    ``enable-duplicate-filtering``, ``deploy-changed-only``) is a resource named by its
    file name (its part name when it has none). Invalid BPMN is answered with 400 and
    every problem.
    """
    options: dict[str, str] = {}
    resources: dict[str, bytes] = {}
    async with request.form(max_files=MAX_PARTS, max_fields=MAX_PARTS) as form:
        for part, value in form.multi_items():
            if isinstance(value, UploadFile):
                if part in RESERVED_PARTS:
                    raise BadUserRequest(f"form part {part!r} must be text, not a file")
                resource = value.filename or part
                if resource in resources:
                    raise BadUserRequest(f"the deployment holds two resources named {resource!r}")
                content = await value.read(max_resource_bytes + 1)
                if len(content) > max_resource_bytes:
                    raise BadUserRequest(
                        f"resource {resource!r} is larger than {max_resource_bytes} bytes"
                    )
                resources[resource] = content
            elif part in RESERVED_PARTS:
                options[part] = value
            else:
                raise BadUserRequest(
                    f"No file name found in the deployment resource described by form "
                    f"parameter {part!r}."
                )
    if options.get(TENANT_ID):
        raise Unsupported("tenants are not supported: leave out tenant-id")
    if options.get(ACTIVATION_TIME):
        raise Unsupported("deployment-activation-time is not supported yet")
    if not resources:
        raise BadUserRequest("No deployment resources contained in the form upload.")
    result = await run_in_threadpool(
        service.create,
        options.get(DEPLOYMENT_NAME) or None,
        resources,
        duplicate_filtering=_flag(options.get(DUPLICATE_FILTERING), DUPLICATE_FILTERING),
        changed_only=_flag(options.get(CHANGED_ONLY), CHANGED_ONLY),
    )
    return DeploymentWithDefinitionsDto.created(
        result.deployment, _links(request, result.deployment.id), new=result.created
    )


@router.get("/deployment", response_model=list[DeploymentDto])
def list_deployments(
    service: Service,
    request: Request,
    deployment_id: Annotated[str | None, Query(alias="id")] = None,
    name: str | None = None,
    name_like: Annotated[str | None, Query(alias="nameLike")] = None,
    source: str | None = None,
    without_source: Annotated[bool, Query(alias="withoutSource")] = False,
    after: Annotated[str | None, Query(description="e.g. 2026-01-01T10:00:00.000+0000")] = None,
    before: Annotated[str | None, Query(description="e.g. 2026-01-01T10:00:00.000+0000")] = None,
    sort_by: Annotated[str | None, Query(alias="sortBy")] = None,
    sort_order: Annotated[str | None, Query(alias="sortOrder", pattern="^(asc|desc)$")] = None,
    first_result: Annotated[int | None, Query(alias="firstResult", ge=0)] = None,
    max_results: Annotated[int | None, Query(alias="maxResults", ge=0)] = None,
) -> list[DeploymentDto]:
    """Deployments, oldest first unless ``sortBy`` (id, name, deploymentTime) says otherwise."""
    if (sort_by is None) != (sort_order is None):  # Camunda asks for both or neither
        raise BadUserRequest(
            "Only a single sorting parameter specified. sortBy and sortOrder required"
        )
    query = DeploymentQuery(
        deployment_id=deployment_id,
        name=name,
        name_like=name_like,
        source=source,
        without_source=without_source,
        after=_date(after, "after"),
        before=_date(before, "before"),
        sort_by=sort_by,
        descending=sort_order == "desc",
    )
    found = _page(service.deployments(query), first_result, max_results)
    return [DeploymentDto.of(d, _links(request, d.id)) for d in found]


@router.get("/deployment/{deployment_id}", response_model=DeploymentDto)
def get_deployment(service: Service, request: Request, deployment_id: str) -> DeploymentDto:
    """One deployment by id."""
    return DeploymentDto.of(service.deployment(deployment_id), _links(request, deployment_id))


@router.delete(
    "/deployment/{deployment_id}",
    status_code=204,
    response_class=Response,
    responses={409: {"model": ExceptionDto, "description": "Running instances, no cascade"}},
)
def delete_deployment(
    service: Service,
    deployment_id: str,
    cascade: bool = False,
    skip_custom_listeners: Annotated[bool, Query(alias="skipCustomListeners")] = False,
    skip_io_mappings: Annotated[bool, Query(alias="skipIoMappings")] = False,
) -> Response:
    """Delete a deployment; ``cascade=true`` cancels its running instances first (else 409)."""
    if skip_custom_listeners or skip_io_mappings:
        raise Unsupported("skipCustomListeners and skipIoMappings are not supported yet")
    service.delete(deployment_id, cascade=cascade)
    return Response(status_code=204)
