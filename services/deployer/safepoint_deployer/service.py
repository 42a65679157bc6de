"""The deployer's use cases: create, find and delete deployments (Camunda's repository).

Creating a deployment parses and validates every BPMN resource (every problem is
reported at once), gives each process its next version and stores it all in one
transaction; then ``on_deployed`` hears of it (the ``deployment.created`` event). With
duplicate filtering, resources identical to the latest ones of the same deployment name
are not deployed again, as in Camunda.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from safepoint.contract import DeployedProcessDefinition, DeploymentCreated
from safepoint.core.deployments import Deployment
from safepoint.core.entities import ProcessInstance
from safepoint.embedded import Engine
from safepoint.embedded.repository import deploy_resources
from safepoint.errors import BadUserRequest, NotFound, SafepointError
from safepoint.persistence.store import Store
from safepoint.persistence.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

DEPLOYMENT_LOCK_KEY = "safepoint:deployments"
"""A key no process can have (``:`` is not allowed in a BPMN id), locked to serialise
deployments that filter duplicates, as Camunda's global deployment lock does."""

CASCADE_DELETE_REASON = "deleted deployment"
"""The delete reason of instances cancelled by a cascading deployment delete (Camunda's)."""

CASCADE_ATTEMPTS = 3
"""How often a cascading delete cancels instances started while it ran, before giving up."""

DeploymentListener = Callable[[DeploymentCreated], None]
"""Hears of each new deployment after it is committed (the event publisher's port)."""


class Unsupported(SafepointError):
    """Safepoint does not offer this (yet); the message says what instead (HTTP 501)."""


class DeploymentInUse(BadUserRequest):
    """A deployment still has running process instances and ``cascade`` was not asked for."""


class CommandFailed(SafepointError):
    """User code (an end listener) failed while a cascading delete cancelled an instance."""


@dataclass(frozen=True, slots=True)
class DeploymentResult:
    """What ``create`` did: a new deployment, or (duplicate filtering) an existing one.

    ``created`` is ``False`` when every resource was a duplicate and ``deployment`` is
    the latest deployment of that name, unchanged.
    """

    deployment: Deployment
    created: bool


@dataclass(frozen=True, slots=True)
class DeploymentQuery:
    """Filters and order of ``GET /deployment`` (Camunda's names in parentheses).

    ``name_like`` uses SQL ``LIKE`` wildcards (``%`` any text, ``_`` one character).
    """

    deployment_id: str | None = None
    name: str | None = None
    name_like: str | None = None
    source: str | None = None
    without_source: bool = False
    after: datetime | None = None
    before: datetime | None = None
    sort_by: str | None = None
    descending: bool = False


SORT_KEYS: Mapping[str, Callable[[Deployment], tuple[object, ...]]] = {
    "id": lambda d: (d.id,),
    "name": lambda d: (d.name or "", d.id),
    "deploymentTime": lambda d: (d.deployed_at, d.id),
}
"""Camunda's ``sortBy`` values for deployments."""


