"""What the route modules share: base path, error responses, the service, paging, links."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from safepoint.messaging.outbox import OutboxRelay
from safepoint_engine.schemas import ExceptionDto, LinkDto
from safepoint_engine.service import EngineService

BASE_PATH = "/engine-rest"
"""Where Camunda's REST API lives; clients are configured with it."""

T = TypeVar("T")
P = ParamSpec("P")

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


async def get_service(request: Request) -> EngineService:
    """The service the lifespan opened (FastAPI dependency).

    ``async`` only so that FastAPI calls it on the event loop: it would run a plain
    function in a worker thread, a thread hand-off there and back on every request.
    """
    service: EngineService = request.app.state.service
    return service


Service = Annotated[EngineService, Depends(get_service)]


class CommandRunner:
    """Runs engine commands in worker threads for async routes; publishes what they commit.

    With messaging, the outbox relay is the engine's ``on_commit`` hook: from a worker
    thread it would hand each commit's publishing to the event loop and wait there for
    the confirms, two thread hand-offs more per command. Here the thread only collects
    the committed outcomes and the event loop publishes them once the thread returns,
    before the answer goes out, as the hook would have (:meth:`OutboxRelay.run_deferred`;
    what committed is published even when the command fails afterwards). A route that
    runs this way is ``async``: FastAPI would otherwise run it in a thread of its own and
    validate its answer in another.

    Args:
        relay: the outbox relay; ``None`` for an engine without messaging (HTTP only),
            whose commands run as they are.
    """

    def __init__(self, relay: OutboxRelay | None) -> None:
        self._relay = relay

    async def __call__(self, command: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``command(*args, **kwargs)`` in a worker thread (the context carried over)."""
        if self._relay is None:
            return await run_in_threadpool(command, *args, **kwargs)
        return await self._relay.run_deferred(run_in_threadpool, partial(command, *args, **kwargs))


async def get_commands(request: Request) -> CommandRunner:
    """The command runner the lifespan made (FastAPI dependency)."""
    runner: CommandRunner = request.app.state.commands
    return runner


Commands = Annotated[CommandRunner, Depends(get_commands)]
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
