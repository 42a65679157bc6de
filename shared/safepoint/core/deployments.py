"""Deployments and the versioned process definitions they hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ProcessDefinition:
    """One version of one process, identified by ``key`` (the BPMN process id) + ``version``.

    ``id`` is ``<key>:<version>:<deployment id>``, as in Camunda.
    """

    id: str
    key: str
    version: int
    deployment_id: str
    resource_name: str
    name: str | None = None
    version_tag: str | None = None
    history_time_to_live: int | None = None
    """Days, from ``camunda:historyTimeToLive``; Safepoint does not remove history by it."""


@dataclass(frozen=True, slots=True)
class Deployment:
    """A set of resources deployed together, and the process definitions made from them."""

    id: str
    name: str | None
    deployed_at: datetime
    source: str | None = None
    resource_names: tuple[str, ...] = ()
    process_definitions: tuple[ProcessDefinition, ...] = field(default=())


def process_definition_id(key: str, version: int, deployment_id: str) -> str:
    """Camunda's process definition id: ``key:version:deploymentId``."""
    return f"{key}:{version}:{deployment_id}"
