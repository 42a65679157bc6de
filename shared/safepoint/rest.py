"""What the HTTP services share: error → status mapping, validation errors, trace context.

Each service keeps its own table of :class:`ErrorMapping` rows (the errors it can meet
differ); how a table is read, how request validation errors are answered in Camunda's
JSON form, and how a request's W3C trace context reaches the engine are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from safepoint import tracing
from safepoint.embedded import use_trace_context


@dataclass(frozen=True, slots=True)
class ErrorMapping:
    """How one kind of error is answered: its HTTP status and Camunda's ``type`` name."""

    error: type[Exception]
    status: int
    type: str


def error_mapping(table: Sequence[ErrorMapping], exc: Exception) -> ErrorMapping:
    """The first row of ``table`` ``exc`` is an instance of (500 for anything unknown)."""
    for mapping in table:
        if isinstance(exc, mapping.error):
            return mapping
    return ErrorMapping(Exception, 500, type(exc).__name__)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A request that does not match its schema: 400 with every problem, Camunda-style."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return JSONResponse(
        {"type": "InvalidRequestException", "message": "; ".join(problems)}, status_code=400
    )


class TraceContextMiddleware:
    """Runs each HTTP request under its server span's context (traced), else the one it carries.

    Jobs the request creates store this context, so their spans join the request's trace.
    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` would run every request
    in a task of its own and stream its body through a queue.

    Args:
        app: the ASGI application it wraps.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI event; only HTTP requests get a trace context."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carried = tracing.current_headers() or {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        with use_trace_context(carried):
            await self.app(scope, receive, send)
