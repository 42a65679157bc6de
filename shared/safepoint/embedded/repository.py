"""Deploying BPMN resources, and the cache of parsed process models by definition id."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime

from safepoint.core.deployments import (
    Deployment,
    ProcessDefinition,
    history_time_to_live_days,
    process_definition_id,
)
from safepoint.errors import BpmnParseError, NotFound, Problem
from safepoint.model import Definitions, Process
from safepoint.parser import parse_definitions
from safepoint.persistence.unit_of_work import UnitOfWork

DEFAULT_DEFINITION_CACHE_SIZE = 1000
"""Process definitions kept parsed, as Camunda's default ``cacheCapacity``."""

BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml")


def deploy_resources(
    uow: UnitOfWork,
    name: str | None,
    resources: Mapping[str, bytes | str],
    *,
    now: datetime,
    new_id: Callable[[], str],
) -> Deployment:
    """Parse every BPMN resource, then store the deployment with a new version per process.

    Every problem of every resource is reported together; nothing is stored then.
    """
    if not resources:
        raise BpmnParseError([Problem("a deployment needs at least one resource")])
    payloads = {
        resource: data.encode("utf-8") if isinstance(data, str) else data
        for resource, data in resources.items()
    }
    parsed: dict[str, Definitions] = {}
    problems: list[Problem] = []
    for resource, data in payloads.items():
        if not resource.endswith(BPMN_SUFFIXES):
            continue
        try:
            parsed[resource] = parse_definitions(data, resource_name=resource)
        except BpmnParseError as error:
            problems.extend(error.problems)
            continue
        problems.extend(_deployment_problems(parsed[resource], resource))
    if problems:
        raise BpmnParseError(problems)
    if not parsed:
        raise BpmnParseError(
            [Problem(f"no BPMN resource (a name ending in {' or '.join(BPMN_SUFFIXES)})")]
        )
    _refuse_duplicate_keys(parsed)
    deployment_id = new_id()
    definitions: list[ProcessDefinition] = []
    for resource, document in parsed.items():
        for process in document.processes:
            version = uow.next_version(process.id)
            definitions.append(
                ProcessDefinition(
                    id=process_definition_id(process.id, version, deployment_id),
                    key=process.id,
                    version=version,
                    deployment_id=deployment_id,
                    resource_name=resource,
                    name=process.name,
                    version_tag=process.version_tag,
                    history_time_to_live=history_time_to_live_days(process.history_time_to_live),
                )
            )
    deployment = Deployment(
        id=deployment_id,
        name=name,
        deployed_at=now,
        resource_names=tuple(payloads),
        process_definitions=tuple(definitions),
    )
    uow.add_deployment(deployment, payloads)
    return deployment


def _deployment_problems(document: Definitions, resource: str) -> list[Problem]:
    """What only a new deployment refuses (a stored definition still loads with it)."""
    problems: list[Problem] = []
    for process in document.processes:
        try:
            history_time_to_live_days(process.history_time_to_live)
        except ValueError as exc:
            problems.append(Problem(str(exc), process.line, process.id, resource))
    return problems


def _refuse_duplicate_keys(parsed: Mapping[str, Definitions]) -> None:
    seen: dict[str, str] = {}
    problems: list[Problem] = []
    for resource, document in parsed.items():
        for process in document.processes:
            if process.id in seen:
                problems.append(
                    Problem(
                        f"process key {process.id!r} is also defined in {seen[process.id]!r}; "
                        "a deployment may hold each key once",
                        line=process.line,
                        element_id=process.id,
                        resource_name=resource,
                    )
                )
            seen.setdefault(process.id, resource)
    if problems:
        raise BpmnParseError(problems)


class DefinitionCache:
    """Parsed process models by definition id, the ``capacity`` used last (LRU).

    A deployed definition never changes, so an entry never goes stale; the capacity
    bounds the memory of an engine that lives through many deployments (Camunda's
    ``cacheCapacity``, 1000 by default). An evicted definition is parsed again from
    storage when next used. Thread-safe: parsing happens outside the lock, so two
    threads may parse the same definition at once; both get an equal model.
    """

    def __init__(self, capacity: int = DEFAULT_DEFINITION_CACHE_SIZE) -> None:
        """Start empty."""
        if capacity < 1:
            raise ValueError(f"the definition cache holds at least 1 definition, not {capacity}")
        self.capacity = capacity
        self._cache: OrderedDict[str, tuple[ProcessDefinition, Process]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many definitions are cached."""
        return len(self._cache)

    def get(self, uow: UnitOfWork, definition_id: str) -> tuple[ProcessDefinition, Process]:
        """The definition and its process model, parsed from storage on first use."""
        with self._lock:
            cached = self._cache.get(definition_id)
            if cached is not None:
                self._cache.move_to_end(definition_id)
                return cached
        definition = uow.process_definition(definition_id)
        if definition is None:
            raise NotFound("process definition", definition_id)
        xml = uow.resource(definition.deployment_id, definition.resource_name)
        if xml is None:
            raise NotFound("deployment resource", definition.resource_name)
        process = parse_definitions(xml, resource_name=definition.resource_name).process(
            definition.key
        )
        with self._lock:
            self._cache[definition_id] = (definition, process)
            self._cache.move_to_end(definition_id)
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return definition, process
