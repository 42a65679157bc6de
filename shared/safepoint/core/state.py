"""Everything the core reads and writes for one process instance in one command."""

from __future__ import annotations

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

    @property
    def id(self) -> str:
        """The process instance id."""
        return self.instance.id

    def next_ordinal(self) -> int:
        """A number greater than every ordinal handed out before in this instance."""
        self.instance.next_ordinal += 1
        return self.instance.next_ordinal
