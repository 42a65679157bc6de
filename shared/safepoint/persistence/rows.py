"""How entities become table rows and back, and the snapshots the diff compares."""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, Generic, TypeVar

from sqlalchemy import RowMapping, Table

from safepoint.core.deployments import ProcessDefinition
from safepoint.core.entities import (
    EventSubscription,
    Execution,
    ExternalTask,
    HistoricActivityInstance,
    Incident,
    Job,
    JobLog,
    ProcessInstance,
    Task,
)
from safepoint.persistence import tables

E = TypeVar("E")

RowSnapshot = tuple[object, ...]
"""The values of one entity's fields, with mutable values copied."""


@dataclass(frozen=True, slots=True)
class EntityTable(Generic[E]):
    """The table of one entity class, whose columns are named after its fields."""

    table: Table
    entity: type[E]
    names: tuple[str, ...]
    _values: attrgetter[tuple[object, ...]]
    """All of an entity's field values at once, in ``names`` order (one C call)."""
    _dicts: tuple[int, ...]
    """Positions of the fields holding a dict (copied in snapshots: dicts are mutable)."""

    @classmethod
    def of(cls, table: Table, entity: type[E]) -> EntityTable[E]:
        """Pair ``table`` with ``entity``; every field must have its column."""
        entity_fields = fields(entity)  # type: ignore[arg-type]
        names = tuple(f.name for f in entity_fields)
        missing = set(names) - set(table.c.keys())
        if missing:
            raise TypeError(f"table {table.name} lacks columns {sorted(missing)}")
        dicts = tuple(i for i, f in enumerate(entity_fields) if "dict" in str(f.type).split("[")[0])
        return cls(table, entity, names, attrgetter(*names), dicts)

    def row(self, obj: E) -> dict[str, Any]:
        """The column values of ``obj``."""
        return dict(zip(self.names, self._values(obj), strict=True))

    def load(self, row: RowMapping) -> E:
        """The entity a row stands for."""
        return self.entity(**row)

    def snapshot(self, obj: E) -> RowSnapshot:
        """The values of ``obj`` to compare later; dicts are copied, since they are mutable."""
        values = self._values(obj)
        if not self._dicts:
            return values
        copied = list(values)
        for i in self._dicts:
            value = copied[i]
            if isinstance(value, dict):
                copied[i] = dict(value)
        return tuple(copied)


PROCESS_INSTANCES = EntityTable.of(tables.process_instances, ProcessInstance)
EXECUTIONS = EntityTable.of(tables.executions, Execution)
JOBS = EntityTable.of(tables.jobs, Job)
TASKS = EntityTable.of(tables.tasks, Task)
EXTERNAL_TASKS = EntityTable.of(tables.external_tasks, ExternalTask)
SUBSCRIPTIONS = EntityTable.of(tables.event_subscriptions, EventSubscription)
INCIDENTS = EntityTable.of(tables.incidents, Incident)
ACTIVITY_INSTANCES = EntityTable.of(tables.historic_activity_instances, HistoricActivityInstance)
JOB_LOGS = EntityTable.of(tables.job_logs, JobLog)
PROCESS_DEFINITIONS = EntityTable.of(tables.process_definitions, ProcessDefinition)
