"""Inserting, loading and saving one process instance's state, writing only what changed.

Loading remembers a :class:`~safepoint.persistence.changes.Snapshot` of what was read;
saving diffs the state against it (:func:`~safepoint.persistence.changes.diff`) and
writes the change set, with the update of the process instance row that checks and
bumps its revision (optimistic locking).

On PostgreSQL, the hot path of every job, a load is one statement (two with the lock)
and a save one statement (:mod:`safepoint.persistence.postgresql`). Elsewhere (SQLite)
SQLAlchemy Core issues one statement per table and kind of change, batched.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, func, insert, select, update

from safepoint.core.state import InstanceState
from safepoint.persistence import postgresql, tables
from safepoint.persistence.changes import (
    COLLECTIONS,
    KEY_COLUMNS,
    ChangeSet,
    Collection,
    Snapshot,
    TableChanges,
    committed,
    diff,
    empty_snapshot,
    loaded_snapshot,
    lost_update,
)
from safepoint.persistence.rows import JOB_LOGS, PROCESS_INSTANCES, RowSnapshot

__all__ = ["Snapshot", "insert_instance", "load_instance", "save_instance"]

IDS_PER_READ = 1000
"""At most this many ids in one late read (one bound parameter each: SQLite allows 32,766
per statement, psycopg 65,535)."""

WHOLE_UP_TO = 16
"""A job's run reads every execution of an instance that has at most this many.

Of a wider one (a fork of more branches), it reads the job's execution and those above
it only: a branch's job then costs the same whatever the fork's width (a token arriving
at a parallel join counts those waiting there without reading them). A chain's or a
narrow fork's job reads them all in the same statement, since its run often needs them
(ending a branch, compacting the tree) and a later read would be a round trip more.
"""

_UPDATES = {
    c.rows.table.name: update(c.rows.table).where(
        c.rows.table.c.process_instance_id == bindparam("_pi"),
        c.rows.table.c.id == bindparam("_id"),
    )
    for c in COLLECTIONS
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


def _uses_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def insert_instance(connection: Connection, state: InstanceState) -> Snapshot:
    """Insert every part of a new instance's ``state``; return its snapshot."""
    snapshot = empty_snapshot(state)
    changes = diff(snapshot)  # first: a refused variable value writes nothing
    changes.instance["revision"] = state.instance.revision
    _write(connection, changes)
    committed(snapshot, changes)
    return snapshot


def load_instance(
    connection: Connection,
    process_instance_id: str,
    *,
    lock: bool,
    only_job: str | None = None,
) -> Snapshot | None:
    """Load an instance's runtime state (open incidents and activity instances only).

    With ``only_job`` (a job's run), of the jobs only that one is read, no activity
    instance, and of the executions of an instance with more than :data:`WHOLE_UP_TO`,
    the job's and those above it; the state's ``load_others`` read the others, in this
    transaction, when the command needs them
    (:meth:`~safepoint.core.state.InstanceState.all_jobs`,
    :meth:`~safepoint.core.state.InstanceState.activity_instance`...).
    """
    if _uses_postgresql(connection):
        snapshot = postgresql.load_instance(
            connection, process_instance_id, lock=lock, only_job=only_job, whole_up_to=WHOLE_UP_TO
        )
    else:
        snapshot = _load(connection, process_instance_id, lock=lock, only_job=only_job)
    if snapshot is None:
        return None
    state = snapshot.state
    for collection in COLLECTIONS:
        if collection.attribute in snapshot.partly_read:
            state.load_others[collection.attribute] = partial(
                _load_others, connection, snapshot, collection
            )
    if "executions" in snapshot.partly_read:
        state.count_waiting_others = partial(_count_waiting_others, connection, snapshot)
    return snapshot


