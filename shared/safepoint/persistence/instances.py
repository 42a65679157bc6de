"""Inserting, loading and saving one process instance's state, writing only what changed.

Loading remembers a :class:`Snapshot` of what was read; saving compares the state with
it and issues one statement per table and kind of change (batched), plus the update of
the process instance row that checks and bumps its revision (optimistic locking).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, delete, insert, select, update

from safepoint.core.state import InstanceState
from safepoint.errors import OptimisticLockError
from safepoint.persistence import tables
from safepoint.persistence.rows import (
    ACTIVITY_INSTANCES,
    EXECUTIONS,
    EXTERNAL_TASKS,
    INCIDENTS,
    JOB_LOGS,
    JOBS,
    PROCESS_INSTANCES,
    SUBSCRIPTIONS,
    TASKS,
    EntityTable,
    RowSnapshot,
)
from safepoint.persistence.variables import deserialize, serialize

VariableKey = tuple[str, str]
"""``(scope_id, name)`` of a variable."""


@dataclass(frozen=True, slots=True)
class _Collection:
    """One ``dict`` attribute of ``InstanceState`` and the table it is stored in."""

    rows: EntityTable[Any]
    attribute: str
    deletable: bool = True
    """Whether an entity missing from the state is deleted (history never is)."""
    loaded: ColumnElement[bool] | None = None
    """Which of the instance's rows are loaded (``None``: all of them)."""
    order_by: tuple[str, ...] = ("created_at", "id")


_COLLECTIONS = (
    _Collection(EXECUTIONS, "executions", order_by=("ordinal", "id")),
    _Collection(JOBS, "jobs"),
    _Collection(TASKS, "tasks"),
    _Collection(EXTERNAL_TASKS, "external_tasks"),
    _Collection(SUBSCRIPTIONS, "subscriptions"),
    _Collection(
        INCIDENTS,
        "incidents",
        deletable=False,
        loaded=tables.incidents.c.resolved_at.is_(None),
    ),
    _Collection(
        ACTIVITY_INSTANCES,
        "activity_instances",
        deletable=False,
        loaded=tables.historic_activity_instances.c.ended_at.is_(None),
        order_by=("ordinal", "id"),
    ),
)

_KEY_COLUMNS = frozenset({"process_instance_id", "id"})
_UPDATES = {
    c.attribute: update(c.rows.table).where(
        c.rows.table.c.process_instance_id == bindparam("_pi"),
        c.rows.table.c.id == bindparam("_id"),
    )
    for c in _COLLECTIONS
}
_VARIABLE_KEY = (
    (tables.variables.c.process_instance_id == bindparam("_pi"))
    & (tables.variables.c.scope_id == bindparam("_scope"))
    & (tables.variables.c.name == bindparam("_name"))
)
_UPDATE_VARIABLE = (
    update(tables.variables)
    .where(_VARIABLE_KEY)
    .values(type_name=bindparam("_type"), text_value=bindparam("_text"))
)
_DELETE_VARIABLE = delete(tables.variables).where(_VARIABLE_KEY)


@dataclass(slots=True)
class Snapshot:
    """What the database holds for one instance, as of the last load or write."""

    state: InstanceState
    """The state object this snapshot belongs to (kept so that its ``id()`` stays unique)."""
    revision: int
    entities: dict[str, dict[str, RowSnapshot]]
    variables: dict[VariableKey, tuple[str, str]]
    job_log_ids: set[str]


def insert_instance(connection: Connection, state: InstanceState) -> Snapshot:
    """Insert every part of a new instance's ``state``; return its snapshot."""
    variables = _serialized_variables(state)  # first: a refused value writes nothing
    connection.execute(insert(tables.process_instances), [PROCESS_INSTANCES.row(state.instance)])
    entities: dict[str, dict[str, RowSnapshot]] = {}
    for collection in _COLLECTIONS:
        objects = getattr(state, collection.attribute).values()
        _insert(connection, collection.rows, objects)
        entities[collection.attribute] = {o.id: collection.rows.snapshot(o) for o in objects}
    _insert_variables(connection, state.id, variables, variables.keys())
    _insert(connection, JOB_LOGS, state.job_logs)
    return Snapshot(
        state, state.instance.revision, entities, variables, {log.id for log in state.job_logs}
    )


def load_instance(
    connection: Connection, process_instance_id: str, *, lock: bool
) -> Snapshot | None:
    """Load an instance's runtime state (open incidents and activity instances only)."""
    table = tables.process_instances
    query = select(table).where(table.c.id == process_instance_id)
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    state = InstanceState(instance=PROCESS_INSTANCES.load(row))
    entities: dict[str, dict[str, RowSnapshot]] = {}
    for collection in _COLLECTIONS:
        rows = collection.rows
        query = select(rows.table).where(rows.table.c.process_instance_id == process_instance_id)
        if collection.loaded is not None:
            query = query.where(collection.loaded)
        loaded = getattr(state, collection.attribute)
        snapshots = entities[collection.attribute] = {}
        query = query.order_by(*(rows.table.c[name] for name in collection.order_by))
        for entity_row in connection.execute(query).mappings():
            entity = rows.load(entity_row)
            loaded[entity.id] = entity
            snapshots[entity.id] = rows.snapshot(entity)
    variables: dict[VariableKey, tuple[str, str]] = {}
    var = tables.variables
    for scope_id, name, type_name, text in connection.execute(
        select(var.c.scope_id, var.c.name, var.c.type_name, var.c.text_value)
        .where(var.c.process_instance_id == process_instance_id)
        .order_by(var.c.scope_id, var.c.name)
    ):
        state.variables.setdefault(scope_id, {})[name] = deserialize(type_name, text)
        variables[(scope_id, name)] = (type_name, text)
    return Snapshot(state, state.instance.revision, entities, variables, set())


