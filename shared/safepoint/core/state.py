"""Everything the core reads and writes for one process instance in one command."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

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


@dataclass(slots=True)
class InstanceState:
    """The runtime state of one process instance, loaded for one command.

    ``variables`` maps a variable scope id to that scope's variables: the process
    instance id for process variables, an activity instance id for the local variables
    of a sub-process or of an activity with input mappings. Values are plain Python
    values (None, bool, int, float, str, datetime, lists and dicts of those).

    ``activity_instances`` holds the instance's *open* historic activity instances plus
    every one touched by this command; ``incidents`` the open incidents plus those
    touched. ``job_logs`` holds only entries added by this command (append-only).

    ``executions``, ``jobs`` and ``activity_instances`` may hold only some of the
    instance's: a job's own run loads its job alone, no activity instance, and of a
    wide instance's executions only the job's and those above it, since the others are
    rarely needed and a wide fork has many of each. Then ``load_others`` maps each such
    attribute to what reads the rest, or some of them by id (in the same transaction),
    and tells their ids; and :attr:`count_waiting_others` counts, for a parallel join,
    the executions not read that wait at it.
    Whatever needs every execution goes through :meth:`all_executions`, one execution
    through :meth:`execution`, every job through :meth:`all_jobs`, every activity
    instance through :meth:`all_activity_instances`, one activity instance through
    :meth:`activity_instance` (after :meth:`read_activity_instances` for many of them,
    read together); never straight through the dicts. An entity the command created or
    removed is in its dict or out of it, read or not: removing one means having read it.
    """

    instance: ProcessInstance
    executions: dict[str, Execution] = field(default_factory=dict)
    variables: dict[str, dict[str, object]] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    external_tasks: dict[str, ExternalTask] = field(default_factory=dict)
    subscriptions: dict[str, EventSubscription] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    activity_instances: dict[str, HistoricActivityInstance] = field(default_factory=dict)
    job_logs: list[JobLog] = field(default_factory=list)
    load_others: dict[str, Callable[[Iterable[str] | None], set[str]]] = field(default_factory=dict)
    """Per attribute: reads the entities not loaded yet (all, or those of the ids given)."""
    loaded_late: dict[str, set[str]] = field(default_factory=dict)
    """Per attribute, the ids ``load_others`` read: they existed before the command."""
    count_waiting_others: Callable[[str, str], int] | None = None
    """While ``executions`` holds only some: how many of those not read are concurrent
    children of a scope execution (its id) waiting, inactive, at an activity (its id)."""

    @property
    def id(self) -> str:
        """The process instance id."""
        return self.instance.id

    def all_executions(self) -> dict[str, Execution]:
        """Every execution of the instance (``executions``, after reading those not loaded yet)."""
        self._complete("executions")
        return self.executions

    def execution(self, execution_id: str) -> Execution:
        """One execution, the others read first if it is not loaded yet.

        Raises:
            KeyError: the instance has no such execution.
        """
        found = self.executions.get(execution_id)
        if found is None:
            return self.all_executions()[execution_id]
        return found

    def find_execution(self, execution_id: str) -> Execution | None:
        """Like :meth:`execution`, but ``None`` for an id the instance does not have."""
        found = self.executions.get(execution_id)
        if found is None:
            return self.all_executions().get(execution_id)
        return found

    def waiting_at(self, scope_id: str, activity_id: str) -> int:
        """How many concurrent children of the scope execution ``scope_id`` wait at ``activity_id``.

        Waiting is being inactive there: a parallel join's arrived tokens. Those not
        loaded yet are counted without being read.
        """
        waiting = sum(
            1
            for e in self.executions.values()
            if e.parent_id == scope_id
            and e.is_concurrent
            and not e.is_active
            and e.activity_id == activity_id
        )
        if self.count_waiting_others is not None:  # dropped once every execution is read
            waiting += self.count_waiting_others(scope_id, activity_id)
        return waiting

    def all_jobs(self) -> dict[str, Job]:
        """Every job of the instance (``jobs``, after reading those not loaded yet)."""
        self._complete("jobs")
        return self.jobs

    def all_activity_instances(self) -> dict[str, HistoricActivityInstance]:
        """Every open activity instance, and those this command touched."""
        self._complete("activity_instances")
        return self.activity_instances

    def activity_instance(self, activity_instance_id: str) -> HistoricActivityInstance | None:
        """One open (or touched) activity instance, read alone first if not loaded yet."""
        found = self.activity_instances.get(activity_instance_id)
        if found is None and "activity_instances" in self.load_others:
            self.read_activity_instances((activity_instance_id,))
            found = self.activity_instances.get(activity_instance_id)
        return found

    def read_activity_instances(self, activity_instance_ids: Iterable[str | None]) -> None:
        """Read those of these activity instances not loaded yet, together.

        What ends many activity instances at once (a join folding back a wide fork, a
        scope cancelled with its branches) calls this first: one read, not one each.
        """
        load = self.load_others.get("activity_instances")
        if load is None:
            return
        wanted = [
            key
            for key in activity_instance_ids
            if key is not None and key not in self.activity_instances
        ]
        if wanted:
            self._loaded_late("activity_instances").update(load(wanted))

    def _complete(self, attribute: str) -> None:
        load = self.load_others.pop(attribute, None)
        if load is not None:
            self._loaded_late(attribute).update(load(None))
            if attribute == "executions":
                self.count_waiting_others = None

    def _loaded_late(self, attribute: str) -> set[str]:
        return self.loaded_late.setdefault(attribute, set())

    def next_ordinal(self) -> int:
        """A number greater than every ordinal handed out before in this instance."""
        self.instance.next_ordinal += 1
        return self.instance.next_ordinal
