"""The job-executor's small HTTP server: liveness, readiness and Prometheus metrics.

It runs in the same event loop as the consumer (:class:`HttpServer`, a uvicorn server
that leaves the signals to the service: a SIGTERM stops the consumer first, then this).

- ``GET /health``: liveness, 200 while the process serves HTTP.
- ``GET /ready`` (also ``/health/ready``, as the engine names it): 200 when the broker
  is connected and consuming and the database answers, else 503 saying which is down.
- ``GET /metrics``: Prometheus text format (see :mod:`safepoint_job_executor.metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Generator
from typing import Literal

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

import safepoint_job_executor
from safepoint import tracing
from safepoint_job_executor.metrics import CONTENT_TYPE, JobMetrics

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
"""One readiness check: whether a dependency (broker, database) is usable now."""

CHECK_TIMEOUT = 2.0
"""Seconds a readiness check may take before it counts as down."""

Status = Literal["UP", "DOWN"]


class HealthDto(BaseModel):
    """Whether the job-executor (and, for readiness, each dependency) is up."""

    status: Status = Field(examples=["UP"])
    broker: Status | None = Field(default=None, examples=["UP"])
    database: Status | None = Field(default=None, examples=["UP"])


async def _check(check: ReadinessCheck) -> Status:
    try:
        up = await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except Exception as exc:  # a failing or slow check means "down", whatever the cause
        logger.warning("readiness check failed: %r", exc)
        return "DOWN"
    return "UP" if up else "DOWN"


def create_app(*, broker: ReadinessCheck, database: ReadinessCheck, metrics: JobMetrics) -> FastAPI:
    """The job-executor's HTTP application.

    Args:
        broker: whether the consumer is connected and consuming.
        database: whether the database answers.
        metrics: the counters ``/metrics`` renders.
    """
    app = FastAPI(
        title="Safepoint job-executor",
        version=safepoint_job_executor.__version__,
        description="Health, readiness and metrics of a Safepoint job-executor.",
    )

    @app.get("/health", response_model=HealthDto, summary="Liveness", tags=["Health"])
    async def liveness() -> HealthDto:
        """The process is up and serving HTTP."""
        return HealthDto(status="UP")

    @app.get(
        "/ready",
        response_model=HealthDto,
        responses={503: {"model": HealthDto, "description": "The broker or database is down"}},
        summary="Readiness",
        tags=["Health"],
    )
    @app.get("/health/ready", response_model=HealthDto, include_in_schema=False)
    async def readiness() -> HealthDto | JSONResponse:
        """Jobs can be run: the broker is connected and consuming, the database answers."""
        broker_status, database_status = await asyncio.gather(_check(broker), _check(database))
        up = broker_status == "UP" and database_status == "UP"
        body = HealthDto(
            status="UP" if up else "DOWN", broker=broker_status, database=database_status
        )
        if up:
            return body
        return JSONResponse(body.model_dump(mode="json"), status_code=503)

    @app.get("/metrics", summary="Prometheus metrics", tags=["Metrics"])
    async def prometheus_metrics() -> Response:
        """Jobs executed, failed, dead-lettered, dropped, conflicting and in flight."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    tracing.instrument_app(app)
    return app


class HttpServer(uvicorn.Server):
    """A uvicorn server that installs no signal handlers: the service owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Leave SIGTERM and SIGINT to the service, which stops this server itself."""
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, to hand to :meth:`HttpServer.serve`.

    Binding before serving turns a port in use into a plain ``OSError`` at start-up.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def http_server(app: FastAPI, *, log_level: str) -> HttpServer:
    """A server for ``app`` that uses the service's logging and logs no access lines."""
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level=log_level.lower(),
        access_log=False,
        lifespan="off",
    )
    return HttpServer(config)


def serve(server: HttpServer, sock: socket.socket) -> asyncio.Task[None]:
    """Serve on ``sock`` in a task of the running loop; stop with ``server.should_exit``."""
    return asyncio.get_running_loop().create_task(server.serve(sockets=[sock]), name="http")
