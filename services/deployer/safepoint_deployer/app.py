"""The deployer's FastAPI application: lifespan, routes and the one error → status table."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

import safepoint_deployer
from safepoint import eventloop, metrics, tracing
from safepoint.embedded import CommandOutcome, Engine, utc_now
from safepoint.errors import (
    BadUserRequest,
    BpmnParseError,
    NotFound,
    OptimisticLockError,
    SafepointError,
)
from safepoint.persistence.store import Store
from safepoint.registry import load_delegates
from safepoint.rest import (
    BodyLimitMiddleware,
    ErrorMapping,
    TraceContextMiddleware,
    add_error_handlers,
    error_mapping,
    log_answered_error,
)
from safepoint_deployer.api import health, router
from safepoint_deployer.events import EventPublisher
from safepoint_deployer.schemas import ParseExceptionDto
from safepoint_deployer.service import (
    CommandFailed,
    DeployerService,
    DeploymentInUse,
    DeploymentListener,
    Unsupported,
)
from safepoint_deployer.settings import Settings

logger = logging.getLogger(__name__)


ERRORS: tuple[ErrorMapping, ...] = (
    ErrorMapping(NotFound, 404, "InvalidRequestException"),
    ErrorMapping(BpmnParseError, 400, "ParseException"),
    ErrorMapping(DeploymentInUse, 409, "ProcessEngineException"),
    ErrorMapping(BadUserRequest, 400, "InvalidRequestException"),
    ErrorMapping(OptimisticLockError, 409, "OptimisticLockingException"),
    ErrorMapping(Unsupported, 501, "UnsupportedOperationException"),
    ErrorMapping(CommandFailed, 500, "RestException"),
    ErrorMapping(SafepointError, 500, "ProcessEngineException"),
)
"""Every error the API answers, most specific first: the first ``isinstance`` match wins.

A ``BpmnParseError`` carries every problem: ``problems`` (flat, with resource, line and
element id) and ``details`` (per resource, Camunda's ``ParseException`` form).
"""


async def _safepoint_error(request: Request, exc: Exception) -> JSONResponse:
    mapping = error_mapping(ERRORS, exc)
    if isinstance(exc, BpmnParseError):
        body = ParseExceptionDto.of(str(exc), exc.problems)
        return JSONResponse(body.model_dump(mode="json"), status_code=mapping.status)
    log_answered_error(
        logger, request, exc, mapping.status, user_code=isinstance(exc, CommandFailed)
    )
    return JSONResponse({"type": mapping.type, "message": str(exc)}, status_code=mapping.status)


def create_app(
    settings: Settings,
    *,
    delegates: Mapping[str, object] | None = None,
    clock: Callable[[], datetime] = utc_now,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    on_deployed: DeploymentListener | None = None,
    on_commit: Callable[[CommandOutcome], None] | None = None,
    publish_events: bool | None = None,
) -> FastAPI:
    """The deployer service's application.

    Args:
        settings: built once by ``__main__`` (or a test).
        delegates: the delegate registry, for the end listeners a cascading delete runs;
            loaded from ``settings.delegates`` when not given.
        clock: the current aware time (a ``ManualClock`` in tests).
        new_id: new unique ids (deployment ids).
        on_deployed: told of each new deployment after its commit: the port of the
            ``deployment.created`` publisher (``None`` publishes nothing).
        on_commit: the outbox hook for the instances a cascading delete cancels.
        publish_events: publish ``deployment.created`` to RabbitMQ (default:
            ``settings.publish_events`` when no ``on_deployed`` is given).
    """
    publish = (
        (on_deployed is None and settings.publish_events)
        if publish_events is None
        else (publish_events)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = load_delegates(settings.delegates) if delegates is None else dict(delegates)
        events: EventPublisher | None = None
        listener = on_deployed
        if publish:
            events = await EventPublisher.connect(settings.amqp.url)
            listener = events.publish_from_thread
        store = Store(settings.database.url, pool_size=settings.database.pool_size)
        if settings.database.migrate:
            store.migrate()
        engine = Engine(
            settings.database.url,
            delegates=registry,
            clock=clock,
            migrate=False,
            on_commit=on_commit,
        )
        service = DeployerService(store, engine, clock=clock, new_id=new_id, on_deployed=listener)
        app.state.service = service
        app.state.max_resource_bytes = settings.max_resource_bytes
        logger.info(
            "deployer service ready on the %s event loop",
            eventloop.loop_name(asyncio.get_running_loop()),
        )
        try:
            yield
        finally:
            service.close()
            if events is not None:
                await events.close()

    app = FastAPI(
        title="Safepoint deployer",
        version=safepoint_deployer.__version__,
        description="Camunda 7 compatible deployment API (`/engine-rest/deployment`) of "
        "Safepoint: deploy BPMN 2.0 files, list and delete deployments.",
        lifespan=lifespan,
    )
    app.include_router(health)
    app.add_api_route(
        "/metrics",
        _metrics,
        methods=["GET"],
        summary="Prometheus metrics",
        tags=["Metrics"],
        include_in_schema=False,
    )
    app.include_router(router)
    app.add_middleware(TraceContextMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.http.max_body_bytes)
    tracing.instrument_app(app)
    add_error_handlers(app, _safepoint_error)
    return app


async def _metrics() -> Response:
    """Prometheus text format: :mod:`safepoint.metrics` (and the process's own)."""
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
