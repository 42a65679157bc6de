"""Everything the core reads and writes for one process instance in one command."""

from __future__ import annotations

from collections.abc import Callable
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

    ``jobs`` may hold only some of the instance's jobs: a job's own run loads that job
    alone, since the others are rarely needed and a wide fork has many. Then
    ``load_other_jobs`` reads the rest (in the same transaction) and tells their ids;
    whatever needs every job goes through :meth:`all_jobs`, never through ``jobs``.
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
    load_other_jobs: Callable[[], set[str]] | None = None
    jobs_loaded_late: set[str] = field(default_factory=set)
    """The jobs ``load_other_jobs`` read: they existed before the command."""

    @property
    def id(self) -> str:
        """The process instance id."""
        return self.instance.id

    def all_jobs(self) -> dict[str, Job]:
        """Every job of the instance (``jobs``, after reading those not loaded yet)."""
        if self.load_other_jobs is not None:
            load, self.load_other_jobs = self.load_other_jobs, None
            self.jobs_loaded_late |= load()
        return self.jobs

    def next_ordinal(self) -> int:
        """A number greater than every ordinal handed out before in this instance."""
        self.instance.next_ordinal += 1
        return self.instance.next_ordinal