def save_instance(connection: Connection, snapshot: Snapshot) -> None:
    """Write what changed in ``snapshot.state`` since ``snapshot``; refresh ``snapshot``.

    Raises:
        OptimisticLockError: another transaction saved the instance since it was loaded.
    """
    state = snapshot.state
    variables = _serialized_variables(state)  # first: a refused value writes nothing
    instance_table = tables.process_instances
    values = {
        name: value
        for name, value in PROCESS_INSTANCES.row(state.instance).items()
        if name not in ("id", "revision")
    }
    result = connection.execute(
        update(instance_table)
        .where(instance_table.c.id == state.id, instance_table.c.revision == snapshot.revision)
        .values(**values, revision=snapshot.revision + 1)
    )
    if result.rowcount != 1:
        raise OptimisticLockError(
            f"process instance {state.id} was updated by another transaction concurrently"
        )
    entities: dict[str, dict[str, RowSnapshot]] = {}
    for collection in _COLLECTIONS:
        entities[collection.attribute] = _save_collection(
            connection,
            state.id,
            collection,
            snapshot.entities[collection.attribute],
            getattr(state, collection.attribute),
        )
    _save_variables(connection, state.id, snapshot.variables, variables)
    new_logs = [log for log in state.job_logs if log.id not in snapshot.job_log_ids]
    _insert(connection, JOB_LOGS, new_logs)
    # Only now that every statement succeeded does the snapshot move on.
    snapshot.entities = entities
    snapshot.variables = variables
    snapshot.job_log_ids.update(log.id for log in new_logs)
    snapshot.revision += 1
    state.instance.revision = snapshot.revision


def _save_collection(
    connection: Connection,
    process_instance_id: str,
    collection: _Collection,
    old: dict[str, RowSnapshot],
    current: dict[str, Any],
) -> dict[str, RowSnapshot]:
    """Insert, update and delete one collection's rows; return its new snapshots."""
    rows = collection.rows
    new = {entity.id: rows.snapshot(entity) for entity in current.values()}
    _insert(connection, rows, [e for e in current.values() if e.id not in old])
    changed = [e for e in current.values() if e.id in old and new[e.id] != old[e.id]]
    if changed:
        connection.execute(
            _UPDATES[collection.attribute],
            [
                {"_pi": e.process_instance_id, "_id": e.id}
                | {k: v for k, v in rows.row(e).items() if k not in _KEY_COLUMNS}
                for e in changed
            ],
        )
    if not collection.deletable:
        return old | new
    gone = [entity_id for entity_id in old if entity_id not in new]
    if gone:
        table = rows.table
        connection.execute(
            delete(table).where(
                table.c.process_instance_id == process_instance_id, table.c.id.in_(gone)
            )
        )
    return new


def _save_variables(
    connection: Connection,
    process_instance_id: str,
    old: dict[VariableKey, tuple[str, str]],
    new: dict[VariableKey, tuple[str, str]],
) -> None:
    """Write the variables whose serialized text changed from ``old`` to ``new``."""
    _insert_variables(connection, process_instance_id, new, [key for key in new if key not in old])
    changed = [
        {
            "_pi": process_instance_id,
            "_scope": scope,
            "_name": name,
            "_type": type_name,
            "_text": text,
        }
        for (scope, name), (type_name, text) in new.items()
        if (scope, name) in old and old[(scope, name)] != (type_name, text)
    ]
    if changed:
        connection.execute(_UPDATE_VARIABLE, changed)
    gone = [key for key in old if key not in new]
    if gone:
        connection.execute(
            _DELETE_VARIABLE,
            [{"_pi": process_instance_id, "_scope": scope, "_name": name} for scope, name in gone],
        )


def _serialized_variables(state: InstanceState) -> dict[VariableKey, tuple[str, str]]:
    """Every variable of ``state`` as ``(type_name, text)``."""
    return {
        (scope_id, name): serialize(value, name=name)
        for scope_id, scope in state.variables.items()
        for name, value in scope.items()
    }


def _insert_variables(
    connection: Connection,
    process_instance_id: str,
    serialized: dict[VariableKey, tuple[str, str]],
    keys: Iterable[VariableKey],
) -> None:
    """Insert the variables named by ``keys``."""
    rows = [
        {
            "process_instance_id": process_instance_id,
            "scope_id": scope_id,
            "name": name,
            "type_name": serialized[(scope_id, name)][0],
            "text_value": serialized[(scope_id, name)][1],
        }
        for scope_id, name in keys
    ]
    if rows:
        connection.execute(insert(tables.variables), rows)


def _insert(connection: Connection, rows: EntityTable[Any], entities: Iterable[Any]) -> None:
    """Insert ``entities`` into their table in one batch."""
    values = [rows.row(entity) for entity in entities]
    if values:
        connection.execute(insert(rows.table), values)
