"""Deploying BPMN resources, and the cache of parsed process models by definition id."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from safepoint.core.deployments import Deployment, ProcessDefinition, process_definition_id
from safepoint.errors import BpmnParseError, NotFound, Problem
from safepoint.model import Definitions, Process
from safepoint.parser import parse_definitions
from safepoint.persistence.unit_of_work import UnitOfWork

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
    """Parsed process models by definition id (a deployed definition never changes)."""

    def __init__(self) -> None:
        """Start empty."""
        self._cache: dict[str, tuple[ProcessDefinition, Process]] = {}

    def get(self, uow: UnitOfWork, definition_id: str) -> tuple[ProcessDefinition, Process]:
        """The definition and its process model, parsed from storage on first use."""
        cached = self._cache.get(definition_id)
        if cached is not None:
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
        self._cache[definition_id] = (definition, process)
        return definition, process
