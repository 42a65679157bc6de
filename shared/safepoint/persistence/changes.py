"""What one process instance holds in the database, and what changed since: pure diffing.

A :class:`Snapshot` remembers what was read or written for an instance; :func:`diff`
compares the instance's state with it and returns a :class:`ChangeSet`, the rows to
insert, update and delete per table. The writers (``instances`` with SQLAlchemy Core,
``postgresql`` in one statement) apply a change set; :func:`committed` then moves the
snapshot on. Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement

from safepoint.core.state import InstanceState
from safepoint.errors import BadUserRequest, OptimisticLockError
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

KEY_COLUMNS = frozenset({"process_instance_id", "id"})
"""The primary key columns of every instance-owned entity table."""


@dataclass(frozen=True, slots=True)
class Collection:
    """One ``dict`` attribute of ``InstanceState`` and the table it is stored in."""

    rows: EntityTable[Any]
    attribute: str
    deletable: bool = True
    """Whether an entity missing from the state is deleted (history never is)."""
    loaded: ColumnElement[bool] | None = None
    """Which of the instance's rows are loaded (``None``: all of them)."""
    order_by: tuple[str, ...] = ("created_at", "id")
    for_a_job: Literal["all", "the job", "the job's path", "none"] = "all"
    """What a job's run loads of it: all of it; the job alone; the job's execution and
    those above it, when the instance has many (``instances.WHOLE_UP_TO``); or nothing.
    The state reads the rest when the run needs it (``InstanceState.load_others``)."""


COLLECTIONS = (
    Collection(EXECUTIONS, "executions", order_by=("ordinal", "id"), for_a_job="the job's path"),
    Collection(JOBS, "jobs", for_a_job="the job"),
    Collection(TASKS, "tasks"),
    Collection(EXTERNAL_TASKS, "external_tasks"),
    Collection(SUBSCRIPTIONS, "subscriptions"),
    Collection(
        INCIDENTS,
        "incidents",
        deletable=False,
        loaded=tables.incidents.c.resolved_at.is_(None),
    ),
    Collection(
        ACTIVITY_INSTANCES,
        "activity_instances",
        deletable=False,
        loaded=tables.historic_activity_instances.c.ended_at.is_(None),
        order_by=("ordinal", "id"),
        for_a_job="none",
    ),
)
"""The entity collections of an instance, in the order they are loaded and written."""


@dataclass(slots=True)
class Snapshot:
    """What the database holds for one instance, as of the last load or write."""

    state: InstanceState
    """The state object this snapshot belongs to (kept so that its ``id()`` stays unique)."""
    revision: int | None
    """The revision of the stored instance row; ``None`` while it is not stored yet."""
    entities: dict[str, dict[str, RowSnapshot]]
    variables: dict[VariableKey, tuple[str, str]]
    job_log_ids: set[str]
    partly_read: frozenset[str] = frozenset()
    """The collections of which the load read only some rows (a job's run)."""
    waiting_unread: tuple[str, dict[str, int]] | None = None
    """Of the executions the load left out, those waiting (inactive) as concurrent
    children of one scope execution, counted per activity: ``(scope id, {activity id:
    count})``. The scope is the parent of the job's execution."""


def loaded_snapshot(
    state: InstanceState,
    entities: dict[str, dict[str, RowSnapshot]],
    variable_rows: Iterable[tuple[str, str, str, str]],
    *,
    partly_read: Iterable[str],
    waiting_unread: tuple[str, dict[str, int]] | None,
) -> Snapshot:
    """The snapshot of a loaded instance, whichever way it was read.

    Its variables, ``(scope id, name, type name, text)`` rows, go into ``state`` too.
    """
    variables: dict[VariableKey, tuple[str, str]] = {}
    for scope_id, name, type_name, text in variable_rows:
        state.variables.setdefault(scope_id, {})[name] = deserialize(type_name, text)
        variables[(scope_id, name)] = (type_name, text)
    return Snapshot(
        state,
        state.instance.revision,
        entities,
        variables,
        set(),
        frozenset(partly_read),
        waiting_unread,
    )


def empty_snapshot(state: InstanceState) -> Snapshot:
    """The snapshot of an instance not stored yet: saving it inserts everything."""
    return Snapshot(state, None, {c.attribute: {} for c in COLLECTIONS}, {}, set())


