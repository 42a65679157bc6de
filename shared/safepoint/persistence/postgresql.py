"""One process instance on PostgreSQL in few round trips: the job's hot path.

Loading is one statement: the instance row and each of its collections as a JSON
array (``json_agg``), decoded here with the columns' own types. For a job's run it
reads of the jobs only that one, no activity instance, and at most ``whole`` + 1
executions: all of them, or, for an instance with more (a wide fork), a second
statement reads the job's path of executions instead, with the count of the tokens
waiting beside it (a job that had to wait for the lock learns the width as it waits,
and reads the path in its one read). With ``lock=True`` the
same statement locks the instance row first, in a subquery (``FOR UPDATE SKIP
LOCKED``), and reads the collections only once it holds the lock. When another
transaction holds the lock, it returns nothing without having read anything, and the
load waits for the lock in a statement of its own, then reads (the state is built once,
from what the holder committed). A row committed to between the statement's snapshot
and its lock is locked as committed while what is read is as of the snapshot (READ
COMMITTED); every write to an instance bumps its revision, so the statement also
returns the locked revision, and when it differs from the one read, it reads again,
now under the lock.

Saving is one statement too: data-modifying CTEs, one per table and kind of change,
each taking its rows as one JSON parameter (``json_populate_recordset``), so that the
statement's text depends only on which tables change and is prepared by psycopg after
a few runs. The update of the instance row checks and bumps the revision; the
statement returns how many instance rows it updated, and 0 means another transaction
won (optimistic locking). Every sub-statement finds its rows by the instance id as a
parameter of its own, never only through a join with the JSON rows: the planner
guesses 100 rows for a JSON function and would hash-join it against the whole table
(a scan of every instance's executions per job).

The SQL is plain text, run on the driver's connection inside the unit of work's
transaction: no statement is built, no cache key computed, no result wrapped (a third
of a job's CPU in this process otherwise). With tracing on, each statement gets a
``CLIENT`` span of its own (:func:`safepoint.tracing.database_span`), like the spans
the SQLAlchemy instrumentation makes for every other statement. With tracing off and
something listening to SQLAlchemy's statement events (a test counting statements), the
text goes through ``exec_driver_sql`` instead. Either way the driver's errors reach the
unit of work as SQLAlchemy's, and are translated there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any, Literal

import psycopg
from sqlalchemy import Column, Connection
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.util import ClauseAdapter
from sqlalchemy.types import TypeDecorator

from safepoint import tracing
from safepoint.core.deployments import ProcessDefinition
from safepoint.core.state import InstanceState
from safepoint.persistence import tables
from safepoint.persistence.changes import (
    COLLECTIONS,
    KEY_COLUMNS,
    ChangeSet,
    Collection,
    Snapshot,
    loaded_snapshot,
    lost_update,
)
from safepoint.persistence.column_types import JsonDict, UtcDateTime
from safepoint.persistence.rows import (
    JOB_LOGS,
    PROCESS_DEFINITIONS,
    PROCESS_INSTANCES,
    EntityTable,
    RowSnapshot,
)

_DIALECT = pg_dialect.psycopg.dialect()  # type: ignore[no-untyped-call]
_quote = _DIALECT.identifier_preparer.quote

Convert = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _encoder(column: Column[Any]) -> Convert:
    """Column value → JSON value, with the column type's own bind conversion."""
    column_type = column.type
    if isinstance(column_type, UtcDateTime):
        bind = column_type.process_bind_param

        def encode_datetime(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is UTC:  # most are: the engine's clock is UTC
                return value.isoformat()
            converted = bind(value, _DIALECT)  # refuses naive datetimes
            return None if converted is None else converted.isoformat()

        return encode_datetime
    if isinstance(column_type, TypeDecorator):
        process = column_type.process_bind_param
        return lambda value: process(value, _DIALECT)
    return _identity


def _decoder(column: Column[Any]) -> Convert:
    """JSON value → the Python value the column type would have loaded."""
    column_type = column.type
    if isinstance(column_type, UtcDateTime):
        return lambda value: (
            None if value is None else datetime.fromisoformat(value).astimezone(UTC)
        )
    if isinstance(column_type, JsonDict):
        return _json_dict
    if isinstance(column_type, TypeDecorator):
        process = column_type.process_result_value
        return lambda value: process(value, _DIALECT)
    return _identity


@lru_cache(maxsize=1024)
def _parsed_dict(text: str) -> dict[str, Any]:
    return dict(json.loads(text)) if text else {}


def _json_dict(text: str | None) -> dict[str, Any]:
    """A ``JsonDict`` column's dict, a copy of its own for each row.

    The same text (a trace context, shared by an instance's rows) is parsed once.
    """
    return {} if not text else dict(_parsed_dict(text))


@dataclass(frozen=True, slots=True)
class _Codec:
    """An entity table's columns, in field order, with their JSON conversions."""

    rows: EntityTable[Any]
    columns: tuple[str, ...]
    encoders: tuple[tuple[str, Convert], ...]
    decoders: tuple[tuple[int, Convert], ...]
    """Only the columns whose value needs converting, either way (most need none)."""

    @classmethod
    def of(cls, rows: EntityTable[Any]) -> _Codec:
        columns = [rows.table.c[name] for name in rows.names]
        encoders = ((c.name, _encoder(c)) for c in columns)
        decoders = ((i, _decoder(c)) for i, c in enumerate(columns))
        return cls(
            rows,
            rows.names,
            tuple((name, encode) for name, encode in encoders if encode is not _identity),
            tuple((i, decode) for i, decode in decoders if decode is not _identity),
        )

    def encode(self, row: dict[str, Any]) -> dict[str, Any]:
        """The JSON object of one row (a copy: ``row`` stays as it is)."""
        encoded = dict(row)
        for name, encode in self.encoders:
            encoded[name] = encode(encoded[name])
        return encoded

    def decode(self, values: list[Any]) -> Any:
        """The entity of one JSON array of column values (``values`` is converted in place).

        Entity classes are dataclasses whose fields are the columns, in this order.
        """
        for i, decode in self.decoders:
            values[i] = decode(values[i])
        return self.rows.entity(*values)


_INSTANCE = _Codec.of(PROCESS_INSTANCES)
_EXECUTIONS = next(c for c in COLLECTIONS if c.attribute == "executions")
_EXECUTIONS_AT = 1 + COLLECTIONS.index(_EXECUTIONS)
"""Where the executions are in a load's row (after the instance row)."""
_CODECS = {c.rows.table.name: _Codec.of(c.rows) for c in COLLECTIONS} | {
    JOB_LOGS.table.name: _Codec.of(JOB_LOGS)
}


def _columns(alias: str, names: tuple[str, ...]) -> str:
    return ", ".join(f"{alias}.{_quote(name)}" for name in names)


# The load's text stays under psycopg's MAX_CACHED_STATEMENT_LENGTH (4,096 characters),
# or psycopg would parse it again on every run: hence the short aliases (``p``, ``c``).


def _aggregated(collection: Collection, source: str, where: str) -> str:
    """The JSON array of a collection's rows (each a JSON array of its columns), in order.

    The rows are read from ``source``, aliased ``c``.
    """
    return (
        f"(SELECT coalesce(json_agg(json_build_array({_columns('c', collection.rows.names)}) "
        f"ORDER BY {_columns('c', collection.order_by)}), '[]'::json) "
        f"FROM {source} AS c{f' WHERE {where}' if where else ''})"
    )


Read = Literal["whole", "job", "job's path"]
"""What a load reads of an instance: all of it; for a job's run, its job alone, no
activity instance and up to ``whole`` + 1 executions (all of them, or too many); or,
for a job's run on an instance known to have many executions, its job's path of
executions and the count of those waiting beside it (:func:`_path`)."""


def _collection_json(collection: Collection, read: Read) -> str:
    if read != "whole" and collection.for_a_job == "none":
        return "'[]'::json"  # a job's run reads them when needed
    table = collection.rows.table
    where = "c.process_instance_id = p.id"
    if collection.loaded is not None:
        loaded = ClauseAdapter(table.alias("c")).traverse(collection.loaded)
        where += " AND " + str(loaded.compile(dialect=_DIALECT))
    source = _quote(table.name)
    if read == "whole" or collection.for_a_job == "all":
        return _aggregated(collection, source, where)
    if collection.for_a_job == "the job":
        return _aggregated(collection, source, f"{where} AND c.id = %(job)s")
    if read == "job's path":
        return f"({_path('p.id')})"
    # Without an order, the read stops at as many rows whatever the instance's width.
    limited = f"(SELECT * FROM {source} AS c WHERE {where} LIMIT %(whole)s + 1)"
    return _aggregated(collection, limited, "")


def _path(instance_id: str) -> str:
    """``[the executions of a job's path, the waiting siblings]``, as one JSON array.

    The path is the job's execution and those above it. The waiting siblings are the
    inactive concurrent executions beside the job's (``token``), counted per activity:
    what a parallel join needs to know of those not read.
    """
    return (
        "WITH RECURSIVE job AS (SELECT j.execution_id AS id FROM jobs AS j "
        f"WHERE j.process_instance_id = {instance_id} AND j.id = %(job)s), "
        "path AS (SELECT c.* FROM executions AS c JOIN job ON c.id = job.id "
        f"WHERE c.process_instance_id = {instance_id} "
        "UNION ALL SELECT c.* FROM path JOIN executions AS c "
        f"ON c.process_instance_id = {instance_id} AND c.id = path.parent_id), "
        "token AS (SELECT path.* FROM path JOIN job ON path.id = job.id) "
        f"SELECT json_build_array({_aggregated(_EXECUTIONS, 'path', '')}, "
        "(SELECT coalesce(json_object_agg(w.activity_id, w.n), '{}'::json) FROM "
        "(SELECT s.activity_id, count(*) AS n FROM executions AS s JOIN token AS t "
        "ON s.parent_id = t.parent_id AND s.id <> t.id "
        f"WHERE s.process_instance_id = {instance_id} "
        "AND s.is_concurrent AND NOT s.is_active AND s.activity_id IS NOT NULL "
        "GROUP BY s.activity_id) AS w))"
    )


def _select(read: Read) -> str:
    """The load's select list, of ``process_instances AS p`` (named parameters)."""
    return (
        "SELECT json_build_array("
        + _columns("p", PROCESS_INSTANCES.names)
        + "), "
        + ", ".join(_collection_json(c, read) for c in COLLECTIONS)
        + ", (SELECT coalesce(json_agg(json_build_array(v.scope_id, v.name, v.type_name, "
        "v.text_value) ORDER BY v.scope_id, v.name), '[]'::json) FROM variables AS v "
        "WHERE v.process_instance_id = p.id)"
    )


def _load_sql(read: Read) -> str:
    return _select(read) + " FROM process_instances AS p WHERE p.id = %(id)s"


def _load_locked_sql(read: Read) -> str:
    # The lock is taken in a subquery of its own, before anything is read: a row-locking
    # clause on the outer query would have PostgreSQL build every collection's JSON and
    # then drop it when the row is locked elsewhere (a wide fork's contended jobs).
    return (
        _select(read) + ", locked.revision "
        "FROM (SELECT id, revision FROM process_instances WHERE id = %(id)s "
        "FOR UPDATE SKIP LOCKED) AS locked JOIN process_instances AS p ON p.id = locked.id"
    )


_LOAD: dict[Read, str] = {read: _load_sql(read) for read in ("whole", "job", "job's path")}
_LOAD_LOCKED: dict[Read, str] = {read: _load_locked_sql(read) for read in ("whole", "job")}
_PATH = f"SELECT ({_path('%(id)s')}), (SELECT revision FROM process_instances WHERE id = %(id)s)"
"""The executions of a job's path, once a load has found too many to read them all, and
the instance's revision: without the lock, another transaction may commit between the
two statements (a non-exclusive job), and the path must be as of the first one's."""
_LOAD_SPAN = "SELECT process_instances"
"""The span name of the load's statements (tracing on)."""
_LOCK = "SELECT 1 FROM process_instances WHERE id = %(id)s FOR UPDATE"
_LOCK_COUNTING = (
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM executions WHERE process_instance_id = %(id)s "
    "LIMIT %(whole)s + 1) AS c) FROM process_instances WHERE id = %(id)s FOR UPDATE"
)
"""A job's run waiting for its instance's lock: and how many executions the instance had
(up to ``whole`` + 1) as the wait began, to choose what to read once the lock is held
(a hint: the holder may change them before it commits)."""
_REVISION = PROCESS_INSTANCES.names.index("revision")
"""Where the revision is in the instance row's JSON array."""


def load_instance(
    connection: Connection,
    process_instance_id: str,
    *,
    lock: bool,
    only_job: str | None = None,
    whole_up_to: int = 0,
) -> Snapshot | None:
    """Load an instance's runtime state (open incidents and activity instances only).

    With ``only_job`` (a job's run), of the jobs only that one is read, no activity
    instance, and of the executions, when there are more than ``whole_up_to``, only
    the job's and those above it; the snapshot's ``partly_read`` names what the caller
    must read the rest of when it needs them.
    """
    read: Read = "whole" if only_job is None else "job"
    params: dict[str, Any] = {"id": process_instance_id}
    if only_job is not None:
        params |= {"job": only_job, "whole": whole_up_to}
    row = _fetch(connection, _LOAD_SPAN, _LOAD_LOCKED[read] if lock else _LOAD[read], params)
    if row is None and lock:
        # Locked by another transaction (or gone): wait for the lock, then read.
        if read == "whole":
            held = _fetch(connection, _LOAD_SPAN, _LOCK, params)
        else:
            held = _fetch(connection, _LOAD_SPAN, _LOCK_COUNTING, params)
            if held is not None and held[0] > whole_up_to:
                read = "job's path"  # many executions: read the path at once
        if held is None:
            return None
        row = _fetch(connection, _LOAD_SPAN, _LOAD[read], params)
    elif row is not None and lock and row[-1] != row[0][_REVISION]:
        # Committed to between the statement's snapshot and its lock: read again.
        row = _fetch(connection, _LOAD_SPAN, _LOAD[read], params)
    if row is not None and read == "job" and len(row[_EXECUTIONS_AT]) > whole_up_to:
        # Too many executions to keep: the job's path alone.
        read = "job's path"
        path = _fetch(connection, _LOAD_SPAN, _PATH, params)
        assert path is not None
        if path[1] == row[0][_REVISION]:
            row = (*row[:_EXECUTIONS_AT], path[0], *row[_EXECUTIONS_AT + 1 :])
        else:  # committed to in between (no lock held): read it all again, at once
            row = _fetch(connection, _LOAD_SPAN, _LOAD[read], params)
    if row is None:
        return None
    instance = _INSTANCE.decode(row[0])
    state = InstanceState(instance=instance)
    collections = row[1 : len(COLLECTIONS) + 1]
    entities: dict[str, dict[str, RowSnapshot]] = {}
    partly_read: set[str] = set()
    waiting: dict[str, int] = {}
    for collection, loaded_rows in zip(COLLECTIONS, collections, strict=True):
        if read == "job's path" and collection.for_a_job == "the job's path":
            loaded_rows, waiting = loaded_rows
            partly_read.add(collection.attribute)
        elif read != "whole" and collection.for_a_job in ("the job", "none"):
            partly_read.add(collection.attribute)
        codec = _CODECS[collection.rows.table.name]
        loaded = getattr(state, collection.attribute)
        snapshots = entities[collection.attribute] = {}
        for values in loaded_rows:
            entity = codec.decode(values)
            loaded[entity.id] = entity
            snapshots[entity.id] = collection.rows.snapshot(entity)
    return loaded_snapshot(
        state,
        entities,
        row[len(COLLECTIONS) + 1],
        partly_read=partly_read,
        waiting_unread=(
            _waiting_unread(state, only_job, waiting) if "executions" in partly_read else None
        ),
    )


def _waiting_unread(
    state: InstanceState, job_id: str | None, waiting: dict[str, int]
) -> tuple[str, dict[str, int]] | None:
    """The scope the load counted the waiting executions of, with their counts."""
    job = state.jobs.get(job_id or "")
    token = state.executions.get(job.execution_id) if job is not None else None
    if token is None or token.parent_id is None:
        return None
    return token.parent_id, waiting


_DEFINITION_COLUMNS = ", ".join(_quote(name) for name in PROCESS_DEFINITIONS.names)
_LATEST_DEFINITION = (
    f"SELECT {_DEFINITION_COLUMNS} FROM process_definitions "
    "WHERE key = %s ORDER BY version DESC LIMIT 1"
)
_DEFINITION = f"SELECT {_DEFINITION_COLUMNS} FROM process_definitions WHERE id = %s"


def latest_process_definition(connection: Connection, key: str) -> ProcessDefinition | None:
    """The highest version of the process definition ``key``, or ``None``.

    Every start by key reads it: through SQLAlchemy Core it cost 250 µs of CPU per call,
    70 µs this way.
    """
    row = _fetch(connection, "SELECT process_definitions", _LATEST_DEFINITION, (key,))
    return None if row is None else ProcessDefinition(*row)


def process_definition(connection: Connection, definition_id: str) -> ProcessDefinition | None:
    """The process definition with ``definition_id``, or ``None``: a start by id reads it."""
    row = _fetch(connection, "SELECT process_definitions", _DEFINITION, (definition_id,))
    return None if row is None else ProcessDefinition(*row)


_COUNT_WAITING = (
    "SELECT count(*) FROM executions WHERE process_instance_id = %s AND parent_id = %s "
    "AND activity_id = %s AND is_concurrent AND NOT is_active AND id <> ALL(%s)"
)


def count_waiting(
    connection: Connection,
    process_instance_id: str,
    scope_id: str,
    activity_id: str,
    *,
    exclude: list[str],
) -> int:
    """How many concurrent children of ``scope_id`` wait, inactive, at ``activity_id``.

    The executions ``exclude`` names (those the caller has read) are not counted.
    """
    row = _fetch(
        connection,
        "SELECT executions",
        _COUNT_WAITING,
        (process_instance_id, scope_id, activity_id, exclude),
    )
    assert row is not None
    return int(row[0])


def write_changes(connection: Connection, changes: ChangeSet) -> None:
    """Write ``changes`` in one statement.

    Raises:
        OptimisticLockError: the instance row's revision is no longer the expected one.
    """
    ctes: list[str] = []
    params: list[Any] = []

    def add(sql: str, *values: Any) -> None:
        ctes.append(f"w{len(ctes)} AS ({sql})")
        params.extend(values)

    instance = _dumps(_INSTANCE.encode(changes.instance))
    if changes.expected_revision is None:
        add(_INSERT_INSTANCE, instance)
    else:
        add(_UPDATE_INSTANCE, instance, changes.process_instance_id, changes.expected_revision)
    for table_changes in changes.tables:
        name = table_changes.rows.table.name
        codec = _CODECS[name]
        if table_changes.inserted:
            add(_insert_sql(name, codec.columns), _rows_json(codec, table_changes.inserted))
        if table_changes.updated:
            add(
                _update_sql(name, codec.columns),
                _rows_json(codec, table_changes.updated),
                table_changes.process_instance_id,
            )
        if table_changes.deleted:
            add(_delete_sql(name), table_changes.process_instance_id, _dumps(table_changes.deleted))
    if changes.variables_inserted:
        add(_insert_sql("variables", _VARIABLE_COLUMNS), _dumps(changes.variables_inserted))
    if changes.variables_updated:
        add(_UPDATE_VARIABLES, _dumps(changes.variables_updated), changes.process_instance_id)
    if changes.variables_deleted:
        add(
            _DELETE_VARIABLES,
            changes.process_instance_id,
            _dumps([{"scope_id": s, "name": n} for s, n in changes.variables_deleted]),
        )
    if changes.job_logs:
        add(
            _insert_sql("job_logs", JOB_LOGS.names),
            _rows_json(_CODECS["job_logs"], changes.job_logs),
        )
    sql = "WITH " + ", ".join(ctes) + " SELECT count(*) FROM w0"
    written = _fetch(connection, "WITH process_instances", sql, tuple(params))
    if written is None or written[0] != 1:
        raise lost_update(changes.process_instance_id)


_AFTER_INSTANCE = "EXISTS (SELECT 1 FROM w0)"
"""Every write but the instance row's waits for it and happens only if it succeeded.

The sub-statements of a ``WITH`` run in no set order; reading ``w0`` makes each wait
for the instance row's update, which waits for a concurrent writer's commit and then
finds the revision changed: nothing else is written (no unique violation on a row the
winner inserted) and the statement reports 0, an optimistic locking conflict.
"""


def _fetch(
    connection: Connection, name: str, sql: str, params: tuple[Any, ...] | dict[str, Any]
) -> Sequence[Any] | None:
    """Run ``sql`` in the connection's transaction; its first row, or ``None``.

    ``name`` names the statement's span when tracing is on.
    """
    if connection.dispatch.before_cursor_execute and not tracing.enabled():
        # Observed (a test counting statements): through SQLAlchemy, for its events.
        return connection.exec_driver_sql(sql, params).first()
    raw = connection.connection.driver_connection
    try:
        with tracing.database_span(name, sql):
            return raw.execute(sql, params).fetchone()  # type: ignore[no-any-return,union-attr]
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, params, exc, psycopg.Error) from exc


