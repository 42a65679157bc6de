"""Reading and writing deployments, their resources and their process definitions."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, text, update

from safepoint.core.deployments import Deployment, ProcessDefinition
from safepoint.persistence import postgresql
from safepoint.persistence.rows import PROCESS_DEFINITIONS
from safepoint.persistence.tables import deployment_resources, deployments, process_definitions

_DEPLOYMENT_COLUMNS = ("id", "name", "deployed_at", "source", "resource_names")


def add_deployment(
    connection: Connection, deployment: Deployment, resources: Mapping[str, bytes]
) -> None:
    """Insert ``deployment``, its ``resources`` and its process definitions."""
    connection.execute(
        insert(deployments),
        [{name: getattr(deployment, name) for name in _DEPLOYMENT_COLUMNS}],
    )
    if resources:
        connection.execute(
            insert(deployment_resources),
            [
                {"deployment_id": deployment.id, "name": name, "content": bytes(content)}
                for name, content in resources.items()
            ],
        )
    if deployment.process_definitions:
        connection.execute(
            insert(process_definitions),
            [PROCESS_DEFINITIONS.row(definition) for definition in deployment.process_definitions],
        )


def next_version(connection: Connection, key: str) -> int:
    """The version the next definition of ``key`` gets: the highest so far + 1, else 1.

    It first takes a lock that the deploying transaction holds until it ends, so that
    concurrent deployments of one key get distinct versions: on PostgreSQL an advisory
    lock on the key's hash, on SQLite the database's write lock.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
    elif connection.dialect.name == "sqlite":
        # A write statement, even one that matches no row, takes SQLite's write lock.
        connection.execute(update(process_definitions).where(text("0 = 1")).values(version=0))
    highest = connection.execute(
        select(func.max(process_definitions.c.version)).where(process_definitions.c.key == key)
    ).scalar_one_or_none()
    return 1 if highest is None else int(highest) + 1


def deployment(connection: Connection, deployment_id: str) -> Deployment | None:
    """The deployment with ``deployment_id`` (definitions ordered by key), or ``None``."""
    row = (
        connection.execute(select(deployments).where(deployments.c.id == deployment_id))
        .mappings()
        .first()
    )
    if row is None:
        return None
    definitions = _definitions(connection, process_definitions.c.deployment_id == deployment_id)
    return Deployment(**row, process_definitions=tuple(definitions))


def all_deployments(connection: Connection) -> list[Deployment]:
    """Every deployment, oldest first."""
    by_deployment: dict[str, list[ProcessDefinition]] = {}
    for definition in _definitions(connection, None):
        by_deployment.setdefault(definition.deployment_id, []).append(definition)
    rows = connection.execute(
        select(deployments).order_by(deployments.c.deployed_at, deployments.c.id)
    ).mappings()
    return [
        Deployment(**row, process_definitions=tuple(by_deployment.get(row["id"], ())))
        for row in rows
    ]


def delete_deployment(connection: Connection, deployment_id: str) -> None:
    """Delete a deployment with its resources and process definitions."""
    connection.execute(
        delete(process_definitions).where(process_definitions.c.deployment_id == deployment_id)
    )
    connection.execute(
        delete(deployment_resources).where(deployment_resources.c.deployment_id == deployment_id)
    )
    connection.execute(delete(deployments).where(deployments.c.id == deployment_id))


def process_definition(connection: Connection, definition_id: str) -> ProcessDefinition | None:
    """The process definition with ``definition_id``, or ``None``.

    Every start asks it (a start by key over HTTP too, after the latest version): on
    PostgreSQL it is plain SQL on the driver's connection, like the latest version.
    """
    if connection.dialect.name == "postgresql":
        return postgresql.process_definition(connection, definition_id)
    found = _definitions(connection, process_definitions.c.id == definition_id)
    return found[0] if found else None


def latest_process_definition(connection: Connection, key: str) -> ProcessDefinition | None:
    """The highest version of the process definition ``key``, or ``None``.

    Every start by key asks it: on PostgreSQL it is plain SQL on the driver's connection
    (:func:`safepoint.persistence.postgresql.latest_process_definition`).
    """
    if connection.dialect.name == "postgresql":
        return postgresql.latest_process_definition(connection, key)
    row = (
        connection.execute(
            select(process_definitions)
            .where(process_definitions.c.key == key)
            .order_by(process_definitions.c.version.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else PROCESS_DEFINITIONS.load(row)


def process_definitions_of(connection: Connection, key: str | None) -> list[ProcessDefinition]:
    """Every process definition (of ``key`` if given), ordered by key and version."""
    return _definitions(connection, None if key is None else process_definitions.c.key == key)


def resource(connection: Connection, deployment_id: str, name: str) -> bytes | None:
    """The content of resource ``name`` of a deployment, or ``None``."""
    content = connection.execute(
        select(deployment_resources.c.content).where(
            deployment_resources.c.deployment_id == deployment_id,
            deployment_resources.c.name == name,
        )
    ).scalar_one_or_none()
    return None if content is None else bytes(content)


def _definitions(
    connection: Connection, condition: ColumnElement[bool] | None
) -> list[ProcessDefinition]:
    """Process definitions matching ``condition`` (all if ``None``), by key and version."""
    query = select(process_definitions).order_by(
        process_definitions.c.key, process_definitions.c.version
    )
    if condition is not None:
        query = query.where(condition)
    return [PROCESS_DEFINITIONS.load(row) for row in connection.execute(query).mappings()]
