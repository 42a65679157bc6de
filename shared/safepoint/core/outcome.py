"""What a committed command created: the jobs to publish, external tasks, incidents."""

from __future__ import annotations

from dataclasses import dataclass

from safepoint.core.entities import ExternalTask, Incident, Job
from safepoint.core.state import InstanceState


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """The news of one committed command on one process instance.

    ``jobs`` are the safe points it created (each to be published as one message),
    ``external_tasks`` the work it handed to workers, ``incidents`` those it opened.
    """

    process_instance_id: str
    process_definition_key: str
    business_key: str | None
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
        return CommandOutcome(
            process_instance_id=state.id,
            process_definition_key=state.instance.process_definition_key,
            business_key=state.instance.business_key,
            jobs=tuple(job for key, job in state.jobs.items() if key not in self._jobs),
            external_tasks=tuple(
                task
                for key, task in state.external_tasks.items()
                if key not in self._external_tasks
            ),
            incidents=tuple(
                incident
                for key, incident in state.incidents.items()
                if incident.open and key not in self._incidents
            ),
            started=self._started,
            ended=state.instance.ended and not self._ended,
        )
