"""The activity instance tree of a running instance (Camunda's ``getActivityInstance``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from safepoint.core.entities import Execution
from safepoint.core.operations import AtomicOperation
from safepoint.core.state import InstanceState
from safepoint.core.tree import children


@dataclass(slots=True)
class TransitionInstance:
    """A token waiting at an asynchronous boundary of ``activity_id`` (a job exists)."""

    id: str
    activity_id: str
    execution_id: str


@dataclass(slots=True)
class ActivityInstance:
    """A running activity (or the process, at the root) with what runs inside it."""

    id: str
    activity_id: str
    execution_ids: list[str] = field(default_factory=list)
    child_activity_instances: list[ActivityInstance] = field(default_factory=list)
    child_transition_instances: list[TransitionInstance] = field(default_factory=list)


def activity_instance_tree(state: InstanceState, process_id: str) -> ActivityInstance:
    """The tree of activity and transition instances of a running process instance."""
    root_execution = state.execution(state.id)
    root = ActivityInstance(id=state.id, activity_id=process_id, execution_ids=[state.id])
    _fill(state, root_execution, root)
    return root


def _tokens(state: InstanceState, scope: Execution) -> list[Execution]:
    if scope.activity_id is not None:
        return [scope]
    return [child for child in children(state, scope) if child.is_concurrent]


def _waits_after(state: InstanceState, execution: Execution) -> bool:
    return any(
        job.execution_id == execution.id and job.configuration == AtomicOperation.ACTIVITY_END
        for job in state.all_jobs().values()
    )


def _fill(state: InstanceState, scope: Execution, node: ActivityInstance) -> None:
    for token in _tokens(state, scope):
        assert token.activity_id is not None
        if token.activity_instance_id is None or _waits_after(state, token):
            node.child_transition_instances.append(
                TransitionInstance(
                    id=token.id, activity_id=token.activity_id, execution_id=token.id
                )
            )
            continue
        child = ActivityInstance(
            id=token.activity_instance_id,
            activity_id=token.activity_id,
            execution_ids=[token.id],
        )
        node.child_activity_instances.append(child)
        for inner in children(state, token):
            if inner.is_scope:
                child.execution_ids.append(inner.id)
                _fill(state, inner, child)