_VARIABLE_COLUMNS = tuple(tables.variables.c.keys())


def _dumps(rows: list[Any] | dict[str, Any]) -> str:
    return json.dumps(rows, separators=(",", ":"))


def _rows_json(codec: _Codec, rows: list[dict[str, Any]]) -> str:
    return _dumps([codec.encode(row) for row in rows])


@cache
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(_quote(c) for c in columns)
    return (
        f"INSERT INTO {_quote(table)} ({names}) SELECT {names} "
        f"FROM json_populate_recordset(NULL::{_quote(table)}, %s::json) WHERE {_AFTER_INSTANCE}"
    )


@cache
def _update_sql(table: str, columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{_quote(c)} = s.{_quote(c)}" for c in columns if c not in KEY_COLUMNS)
    return (
        f"UPDATE {_quote(table)} AS t SET {assignments} "
        f"FROM json_populate_recordset(NULL::{_quote(table)}, %s::json) AS s "
        "WHERE t.process_instance_id = %s AND t.id = s.id "
        f"AND {_AFTER_INSTANCE}"
    )


@cache
def _delete_sql(table: str) -> str:
    return (
        f"DELETE FROM {_quote(table)} WHERE process_instance_id = %s "
        f"AND id IN (SELECT json_array_elements_text(%s::json)) AND {_AFTER_INSTANCE}"
    )


_INSTANCE_COLUMNS = ", ".join(_quote(c) for c in PROCESS_INSTANCES.names)
_INSERT_INSTANCE = (
    f"INSERT INTO process_instances ({_INSTANCE_COLUMNS}) SELECT {_INSTANCE_COLUMNS} "
    "FROM json_populate_record(NULL::process_instances, %s::json) RETURNING 1"
)
_UPDATE_INSTANCE = (
    "UPDATE process_instances AS t SET "
    + ", ".join(f"{_quote(c)} = s.{_quote(c)}" for c in PROCESS_INSTANCES.names if c != "id")
    + " FROM json_populate_record(NULL::process_instances, %s::json) AS s "
    "WHERE t.id = %s AND t.revision = %s RETURNING 1"
)
_UPDATE_VARIABLES = (
    "UPDATE variables AS t SET type_name = s.type_name, text_value = s.text_value "
    "FROM json_populate_recordset(NULL::variables, %s::json) AS s "
    "WHERE t.process_instance_id = %s "
    f"AND t.scope_id = s.scope_id AND t.name = s.name AND {_AFTER_INSTANCE}"
)
_DELETE_VARIABLES = (
    "DELETE FROM variables AS t WHERE t.process_instance_id = %s AND (t.scope_id, t.name) IN "
    "(SELECT s.scope_id, s.name FROM json_populate_recordset(NULL::variables, %s::json) AS s) "
    f"AND {_AFTER_INSTANCE}"
)
