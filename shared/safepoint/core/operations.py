"""The atomic operations of the engine, with Camunda's canonical names."""

from __future__ import annotations

from enum import StrEnum


class AtomicOperation(StrEnum):
    """One step of the process virtual machine.

    Five of them can become a job (an asynchronous continuation): the three asyncBefore
    points ``process-start``, ``activity-start-create-scope`` and
    ``transition-create-scope``, and the two asyncAfter points
    ``transition-notify-listener-take`` and ``activity-end``.
    """

    PROCESS_START = "process-start"
    PROCESS_END = "process-end"
    ACTIVITY_START_CREATE_SCOPE = "activity-start-create-scope"
    ACTIVITY_START = "activity-start"
    ACTIVITY_EXECUTE = "activity-execute"
    ACTIVITY_NOTIFY_LISTENER_END = "activity-notify-listener-end"
    ACTIVITY_END = "activity-end"
    TRANSITION_NOTIFY_LISTENER_END = "transition-notify-listener-end"
    TRANSITION_DESTROY_SCOPE = "transition-destroy-scope"
    TRANSITION_NOTIFY_LISTENER_TAKE = "transition-notify-listener-take"
    TRANSITION_CREATE_SCOPE = "transition-create-scope"

    @property
    def is_async_capable(self) -> bool:
        """Whether this operation can be deferred into a job."""
        return self in ASYNC_BEFORE_OPERATIONS or self in ASYNC_AFTER_OPERATIONS


ASYNC_BEFORE_OPERATIONS = frozenset(
    {
        AtomicOperation.PROCESS_START,
        AtomicOperation.ACTIVITY_START_CREATE_SCOPE,
        AtomicOperation.TRANSITION_CREATE_SCOPE,
    }
)
ASYNC_AFTER_OPERATIONS = frozenset(
    {AtomicOperation.TRANSITION_NOTIFY_LISTENER_TAKE, AtomicOperation.ACTIVITY_END}
)

TAKE_SEPARATOR = "$"


def job_configuration(operation: AtomicOperation, flow_id: str | None = None) -> str:
    """The handler configuration of a job that defers ``operation``.

    ``transition-notify-listener-take`` carries the id of the flow to take, because the
    chosen flow is not stored on the execution: ``transition-notify-listener-take$f1``.
    """
    if operation is AtomicOperation.TRANSITION_NOTIFY_LISTENER_TAKE:
        if flow_id is None:
            raise ValueError("a take job needs the id of its sequence flow")
        return f"{operation.value}{TAKE_SEPARATOR}{flow_id}"
    return operation.value


def parse_job_configuration(configuration: str | None) -> tuple[AtomicOperation, str | None]:
    """The operation and flow id named by a job configuration.

    A missing configuration means ``transition-create-scope``, as in Camunda.
    """
    if not configuration:
        return AtomicOperation.TRANSITION_CREATE_SCOPE, None
    name, _, flow_id = configuration.partition(TAKE_SEPARATOR)
    operation = AtomicOperation(name)
    if not operation.is_async_capable:
        raise ValueError(f"{configuration!r} is not an asynchronous continuation")
    return operation, flow_id or None
