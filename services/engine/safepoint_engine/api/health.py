"""Routes for health: liveness and readiness (outside ``/engine-rest``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from safepoint_engine.api.common import Service
from safepoint_engine.schemas import HealthDto

router = APIRouter(tags=["Health"])


@router.get("/health", response_model=HealthDto, summary="Liveness")
def liveness() -> HealthDto:
    """The process is up and serving HTTP."""
    return HealthDto(status="UP")


@router.get(
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
