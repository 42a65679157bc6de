"""What the route modules share: base path, error responses, the service, paging, links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request, Response

from safepoint_engine.schemas import ExceptionDto, LinkDto
from safepoint_engine.service import EngineService

BASE_PATH = "/engine-rest"
"""Where Camunda's REST API lives; clients are configured with it."""

T = TypeVar("T")

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ExceptionDto, "description": "Invalid request"},
    404: {"model": ExceptionDto, "description": "Not found"},
    409: {
        "model": ExceptionDto,
        "description": "Another transaction changed the same process instance first; "
        "nothing was committed, try again",
    },
    500: {"model": ExceptionDto, "description": "The command failed; nothing was committed"},
    501: {"model": ExceptionDto, "description": "An option Safepoint does not support"},
}


JSON_ERRORS: dict[int | str, dict[str, object]] = {
    status: {
        "description": error["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ExceptionDto"}}},
    }
    for status, error in ERRORS.items()
}
"""``ERRORS`` for a route whose own answer is not JSON (FastAPI would document its errors
with the route's media type): the errors are JSON all the same."""


def get_service(request: Request) -> EngineService:
    """The service the lifespan opened (FastAPI dependency)."""
    service: EngineService = request.app.state.service
    return service


Service = Annotated[EngineService, Depends(get_service)]
FirstResult = Annotated[int | None, Query(alias="firstResult", ge=0)]
MaxResults = Annotated[int | None, Query(alias="maxResults", ge=0)]


def page(items: Sequence[T], first_result: int | None, max_results: int | None) -> list[T]:
    """Camunda's paging: skip ``firstResult`` items, return at most ``maxResults``."""
    start = first_result or 0
    end = None if max_results is None else start + max_results
    return list(items[start:end])


def links(request: Request, path: str) -> list[LinkDto]:
    """The ``self`` link of a resource under ``/engine-rest``."""
    base = str(request.base_url).rstrip("/")
    return [LinkDto(method="GET", href=f"{base}{BASE_PATH}{path}", rel="self")]


def no_content() -> Response:
    """An empty 204 answer."""
    return Response(status_code=204)
