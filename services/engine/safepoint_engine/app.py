"""The engine's FastAPI application: lifespan, routes and the one error → status table."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

import safepoint_engine
from safepoint import eventloop, metrics, tracing
from safepoint.core.context import EngineConfig
from safepoint.embedded import CommandOutcome, Engine, utc_now
from safepoint.errors import (
    BadUserRequest,
    BpmnParseError,
    ContractViolation,
    NotFound,
    OptimisticLockError,
    SafepointError,
)
from safepoint.registry import load_delegates
from safepoint.rest import (
    BodyLimitMiddleware,
    ErrorMapping,
    TraceContextMiddleware,
    add_error_handlers,
    error_mapping,
    log_answered_error,
)
from safepoint_engine.api import health, router
from safepoint_engine.api.common import CommandRunner
from safepoint_engine.messaging_runtime import MessagingOptions, MessagingRuntime
from safepoint_engine.observability import count_open_incidents
from safepoint_engine.service import CommandFailed, EngineService, Unsupported
from safepoint_engine.settings import Settings

logger = logging.getLogger(__name__)


ERRORS: tuple[ErrorMapping, ...] = (
    ErrorMapping(NotFound, 404, "InvalidRequestException"),
    ErrorMapping(BpmnParseError, 400, "ParseException"),
    ErrorMapping(BadUserRequest, 400, "InvalidRequestException"),
    ErrorMapping(ContractViolation, 400, "InvalidRequestException"),
    ErrorMapping(OptimisticLockError, 409, "OptimisticLockingException"),
    ErrorMapping(Unsupported, 501, "UnsupportedOperationException"),
    ErrorMapping(CommandFailed, 500, "RestException"),
    ErrorMapping(SafepointError, 500, "ProcessEngineException"),
)
"""Every error the API answers, most specific first: the first ``isinstance`` match wins."""


async def _safepoint_error(request: Request, exc: Exception) -> JSONResponse:
    mapping = error_mapping(ERRORS, exc)
    log_answered_error(
        logger, request, exc, mapping.status, user_code=isinstance(exc, CommandFailed)
    )
    return JSONResponse({"type": mapping.type, "message": str(exc)}, status_code=mapping.status)


def open_engine(
    settings: Settings,
    delegates: Mapping[str, object],
    *,
    clock: Callable[[], datetime] = utc_now,
    on_commit: Callable[[CommandOutcome], None] | None = None,
    job_lease: timedelta | None = None,
    node_name: str = "engine",
) -> Engine:
    """The embedded engine the service runs on, as ``settings`` describe it.

    The schema is migrated first when ``settings.database.migrate`` is on. With
    messaging, ``on_commit`` is the outbox relay and new jobs are leased to
    ``node_name`` for ``job_lease`` (the dispatcher republishes them after that).
    """
    return Engine(
        settings.database.url,
        delegates=delegates,
        clock=clock,
        config=EngineConfig(
            default_retries=settings.engine.default_retries,
            failed_job_retry_time_cycle=settings.engine.failed_job_retry_time_cycle,
        ),
        migrate=settings.database.migrate,
        on_commit=on_commit,
        pool_size=settings.database.pool_size,
        job_lease=job_lease,
        node_name=node_name,
        definition_cache_size=settings.engine.definition_cache_size,
    )


def create_app(
    settings: Settings,
    *,
    delegates: Mapping[str, object] | None = None,
    clock: Callable[[], datetime] = utc_now,
    on_commit: Callable[[CommandOutcome], None] | None = None,
    messaging: bool | None = None,
) -> FastAPI:
    """The engine service's application.

    Args:
        settings: built once by ``__main__`` (or a test).
        delegates: the delegate registry; loaded from ``settings.delegates`` (entry
            points and ``SAFEPOINT_DELEGATES_MODULE``) when not given.
        clock: the current aware time (a ``ManualClock`` in tests).
        on_commit: the outbox hook, called after each committed command with what it
            created (jobs to publish...); ``None`` publishes nothing. With messaging
            on, the outbox relay takes this place.
        messaging: connect to RabbitMQ, publish what commands create, consume
            ``safepoint.commands`` and run the dispatcher (default:
            ``settings.messaging.enabled``); off for an HTTP-only engine.
    """
    use_messaging = settings.messaging.enabled if messaging is None else messaging

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = load_delegates(settings.delegates) if delegates is None else dict(delegates)
        options = settings.messaging
        node_name = options.node_name or f"engine@{socket.gethostname()}:{os.getpid()}"
        runtime: MessagingRuntime | None = None
        hook = on_commit
        if use_messaging:
            # Engine calls run in worker threads: enough of them for every prefetched command.
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(options.commands_prefetch + 8, thread_name_prefix="engine")
            )
            runtime = await MessagingRuntime.connect(
                MessagingOptions(
                    amqp_url=settings.amqp.url,
                    connection_name=node_name,
                    commands_prefetch=options.commands_prefetch,
                    dispatch_interval=options.dispatch_interval,
                    dispatch_batch=options.dispatch_batch,
                    command_retention=timedelta(seconds=options.command_retention),
                )
            )
            hook = runtime.relay
        engine: Engine | None = None
        try:
            engine = open_engine(
                settings,
                registry,
                clock=clock,
                on_commit=hook,
                job_lease=timedelta(seconds=options.job_lease) if runtime else None,
                node_name=node_name,
            )
            if runtime is not None:
                await runtime.start(engine)
        except BaseException:
            if runtime is not None:
                await runtime.stop()
            if engine is not None:
                engine.close()
            raise
        service = EngineService(engine, engine.store, clock)
        store = engine.store
        incidents_open = metrics.track_incidents_open(lambda: count_open_incidents(store))
        app.state.service = service
        app.state.messaging = runtime
        app.state.commands = CommandRunner(runtime.relay if runtime is not None else None)
        logger.info(
            "engine service ready with %d delegates on the %s event loop%s",
            len(registry),
            eventloop.loop_name(asyncio.get_running_loop()),
            ", consuming commands and dispatching jobs" if runtime else " (HTTP only)",
        )
        try:
            yield
        finally:
            metrics.untrack(incidents_open)
            if runtime is not None:
                await runtime.stop()  # before the engine closes
            service.close()

    app = FastAPI(
        title="Safepoint engine",
        version=safepoint_engine.__version__,
        description="Camunda 7 compatible REST API (`/engine-rest`) of the Safepoint engine: "
        "process definitions, process instances, jobs, incidents, messages, user and "
        "external tasks, history.",
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
    """Prometheus text format: :mod:`safepoint.metrics` (and the process's own).

    Rendered in a worker thread: ``safepoint_incidents_open`` may query the database.
    """
    return Response(await asyncio.to_thread(metrics.render), media_type=metrics.CONTENT_TYPE)
