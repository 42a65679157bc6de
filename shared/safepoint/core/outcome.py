"""What a committed command created: the jobs to publish, external tasks, incidents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from safepoint.core.entities import ExternalTask, Incident, Job
from safepoint.core.state import InstanceState


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """The news of one committed command on one process instance.

    ``jobs`` are the safe points it created (each to be published as one message),
    ``external_tasks`` the work it handed to workers, ``incidents`` those it opened.
    ``variables`` are the process variables, filled only when external tasks were
    created (workers receive them with the task).
    """

    process_instance_id: str
    process_definition_id: str
    process_definition_key: str
    business_key: str | None
    started_at: datetime
    ended_at: datetime | None = None
    variables: Mapping[str, object] = field(default_factory=dict)
    jobs: tuple[Job, ...] = ()
    external_tasks: tuple[ExternalTask, ...] = ()
    incidents: tuple[Incident, ...] = ()
    started: bool = False
    ended: bool = False


class OutcomeTracker:
    """Remembers what an instance held before a command, to tell what the command created."""

    __slots__ = ("_ended", "_external_tasks", "_incidents", "_jobs", "_started")

    def __init__(self, state: InstanceState, *, started: bool = False) -> None:
        """Take note of ``state`` as loaded (or as created, for a start)."""
        self._jobs = set(state.jobs)
        self._external_tasks = set(state.external_tasks)
        self._incidents = {key for key, incident in state.incidents.items() if incident.open}
        self._ended = state.instance.ended
        self._started = started

    def outcome(self, state: InstanceState) -> CommandOutcome:
        """What the command added to ``state`` since this tracker was made."""
        external_tasks = tuple(
            task for key, task in state.external_tasks.items() if key not in self._external_tasks
        )
        instance = state.instance
        return CommandOutcome(
            process_instance_id=state.id,
            process_definition_id=instance.process_definition_id,
            process_definition_key=instance.process_definition_key,
            business_key=instance.business_key,
            started_at=instance.started_at,
            ended_at=instance.ended_at,
            variables=dict(state.variables.get(state.id, {})) if external_tasks else {},
            jobs=tuple(
                job
                for key, job in state.jobs.items()
                if key not in self._jobs and key not in state.loaded_late.get("jobs", ())
            ),
            external_tasks=external_tasks,
            incidents=tuple(
                incident
                for key, incident in state.incidents.items()
                if incident.open and key not in self._incidents
            ),
            started=self._started,
            ended=instance.ended and not self._ended,
        )
