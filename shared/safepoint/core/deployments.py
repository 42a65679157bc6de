"""Deployments and the versioned process definitions they hold."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

_TTL_DAYS = re.compile(r"P(\d+)D", re.ASCII)
_JAVA_INT = re.compile(r"[+-]?\d+", re.ASCII)
_INT_MAX = 2**31 - 1


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


def history_time_to_live_days(written: str | None) -> int | None:
    """``camunda:historyTimeToLive`` in days, as Camunda's ``ParseUtil`` reads it.

    An integer, or ``P<days>D``; empty or missing is ``None``.

    Raises:
        ValueError: negative, beyond an Integer, or neither form (Camunda's message).
    """
    if not written:
        return None
    days = _TTL_DAYS.fullmatch(written)
    text = days.group(1) if days else written
    number = int(text) if _JAVA_INT.fullmatch(text) else None
    if number is None or number > _INT_MAX:
        raise ValueError(
            f"Cannot parse historyTimeToLive: {written!r} is neither a number of days nor P<days>D"
        )
    if number < 0:
        raise ValueError("Cannot parse historyTimeToLive: negative value is not allowed")
    return number
