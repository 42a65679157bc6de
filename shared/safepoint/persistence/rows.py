"""How entities become table rows and back, and the snapshots the diff compares."""

from __future__ import annotations

from dataclasses import dataclass, fields
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

    @classmethod
    def of(cls, table: Table, entity: type[E]) -> EntityTable[E]:
        """Pair ``table`` with ``entity``; every field must have its column."""
        names = tuple(f.name for f in fields(entity))  # type: ignore[arg-type]
        missing = set(names) - set(table.c.keys())
        if missing:
            raise TypeError(f"table {table.name} lacks columns {sorted(missing)}")
        return cls(table, entity, names)

    def row(self, obj: E) -> dict[str, Any]:
        """The column values of ``obj``."""
        return {name: getattr(obj, name) for name in self.names}

    def load(self, row: RowMapping) -> E:
        """The entity a row stands for."""
        return self.entity(**row)

    def snapshot(self, obj: E) -> RowSnapshot:
        """The values of ``obj`` to compare later; dicts are copied, since they are mutable."""
        return tuple(
            dict(value) if isinstance(value, dict) else value
            for value in (getattr(obj, name) for name in self.names)
        )


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