class DeployerService:
    """Deployments on one database.

    Args:
        store: the database.
        engine: the embedded engine on the same database; a cascading delete cancels
            running instances through it (their end listeners run, as in Camunda).
        clock: the current aware time (the deployment time).
        new_id: new unique ids (deployment ids).
        on_deployed: told of each new deployment after its commit (``None``: nobody).
            It runs in the request's worker thread; if it raises, the deployment stays
            stored and the error reaches the caller.
    """

    def __init__(
        self,
        store: Store,
        engine: Engine,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        on_deployed: DeploymentListener | None = None,
    ) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock
        self._new_id = new_id
        self._on_deployed = on_deployed

    def close(self) -> None:
        """Release the database connections."""
        self._engine.close()
        self._store.dispose()

    def check_database(self) -> None:
        """Run a trivial statement; raises ``PersistenceError`` if the database is not there."""
        with self._store.unit_of_work() as uow:
            uow.connection.exec_driver_sql("SELECT 1")

    # --- create ------------------------------------------------------------------------

    def create(
        self,
        name: str | None,
        resources: Mapping[str, bytes],
        *,
        duplicate_filtering: bool = False,
        changed_only: bool = False,
    ) -> DeploymentResult:
        """Deploy ``resources`` (resource name → content) under ``name``.

        With ``duplicate_filtering``, each resource is compared byte for byte with the
        latest resource of the same name in the deployments named ``name``: if none
        differs (and none is new), nothing is deployed and the latest deployment of that
        name is returned; if one does, every resource is deployed, or with
        ``changed_only`` only the new and changed ones (Camunda's
        ``enable-duplicate-filtering`` and ``deploy-changed-only``).

        Raises:
            BpmnParseError: with every problem of every resource; nothing is stored.
        """
        filtering = duplicate_filtering or changed_only
        with self._store.unit_of_work() as uow:
            to_deploy: Mapping[str, bytes] = resources
            if filtering:
                uow.next_version(DEPLOYMENT_LOCK_KEY)  # held until this transaction ends
                named = [d for d in uow.deployments() if d.name == name]
                changed = _changed_resources(uow, named, resources)
                if not changed and named:
                    return DeploymentResult(named[-1], created=False)
                if changed_only:
                    to_deploy = changed
            deployment = deploy_resources(
                uow, name, to_deploy, now=self._clock(), new_id=self._new_id
            )
        logger.info(
            "deployment %s (%s): %s",
            deployment.id,
            name,
            ", ".join(d.id for d in deployment.process_definitions) or "no process",
        )
        if self._on_deployed is not None:
            self._on_deployed(deployment_created(deployment))
        return DeploymentResult(deployment, created=True)

    # --- read --------------------------------------------------------------------------

    def deployments(self, query: DeploymentQuery) -> list[Deployment]:
        """Deployments matching ``query``, oldest first unless sorted otherwise."""
        with self._store.unit_of_work() as uow:
            every = uow.deployments()
        found = [d for d in every if _deployment_matches(d, query)]
        if query.sort_by is not None:
            key = SORT_KEYS.get(query.sort_by)
            if key is None:
                raise BadUserRequest(
                    f"sortBy {query.sort_by!r} is not one of {', '.join(SORT_KEYS)}"
                )
            found.sort(key=key, reverse=query.descending)
        elif query.descending:
            found.reverse()
        return found

    def deployment(self, deployment_id: str) -> Deployment:
        """One deployment by id, with its process definitions."""
        with self._store.unit_of_work() as uow:
            found = uow.deployment(deployment_id)
        if found is None:
            raise NotFound("deployment", deployment_id)
        return found

    # --- delete ------------------------------------------------------------------------

    def delete(self, deployment_id: str, *, cascade: bool = False) -> None:
        """Delete a deployment with its resources and process definitions.

        Without ``cascade`` a deployment whose definitions have running instances is
        refused (``DeploymentInUse``); with it, those instances are cancelled first
        (their end listeners run) and keep their history.

        Raises:
            NotFound: there is no such deployment.
            DeploymentInUse: instances run and ``cascade`` is false, or they keep being
                started while the cascade runs.
            CommandFailed: an end listener failed while an instance was cancelled.
        """
        for _ in range(CASCADE_ATTEMPTS):
            with self._store.unit_of_work() as uow:
                deployment = uow.deployment(deployment_id)
                if deployment is None:
                    raise NotFound("deployment", deployment_id)
                running = _running_instances(uow, deployment)
                if not running:
                    uow.delete_deployment(deployment_id)
                    logger.info("deployment %s deleted", deployment_id)
                    return
            if not cascade:
                raise DeploymentInUse(
                    f"deployment {deployment_id!r} has {len(running)} running process "
                    "instance(s); delete it with cascade=true to cancel them"
                )
            for instance in running:
                self._cancel(instance)
        raise DeploymentInUse(
            f"process instances of deployment {deployment_id!r} keep being started; "
            "try again once nothing starts them"
        )

    def _cancel(self, instance: ProcessInstance) -> None:
        try:
            with _failures(f"Cannot delete process instance {instance.id}"):
                self._engine.delete_process_instance(instance.id, CASCADE_DELETE_REASON)
        except BadUserRequest:
            pass  # it ended (or was deleted) meanwhile: nothing left to cancel


def deployment_created(deployment: Deployment) -> DeploymentCreated:
    """The ``deployment.created`` event of a new deployment."""
    return DeploymentCreated(
        deployment_id=deployment.id,
        name=deployment.name,
        deployed_at=deployment.deployed_at,
        process_definitions=[
            DeployedProcessDefinition(
                id=definition.id,
                key=definition.key,
                version=definition.version,
                name=definition.name,
            )
            for definition in deployment.process_definitions
        ],
    )


def _changed_resources(
    uow: UnitOfWork, named: list[Deployment], resources: Mapping[str, bytes]
) -> dict[str, bytes]:
    """The resources that are new or differ from the latest of the same name in ``named``."""
    changed: dict[str, bytes] = {}
    for resource, content in resources.items():
        latest = next((d for d in reversed(named) if resource in d.resource_names), None)
        existing = None if latest is None else uow.resource(latest.id, resource)
        if existing != content:
            changed[resource] = content
    return changed


def _running_instances(uow: UnitOfWork, deployment: Deployment) -> list[ProcessInstance]:
    """The running instances of the deployment's process definitions."""
    definition_ids = {definition.id for definition in deployment.process_definitions}
    keys = sorted({definition.key for definition in deployment.process_definitions})
    return [
        instance
        for key in keys
        for instance in uow.process_instances(process_definition_key=key, active=True)
        if instance.process_definition_id in definition_ids
    ]


def _deployment_matches(deployment: Deployment, query: DeploymentQuery) -> bool:
    if query.deployment_id is not None and deployment.id != query.deployment_id:
        return False
    if query.name is not None and deployment.name != query.name:
        return False
    if query.name_like is not None and not _like(deployment.name, query.name_like):
        return False
    if query.source is not None and deployment.source != query.source:
        return False
    if query.without_source and deployment.source is not None:
        return False
    if query.after is not None and not deployment.deployed_at > query.after:
        return False
    return query.before is None or deployment.deployed_at < query.before


def _like(value: str | None, pattern: str) -> bool:
    """SQL ``LIKE`` (``%`` any text, ``_`` one character), case-sensitive."""
    if value is None:
        return False
    glob = "".join(
        "*" if c == "%" else "?" if c == "_" else f"[{c}]" if c in "*?[]" else c for c in pattern
    )
    return fnmatch.fnmatchcase(value, glob)


@contextmanager
def _failures(action: str) -> Iterator[None]:
    """Turn a failure of user code (an end listener) into ``CommandFailed``."""
    try:
        yield
    except SafepointError:
        raise
    except Exception as exc:  # an end listener's own failure; rolled back
        raise CommandFailed(f"{action}: {type(exc).__name__}: {exc}") from exc
