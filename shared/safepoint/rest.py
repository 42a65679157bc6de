"""What the HTTP services share: error → status mapping, error answers, trace context.

Each service keeps its own table of :class:`ErrorMapping` rows (the errors it can meet
differ); how a table is read, how every other error is answered in Camunda's JSON form
(``{"type": ..., "message": ...}``: request validation, Starlette's own errors such as
an unknown route, and bugs), and how a request's W3C trace context reaches the engine
are the same.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safepoint import tracing
from safepoint.embedded import use_trace_context
from safepoint.errors import SafepointError

ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


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


def log_answered_error(
    logger: logging.Logger, request: Request, exc: Exception, status: int, *, user_code: bool
) -> None:
    """Log an error a service answered, by what it says of the service.

    Failed user code is a warning (a job keeps its own stack trace), an unsupported
    option is told at info, any other 5xx is an error with its trace; a 4xx is not logged.
    """
    if user_code:
        logger.warning("%s %s failed: %s", request.method, request.url.path, exc)
    elif status == 501:  # the client asked for what is not built: no trace
        logger.info("%s %s: %s", request.method, request.url.path, exc)
    elif status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)


def add_error_handlers(app: FastAPI, safepoint_error: ErrorHandler) -> None:
    """Answer every error in Camunda's JSON form; ``safepoint_error`` maps the service's own."""
    app.add_exception_handler(SafepointError, safepoint_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
    _document_validation_errors_as_400(app)


def _error(status: int, type_name: str, message: str, **kwargs: Any) -> JSONResponse:
    return JSONResponse({"type": type_name, "message": message}, status_code=status, **kwargs)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A request that does not match its schema: 400 with every problem, Camunda-style."""
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(error) for error in exc.errors()]
    return _error(400, "InvalidRequestException", "; ".join(problems))


_PARAMETER_KINDS = {"query": "query parameter", "path": "path parameter", "header": "header"}


def _problem(error: Any) -> str:
    """One validation problem in words a client can act on."""
    location = tuple(error.get("loc", ()))
    kind = error.get("type")
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        at = f" at character {location[1]}" if len(location) > 1 else ""
        return (
            f"the body is not valid JSON: {reason}{at}"
            if reason
            else f"the body is not valid JSON{at}"
        )
    if location == ("body",):
        if kind == "missing":
            return "a JSON body is required (Content-Type: application/json)"
        if kind in ("model_attributes_type", "dict_type"):
            return "the body must be a JSON object, sent as Content-Type: application/json"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if location and location[0] in _PARAMETER_KINDS:
        name = ".".join(str(part) for part in location[1:])
        return f"{_PARAMETER_KINDS[location[0]]} {name}: {message}"
    where = ".".join(str(part) for part in location if part != "body")
    return f"{where}: {message}" if where else message


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (no such route, method not allowed, an unreadable body)."""
    assert isinstance(exc, HTTPException)
    status, detail = exc.status_code, str(exc.detail)
    if status == 404 and detail == "Not Found":
        message = f"there is no resource at {request.url.path}"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    elif status == 400 and "parsing the body" in detail:
        message = "the body cannot be read: send JSON (Content-Type: application/json) in UTF-8"
    else:
        message = detail
    type_name = "InvalidRequestException" if status < 500 else "RestException"
    return _error(status, type_name, message, headers=exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: 500 in the same JSON form (Starlette then logs the exception with its trace).

    Only the exception's class is told: its text could quote a statement's data.
    """
    return _error(
        500,
        "ProcessEngineException",
        f"{request.method} {request.url.path} failed unexpectedly "
        f"({type(exc).__name__}); see the service's log",
    )


def _document_validation_errors_as_400(app: FastAPI) -> None:
    """Drop FastAPI's 422 from the OpenAPI document: :func:`validation_error` answers 400."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = schema.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class BodyLimitMiddleware:
    """Answers 413 to a request whose body is larger than ``max_bytes``.

    A declared ``Content-Length`` above the limit is answered before anything is read;
    a body without one (chunked) is counted as the endpoint reads it, and reading past
    the limit ends the request with the same answer. A plain ASGI middleware.

    Args:
        app: the ASGI application it wraps.
        max_bytes: the largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI event; only HTTP requests have a body to limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # answered by http_error
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, counted, send)

    def _message(self) -> str:
        return (
            f"the request body is larger than {self.max_bytes} bytes "
            "(SAFEPOINT_HTTP_MAX_BODY_BYTES)"
        )

    def _too_large(self) -> JSONResponse:
        return _error(413, "InvalidRequestException", self._message())


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