def _load(
    connection: Connection, process_instance_id: str, *, lock: bool, only_job: str | None
) -> Snapshot | None:
    """:func:`load_instance` with SQLAlchemy Core: one statement per table (SQLite)."""
    table = tables.process_instances
    query = select(table).where(table.c.id == process_instance_id)
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    state = InstanceState(instance=PROCESS_INSTANCES.load(row))
    entities: dict[str, dict[str, RowSnapshot]] = {}
    partly_read: set[str] = set()
    for collection in COLLECTIONS:
        rows = collection.rows
        loaded = getattr(state, collection.attribute)
        snapshots = entities[collection.attribute] = {}
        if only_job is not None and collection.for_a_job != "all":
            partly_read.add(collection.attribute)
        if only_job is not None and collection.for_a_job == "none":
            continue  # read when needed
        query = _collection_query(collection, process_instance_id)
        if only_job is not None and collection.for_a_job == "the job":
            query = query.where(rows.table.c.id == only_job)
        for entity_row in connection.execute(query).mappings():
            entity = rows.load(entity_row)
            loaded[entity.id] = entity
            snapshots[entity.id] = rows.snapshot(entity)
    waiting_unread = None
    if only_job is not None:
        waiting_unread = _keep_the_job_path(state, entities["executions"], only_job, partly_read)
    var = tables.variables
    variable_rows = connection.execute(
        select(var.c.scope_id, var.c.name, var.c.type_name, var.c.text_value)
        .where(var.c.process_instance_id == process_instance_id)
        .order_by(var.c.scope_id, var.c.name)
    )
    return loaded_snapshot(
        state,
        entities,
        variable_rows.tuples(),
        partly_read=partly_read,
        waiting_unread=waiting_unread,
    )


def _keep_the_job_path(
    state: InstanceState, snapshots: dict[str, RowSnapshot], job_id: str, partly_read: set[str]
) -> tuple[str, dict[str, int]] | None:
    """Keep the executions of the job's path only, on an instance with many.

    Beyond :data:`WHOLE_UP_TO` executions, keep the job's and those above it, and count
    the waiting siblings of the job's execution, as PostgreSQL's load does (SQLite
    reads them all first).
    """
    executions = state.executions
    if len(executions) <= WHOLE_UP_TO:
        partly_read.discard("executions")
        return None
    job = state.jobs.get(job_id)
    token = executions.get(job.execution_id) if job is not None else None
    kept: set[str] = set()
    execution = token
    while execution is not None:
        kept.add(execution.id)
        execution = executions.get(execution.parent_id or "")
    waiting: dict[str, int] = {}
    for execution_id in [key for key in executions if key not in kept]:
        other = executions.pop(execution_id)
        del snapshots[execution_id]
        if (
            token is not None
            and other.parent_id == token.parent_id
            and other.is_concurrent
            and not other.is_active
            and other.activity_id is not None
        ):
            waiting[other.activity_id] = waiting.get(other.activity_id, 0) + 1
    if token is None or token.parent_id is None:
        return None
    return token.parent_id, waiting


def _count_waiting_others(
    connection: Connection, snapshot: Snapshot, scope_id: str, activity_id: str
) -> int:
    """How many executions not read yet wait at ``activity_id`` in ``scope_id``.

    They are the inactive concurrent children of ``scope_id`` there: the count a
    parallel join needs, without their rows.

    The load counted them for the scope of the job's execution: they have not changed
    since, as far as this command can tell (whatever it changes it has read; an unlocked
    load's save fails if another transaction changed the instance meanwhile).
    """
    if snapshot.waiting_unread is not None and snapshot.waiting_unread[0] == scope_id:
        return snapshot.waiting_unread[1].get(activity_id, 0)
    known = snapshot.entities["executions"]
    if scope_id in snapshot.state.executions and scope_id not in known:
        return 0  # a scope the command created: its children are all in memory
    read = list(known)
    if _uses_postgresql(connection):
        return postgresql.count_waiting(
            connection, snapshot.state.id, scope_id, activity_id, exclude=read
        )
    table = tables.executions
    counted = connection.execute(
        select(func.count())
        .select_from(table)
        .where(
            table.c.process_instance_id == snapshot.state.id,
            table.c.parent_id == scope_id,
            table.c.activity_id == activity_id,
            table.c.is_concurrent.is_(True),
            table.c.is_active.is_(False),
            table.c.id.not_in(read),
        )
    ).scalar_one()
    return int(counted)


def _collection_query(collection: Collection, process_instance_id: str) -> Select[Any]:
    """The loaded rows of one collection of an instance, in their order."""
    table = collection.rows.table
    query = select(table).where(table.c.process_instance_id == process_instance_id)
    if collection.loaded is not None:
        query = query.where(collection.loaded)
    return query.order_by(*(table.c[name] for name in collection.order_by))


