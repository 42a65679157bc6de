"""Lookups across process instances, returning core entities (never rows)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    func,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
    update,
)

from safepoint.core.entities import (
    EventSubscription,
    ExternalTask,
    HistoricActivityInstance,
    Incident,
    Job,
    JobLog,
    ProcessInstance,
    ProcessInstanceState,
    Task,
)
from safepoint.errors import BadUserRequest
from safepoint.persistence import tables
from safepoint.persistence.rows import (
    ACTIVITY_INSTANCES,
    EXTERNAL_TASKS,
    INCIDENTS,
    JOB_LOGS,
    JOBS,
    PROCESS_INSTANCES,
    SUBSCRIPTIONS,
    TASKS,
    EntityTable,
)
from safepoint.persistence.variables import deserialize

E = TypeVar("E")

Condition = ColumnElement[bool]


def find(
    connection: Connection,
    rows: EntityTable[E],
    conditions: list[Condition],
    order_by: tuple[str, ...] = ("created_at", "id"),
    *,
    first_result: int = 0,
    max_results: int | None = None,
) -> list[E]:
    """The entities of ``rows`` meeting every condition, in ``order_by`` order.

    ``first_result`` and ``max_results`` page in the database: skip that many, return at
    most that many.
    """
    if first_result < 0 or (max_results is not None and max_results < 0):
        raise ValueError(
            f"first_result and max_results cannot be negative ({first_result}, {max_results})"
        )
    query: Select[Any] = select(rows.table).where(*conditions)
    query = query.order_by(*(rows.table.c[name] for name in order_by))
    if first_result:
        query = query.offset(first_result)
    if max_results is not None:
        query = query.limit(max_results)
    return [rows.load(row) for row in connection.execute(query).mappings()]


def find_one(connection: Connection, rows: EntityTable[E], entity_id: str) -> E | None:
    """The entity of ``rows`` with ``entity_id``, or ``None``."""
    row = (
        connection.execute(select(rows.table).where(rows.table.c.id == entity_id))
        .mappings()
        .first()
    )
    return None if row is None else rows.load(row)


def process_instances(
    connection: Connection,
    *,
    process_instance_ids: Collection[str] | None = None,
    process_definition_id: str | None = None,
    process_definition_key: str | None = None,
    business_key: str | None = None,
    active: bool | None = None,
    first_result: int = 0,
    max_results: int | None = None,
) -> list[ProcessInstance]:
    """Process instances matching every filter given, by start time, paged in the database."""
    table = tables.process_instances
    conditions: list[Condition] = []
    if process_instance_ids is not None:
        conditions.append(table.c.id.in_(sorted(process_instance_ids)))
    if process_definition_id is not None:
        conditions.append(table.c.process_definition_id == process_definition_id)
    if process_definition_key is not None:
        conditions.append(table.c.process_definition_key == process_definition_key)
    if business_key is not None:
        conditions.append(table.c.business_key == business_key)
    if active:
        conditions.append(literal_column(tables.RUNNING, Boolean))  # as the partial index has it
    elif active is not None:
        conditions.append(table.c.state != ProcessInstanceState.ACTIVE)
    return find(
        connection,
        PROCESS_INSTANCES,
        conditions,
        ("started_at", "id"),
        first_result=first_result,
        max_results=max_results,
    )


def equal_to(table: Table, where: Mapping[str, object] | None) -> list[Condition]:
    """A condition per item of ``where``: the column of that name equals the value."""
    return [table.c[name] == value for name, value in (where or {}).items()]


def jobs(
    connection: Connection,
    *,
    process_instance_id: str | None = None,
    with_exception: bool = False,
    no_retries_left: bool = False,
    with_retries_left: bool = False,
    executable_at: datetime | None = None,
    where: Mapping[str, object] | None = None,
    first_result: int = 0,
    max_results: int | None = None,
) -> list[Job]:
    """Jobs matching every filter given, oldest first, paged in the database."""
    table = tables.jobs
    conditions = equal_to(table, where)
    if process_instance_id is not None:
        conditions.append(table.c.process_instance_id == process_instance_id)
    if with_exception:
        conditions.append(table.c.exception_message.is_not(None))
    if no_retries_left:
        conditions.append(table.c.retries == 0)
    if with_retries_left or executable_at is not None:
        conditions.append(table.c.retries > 0)
    if executable_at is not None:
        conditions.append(or_(table.c.due_at.is_(None), table.c.due_at <= executable_at))
    return find(connection, JOBS, conditions, first_result=first_result, max_results=max_results)


def tasks(
    connection: Connection,
    process_instance_id: str | None = None,
    *,
    candidate_group: str | None = None,
    where: Mapping[str, object] | None = None,
    first_result: int = 0,
    max_results: int | None = None,
) -> list[Task]:
    """User tasks matching every filter given, oldest first, paged in the database."""
    table = tables.tasks
    conditions = equal_to(table, where)
    if process_instance_id is not None:
        conditions.append(table.c.process_instance_id == process_instance_id)
    if candidate_group is not None:
        conditions.append(_has_element(table.c.candidate_groups, candidate_group))
    return find(connection, TASKS, conditions, first_result=first_result, max_results=max_results)


def _has_element(column: ColumnElement[Any], element: str) -> Condition:
    """Whether the JSON array of strings stored in ``column`` holds ``element``, exactly.

    The array is stored as compact JSON text (``["a","b"]``). Wrapped in commas instead of
    brackets (``,"a","b",``), it holds ``,"element",`` exactly when ``element`` is one of
    its strings: a quote inside a string is escaped, so ``"`` next to a comma is a string's
    delimiter. ``replace`` compares case-sensitively on every database (SQLite's ``LIKE``
    does not), and needs no escaping.
    """
    text = type_coerce(column, String)
    wrapped = literal(",") + func.substr(text, 2, func.length(text) - 2) + literal(",")
    return func.replace(wrapped, "," + json.dumps(element) + ",", "") != wrapped


def external_tasks(
    connection: Connection,
    topic: str | None = None,
    process_instance_id: str | None = None,
    *,
    with_retries_left: bool = False,
    no_retries_left: bool = False,
    where: Mapping[str, object] | None = None,
    first_result: int = 0,
    max_results: int | None = None,
) -> list[ExternalTask]:
    """External tasks matching every filter given, oldest first, paged in the database.

    ``with_retries_left``: retries not set yet, or above 0; ``no_retries_left``: 0.
    """
    table = tables.external_tasks
    conditions = equal_to(table, where)
    if topic is not None:
        conditions.append(table.c.topic == topic)
    if process_instance_id is not None:
        conditions.append(table.c.process_instance_id == process_instance_id)
    if with_retries_left:
        conditions.append(or_(table.c.retries.is_(None), table.c.retries > 0))
    if no_retries_left:
        conditions.append(table.c.retries == 0)
    return find(
        connection,
        EXTERNAL_TASKS,
        conditions,
        first_result=first_result,
        max_results=max_results,
    )


def subscriptions(
    connection: Connection,
    event_name: str,
    *,
    event_type: str,
    business_key: str | None,
    process_instance_id: str | None,
) -> list[EventSubscription]:
    """Subscriptions to ``event_name``, optionally of instances with ``business_key``."""
    table = tables.event_subscriptions
    conditions: list[Condition] = [
        table.c.event_type == event_type,
        table.c.event_name == event_name,
    ]
    if process_instance_id is not None:
        conditions.append(table.c.process_instance_id == process_instance_id)
    if business_key is not None:
        instances = tables.process_instances
        conditions.append(
            table.c.process_instance_id.in_(
                select(instances.c.id).where(instances.c.business_key == business_key)
            )
        )
    return find(connection, SUBSCRIPTIONS, conditions)


def incidents(
    connection: Connection,
    process_instance_id: str | None = None,
    *,
    open_only: bool,
    where: Mapping[str, object] | None = None,
    first_result: int = 0,
    max_results: int | None = None,
) -> list[Incident]:
    """Incidents (open ones only if asked) matching every filter given, oldest first, paged."""
    table = tables.incidents
    conditions = equal_to(table, where)
    if process_instance_id is not None:
        conditions.append(table.c.process_instance_id == process_instance_id)
    if open_only:
        conditions.append(table.c.resolved_at.is_(None))
    return find(
        connection, INCIDENTS, conditions, first_result=first_result, max_results=max_results
    )


def historic_activity_instances(
    connection: Connection, process_instance_id: str
) -> list[HistoricActivityInstance]:
    """Every activity instance of a process instance, in the order they started."""
    table = tables.historic_activity_instances
    return find(
        connection,
        ACTIVITY_INSTANCES,
        [table.c.process_instance_id == process_instance_id],
        ("ordinal", "id"),
    )


def job_logs(
    connection: Connection, process_instance_id: str | None, job_id: str | None
) -> list[JobLog]:
    """Job log entries (of one instance, of one job, if given), in order."""
    table = tables.job_logs
    conditions: list[Condition] = []
    if process_instance_id is not None:
        conditions.append(table.c.process_instance_id == process_instance_id)
    if job_id is not None:
        conditions.append(table.c.job_id == job_id)
    return find(connection, JOB_LOGS, conditions, ("process_instance_id", "ordinal", "id"))


def variables(connection: Connection, process_instance_id: str, scope_id: str) -> dict[str, object]:
    """The variables of one scope of a process instance, by name."""
    table = tables.variables
    result = connection.execute(
        select(table.c.name, table.c.type_name, table.c.text_value)
        .where(table.c.process_instance_id == process_instance_id, table.c.scope_id == scope_id)
        .order_by(table.c.name)
    )
    return {name: deserialize(type_name, text) for name, type_name, text in result}


def set_job_retries_by_job_definition(
    connection: Connection, job_definition_id: str, retries: int
) -> list[str]:
    """Give every failed job (0 retries left) of a job definition ``retries`` retries.

    As in Camunda, only jobs without retries are changed, their locks are released and
    their incidents stay open. The revision of each affected instance is bumped, so a
    transaction that loaded one of them before cannot overwrite the change.

    Returns:
        The ids of the affected process instances, sorted.

    Raises:
        BadUserRequest: ``retries`` is negative.
    """
    if retries < 0:
        raise BadUserRequest("The number of job retries must be a non-negative Integer")
    job_table = tables.jobs
    result = connection.execute(
        update(job_table)
        .where(job_table.c.job_definition_id == job_definition_id, job_table.c.retries == 0)
        .values(retries=retries, locked_by=None, lock_expires_at=None)
        .returning(job_table.c.process_instance_id)
    )
    instance_ids = sorted(set(result.scalars()))
    if instance_ids:
        instance_table = tables.process_instances
        connection.execute(
            update(instance_table)
            .where(instance_table.c.id.in_(instance_ids))
            .values(revision=instance_table.c.revision + 1)
        )
    return instance_ids


def _lease(
    connection: Connection,
    rows: EntityTable[E],
    due: list[Condition],
    *,
    now: datetime,
    until: datetime,
    owner: str,
    limit: int,
) -> list[E]:
    """Lease up to ``limit`` rows of ``rows`` meeting ``due`` whose lease has run out.

    The leased rows get ``locked_by = owner`` and ``lock_expires_at = until``. On
    PostgreSQL rows held by another transaction are skipped (``FOR UPDATE SKIP
    LOCKED``), so several dispatchers never lease the same row.
    """
    table = rows.table
    query = (
        select(table.c.process_instance_id, table.c.id)
        .where(
            *due,
            or_(table.c.lock_expires_at.is_(None), table.c.lock_expires_at <= now),
        )
        .order_by(table.c.priority.desc(), table.c.created_at, table.c.id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    keys = [(row.process_instance_id, row.id) for row in connection.execute(query)]
    leased: list[E] = []
    for process_instance_id, entity_id in keys:
        connection.execute(
            update(table)
            .where(table.c.process_instance_id == process_instance_id, table.c.id == entity_id)
            .values(locked_by=owner, lock_expires_at=until)
        )
        entity = find_one(connection, rows, entity_id)
        if entity is not None:
            leased.append(entity)
    return leased


def lease_due_jobs(
    connection: Connection, *, now: datetime, until: datetime, owner: str, limit: int
) -> list[Job]:
    """Lease due jobs nobody holds (the dispatcher's acquisition).

    Due: retries left and the due time has come, with no lease running (never
    published, publish lost, or the executor gone).
    """
    table = tables.jobs
    due: list[Condition] = [
        table.c.retries > 0,
        or_(table.c.due_at.is_(None), table.c.due_at <= now),
    ]
    return _lease(connection, JOBS, due, now=now, until=until, owner=owner, limit=limit)


def lease_due_external_tasks(
    connection: Connection, *, now: datetime, until: datetime, owner: str, limit: int
) -> list[ExternalTask]:
    """Lease external tasks to hand (again) to workers.

    Due: retries not used up (none reported yet, or more than 0) with no lease
    running: a new task whose publish was lost, or one whose retry timeout has passed.
    """
    table = tables.external_tasks
    due: list[Condition] = [or_(table.c.retries.is_(None), table.c.retries > 0)]
    return _lease(connection, EXTERNAL_TASKS, due, now=now, until=until, owner=owner, limit=limit)