@dataclass(slots=True)
class TableChanges:
    """The rows of one entity table to insert, update (whole rows) and delete (by id)."""

    rows: EntityTable[Any]
    process_instance_id: str
    inserted: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ChangeSet:
    """Everything one save writes for one instance.

    ``instance`` is the instance row with its new revision. ``expected_revision`` is the
    stored revision the update must find (optimistic locking); ``None`` means the row
    is inserted.
    """

    process_instance_id: str
    instance: dict[str, Any]
    expected_revision: int | None
    tables: list[TableChanges]
    variables_inserted: list[dict[str, str]]
    variables_updated: list[dict[str, str]]
    variables_deleted: list[VariableKey]
    job_logs: list[dict[str, Any]]
    # What the snapshot becomes once the change set is written:
    entities: dict[str, dict[str, RowSnapshot]]
    variables: dict[VariableKey, tuple[str, str]]


def serialized_variables(state: InstanceState) -> dict[VariableKey, tuple[str, str]]:
    """Every variable of ``state`` as ``(type_name, text)``."""
    return {
        (scope_id, name): serialize(value, name=name)
        for scope_id, scope in state.variables.items()
        for name, value in scope.items()
    }


NOT_JSON_DOUBLES = frozenset({"nan", "inf", "-inf"})
"""Double texts JSON cannot carry (never readable over REST nor sendable to a worker)."""


def _refuse_what_json_cannot_carry(key: VariableKey, stored: tuple[str, str]) -> None:
    """Refuse a new or changed NaN or infinity; one stored before it was refused stays."""
    type_name, text = stored
    if type_name == "Double" and text in NOT_JSON_DOUBLES:
        raise BadUserRequest(
            f"variable {key[1]!r} holds {text}, which JSON cannot represent; use None or a string"
        )


def diff(snapshot: Snapshot) -> ChangeSet:
    """What to write so that the database holds ``snapshot.state``.

    Raises:
        VariableSerializationError: a variable value cannot be stored (nothing is written).
    """
    state = snapshot.state
    variables = serialized_variables(state)  # first: a refused value writes nothing
    old = snapshot.variables
    changed = [(key, value) for key, value in variables.items() if old.get(key) != value]
    for key, value in changed:
        _refuse_what_json_cannot_carry(key, value)
    revision = 0 if snapshot.revision is None else snapshot.revision + 1
    instance = PROCESS_INSTANCES.row(state.instance) | {"revision": revision}
    changed_tables: list[TableChanges] = []
    entities: dict[str, dict[str, RowSnapshot]] = {}
    for collection in COLLECTIONS:
        changes, entities[collection.attribute] = _diff_collection(
            collection,
            state.id,
            snapshot.entities[collection.attribute],
            getattr(state, collection.attribute),
        )
        if changes.inserted or changes.updated or changes.deleted:
            changed_tables.append(changes)
    pid = state.id
    return ChangeSet(
        process_instance_id=pid,
        instance=instance,
        expected_revision=snapshot.revision,
        tables=changed_tables,
        variables_inserted=[
            _variable_row(pid, key, value) for key, value in changed if key not in old
        ],
        variables_updated=[_variable_row(pid, key, value) for key, value in changed if key in old],
        variables_deleted=[key for key in old if key not in variables],
        job_logs=[
            JOB_LOGS.row(log) for log in state.job_logs if log.id not in snapshot.job_log_ids
        ],
        entities=entities,
        variables=variables,
    )


def committed(snapshot: Snapshot, changes: ChangeSet) -> None:
    """Move ``snapshot`` on to what ``changes`` wrote (call once every statement succeeded)."""
    snapshot.entities = changes.entities
    snapshot.variables = changes.variables
    snapshot.job_log_ids.update(row["id"] for row in changes.job_logs)
    snapshot.revision = changes.instance["revision"]
    snapshot.state.instance.revision = snapshot.revision


def lost_update(process_instance_id: str) -> OptimisticLockError:
    """The error of a save whose instance row no longer has the revision it was read at."""
    return OptimisticLockError(
        f"process instance {process_instance_id} was updated by another transaction concurrently"
    )


def _diff_collection(
    collection: Collection,
    process_instance_id: str,
    old: dict[str, RowSnapshot],
    current: dict[str, Any],
) -> tuple[TableChanges, dict[str, RowSnapshot]]:
    rows = collection.rows
    changes = TableChanges(rows, process_instance_id)
    new: dict[str, RowSnapshot] = {}
    for entity_id, entity in current.items():
        values = new[entity_id] = rows.snapshot(entity)
        previous = old.get(entity_id)
        if previous is None:
            changes.inserted.append(rows.row(entity))
        elif previous != values:
            changes.updated.append(rows.row(entity))
    if not collection.deletable:
        return changes, old | new
    changes.deleted = [entity_id for entity_id in old if entity_id not in new]
    return changes, new


def _variable_row(pid: str, key: VariableKey, value: tuple[str, str]) -> dict[str, str]:
    return {
        "process_instance_id": pid,
        "scope_id": key[0],
        "name": key[1],
        "type_name": value[0],
        "text_value": value[1],
    }