def _load_others(
    connection: Connection,
    snapshot: Snapshot,
    collection: Collection,
    entity_ids: Iterable[str] | None = None,
) -> set[str]:
    """Read the entities of ``collection`` a job run's load left out; return their ids.

    All of them, joining the state's in the order a whole load has them, before those
    the command created (those the command deleted stay deleted); or, with
    ``entity_ids``, those of them that are there and were not read before, in one
    statement.
    """
    state = snapshot.state
    rows = collection.rows
    known = snapshot.entities[collection.attribute]
    current: dict[str, Any] = getattr(state, collection.attribute)
    query = _collection_query(collection, state.id)
    if entity_ids is not None:
        missing = list(dict.fromkeys(i for i in entity_ids if i not in known))
        read: set[str] = set()
        for start in range(0, len(missing), IDS_PER_READ):
            some = missing[start : start + IDS_PER_READ]
            for row in connection.execute(query.where(rows.table.c.id.in_(some))).mappings():
                entity = current[row["id"]] = rows.load(row)
                known[row["id"]] = rows.snapshot(entity)
                read.add(row["id"])
        return read
    ordered: dict[str, Any] = {}
    added: set[str] = set()
    for row in connection.execute(query).mappings():
        row_id = row["id"]
        if row_id in known:
            if row_id in current:
                ordered[row_id] = current[row_id]
            continue
        entity = ordered[row_id] = rows.load(row)
        known[row_id] = rows.snapshot(entity)
        added.add(row_id)
    ordered.update((key, entity) for key, entity in current.items() if key not in ordered)
    current.clear()
    current.update(ordered)
    return added


def save_instance(connection: Connection, snapshot: Snapshot) -> None:
    """Write what changed in ``snapshot.state`` since ``snapshot``; refresh ``snapshot``.

    Raises:
        OptimisticLockError: another transaction saved the instance since it was loaded.
    """
    changes = diff(snapshot)
    _write(connection, changes)
    # Only now that every statement succeeded does the snapshot move on.
    committed(snapshot, changes)


def _write(connection: Connection, changes: ChangeSet) -> None:
    if _uses_postgresql(connection):
        postgresql.write_changes(connection, changes)
        return
    instance_table = tables.process_instances
    if changes.expected_revision is None:
        connection.execute(insert(instance_table), [changes.instance])
    else:
        values = {k: v for k, v in changes.instance.items() if k != "id"}
        result = connection.execute(
            update(instance_table)
            .where(
                instance_table.c.id == changes.process_instance_id,
                instance_table.c.revision == changes.expected_revision,
            )
            .values(**values)
        )
        if result.rowcount != 1:
            raise lost_update(changes.process_instance_id)
    for table_changes in changes.tables:
        _write_table(connection, table_changes)
    if changes.variables_inserted:
        connection.execute(insert(tables.variables), changes.variables_inserted)
    if changes.variables_updated:
        connection.execute(
            _UPDATE_VARIABLE,
            [
                {
                    "_pi": row["process_instance_id"],
                    "_scope": row["scope_id"],
                    "_name": row["name"],
                    "_type": row["type_name"],
                    "_text": row["text_value"],
                }
                for row in changes.variables_updated
            ],
        )
    if changes.variables_deleted:
        connection.execute(
            _DELETE_VARIABLE,
            [
                {"_pi": changes.process_instance_id, "_scope": scope, "_name": name}
                for scope, name in changes.variables_deleted
            ],
        )
    if changes.job_logs:
        connection.execute(insert(JOB_LOGS.table), changes.job_logs)


def _write_table(connection: Connection, changes: TableChanges) -> None:
    table = changes.rows.table
    if changes.inserted:
        connection.execute(insert(table), changes.inserted)
    if changes.updated:
        connection.execute(
            _UPDATES[table.name],
            [_keyed(row) for row in changes.updated],
        )
    if changes.deleted:
        connection.execute(
            delete(table).where(
                table.c.process_instance_id == bindparam("_pi"), table.c.id.in_(changes.deleted)
            ),
            {"_pi": changes.process_instance_id},
        )


def _keyed(row: dict[str, Any]) -> dict[str, Any]:
    return {"_pi": row["process_instance_id"], "_id": row["id"]} | {
        k: v for k, v in row.items() if k not in KEY_COLUMNS
    }
