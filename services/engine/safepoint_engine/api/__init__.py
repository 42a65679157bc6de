"""The engine's HTTP routes: Camunda 7's ``/engine-rest`` paths, translated to service calls.

Routes only translate: query parameters and bodies (Camunda's names, typed variables)
into :class:`~safepoint_engine.service.EngineService` calls, and the results into
Camunda's JSON. Errors are mapped to statuses in one table, in ``app.py``. The routes
are plain ``def`` functions: FastAPI runs them in its thread pool, since the engine is
synchronous.

One module per resource; :data:`router` holds them all under ``/engine-rest``, in the
order their paths must be matched (``/process-definition/key/{key}`` before
``/process-definition/{id}``, within ``definitions``).
"""

from __future__ import annotations

from fastapi import APIRouter

from safepoint_engine.api import (
    definitions,
    external_tasks,
    history,
    instances,
    jobs,
    messages,
    tasks,
)
from safepoint_engine.api.common import BASE_PATH, ERRORS
from safepoint_engine.api.health import router as health

__all__ = ["BASE_PATH", "health", "router"]

router = APIRouter(prefix=BASE_PATH, responses=ERRORS)
"""Every ``/engine-rest`` route."""
for resource in (definitions, instances, jobs, messages, tasks, external_tasks, history):
    router.include_router(resource.router)
