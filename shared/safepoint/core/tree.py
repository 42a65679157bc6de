"""The execution tree: scope and concurrent executions, forking, joining and compaction."""

from __future__ import annotations

from operator import attrgetter

from safepoint.core.context import CommandContext
from safepoint.core.entities import (
    EventSubscription,
    Execution,
    ExternalTask,
    HistoricActivityInstance,
    Incident,
    Job,
    Task,
)
from safepoint.core.state import InstanceState
from safepoint.model import Process, SubProcess


def new_execution(ctx: CommandContext, parent: Execution | None, **fields: object) -> Execution:
    """Create an execution under ``parent`` and add it to the instance."""
    state = ctx.state
    execution = Execution(
        id=ctx.new_id(),
        process_instance_id=state.id,
        parent_id=parent.id if parent else None,
        ordinal=state.next_ordinal(),
    )
    for name, value in fields.items():
        setattr(execution, name, value)
    state.executions[execution.id] = execution
    return execution


_ORDINAL = attrgetter("ordinal")


def children(state: InstanceState, execution: Execution) -> list[Execution]:
    """The direct children of an execution, oldest first."""
    parent_id = execution.id
    found = [e for e in state.all_executions().values() if e.parent_id == parent_id]
    found.sort(key=_ORDINAL)
    return found


def subtree(state: InstanceState, execution: Execution) -> list[Execution]:
    """An execution and every execution below it (one pass over the instance's)."""
    below: dict[str, list[Execution]] = {}
    for candidate in state.all_executions().values():
        if candidate.parent_id is not None:
            below.setdefault(candidate.parent_id, []).append(candidate)
    found = [execution]
    for reached in found:  # grows as it goes: breadth first
        found.extend(below.get(reached.id, ()))
    return found


def parent(state: InstanceState, execution: Execution) -> Execution | None:
    """The parent of an execution (``None`` for the process instance)."""
    return state.execution(execution.parent_id) if execution.parent_id else None


def scope_execution(state: InstanceState, execution: Execution) -> Execution:
    """The scope execution an execution runs in: itself, or its concurrent root."""
    if execution.is_scope:
        return execution
    owner = parent(state, execution)
    assert owner is not None, "a concurrent execution always has a parent"
    return owner


def leaf_executions(state: InstanceState, scope: Execution) -> list[Execution]:
    """The executions carrying tokens at or below ``scope`` (at any depth)."""
    kids = children(state, scope)
    if not kids:
        return [scope]
    leaves: list[Execution] = []
    for child in kids:
        leaves.extend(leaf_executions(state, child))
    return leaves


def variable_scope_ids(state: InstanceState, process: Process, execution: Execution) -> list[str]:
    """The variable scopes visible from an execution, innermost first.

    An activity with input/output mappings (and a sub-process) has local variables
    under its activity instance id; then come the sub-process instances enclosing the
    execution, and last the process instance.
    """
    ids: list[str] = []
    if execution.activity_id and execution.activity_instance_id:
        node = process.flow_nodes.get(execution.activity_id)
        if node is not None and (node.input_output is not None or isinstance(node, SubProcess)):
            ids.append(execution.activity_instance_id)
    scope: Execution | None = scope_execution(state, execution)
    while scope is not None:
        assert scope.scope_instance_id is not None
        if scope.scope_instance_id not in ids:
            ids.append(scope.scope_instance_id)
        token = parent(state, scope)
        scope = None if token is None else scope_execution(state, token)
    return ids


def remove_execution(ctx: CommandContext, execution: Execution) -> None:
    """Remove an execution that no longer carries anything."""
    ctx.state.executions.pop(execution.id, None)


def fork(ctx: CommandContext, execution: Execution, count: int) -> list[Execution]:
    """Executions to carry ``count`` tokens leaving the activity ``execution`` is at.

    One token keeps ``execution``. More than one make the scope concurrent: a
    concurrent execution gets new siblings; a scope execution that carried the token
    itself becomes the inactive concurrent root of ``count`` new children.
    """
    if count == 1:
        return [execution]
    state = ctx.state
    activity_id = execution.activity_id
    if execution.is_concurrent:
        root = parent(state, execution)
        assert root is not None
        extra = [
            new_execution(ctx, root, activity_id=activity_id, is_concurrent=True)
            for _ in range(count - 1)
        ]
        return [execution, *extra]
    execution.activity_id = None
    execution.activity_instance_id = None
    execution.is_active = False
    return [
        new_execution(ctx, execution, activity_id=activity_id, is_concurrent=True)
        for _ in range(count)
    ]


def waiting_count(state: InstanceState, execution: Execution, activity_id: str) -> int:
    """How many :func:`joined_executions` there are, without reading them all.

    A wide fork's tokens arrive at its join one job at a time: each arrival but the last
    only needs to know that some are still missing.
    """
    if not execution.is_concurrent:
        return int(not execution.is_active and execution.activity_id == activity_id)
    return state.waiting_at(scope_execution(state, execution).id, activity_id)


def joined_executions(
    state: InstanceState, execution: Execution, activity_id: str
) -> list[Execution]:
    """The inactive executions waiting at a joining gateway in ``execution``'s scope."""
    if not execution.is_concurrent:
        waiting = not execution.is_active and execution.activity_id == activity_id
        return [execution] if waiting else []
    root = scope_execution(state, execution)
    return [
        child
        for child in children(state, root)
        if child.is_concurrent and not child.is_active and child.activity_id == activity_id
    ]


def compact(ctx: CommandContext, scope: Execution) -> None:
    """Fold the last concurrent child of a concurrent root back into the root.

    Camunda keeps the tree minimal this way: once a fork has one branch left, the
    scope execution carries that branch's token again, and everything that pointed at
    the branch (jobs, tasks, subscriptions...) now points at the scope execution.
    """
    state = ctx.state
    if scope.activity_id is not None or scope.id not in state.executions:
        return
    kids = children(state, scope)
    if len(kids) != 1 or not kids[0].is_concurrent:
        return
    child = kids[0]
    scope.activity_id = child.activity_id
    scope.activity_instance_id = child.activity_instance_id
    scope.is_active = child.is_active
    reassign_execution(ctx, child.id, scope.id)
    remove_execution(ctx, child)
    ctx.redirects[child.id] = scope.id


def reassign_execution(ctx: CommandContext, old_id: str, new_id: str) -> None:
    """Point everything that belongs to execution ``old_id`` at ``new_id``."""
    state = ctx.state
    for execution in state.all_executions().values():
        if execution.parent_id == old_id:
            execution.parent_id = new_id
    owned: list[Job | Task | ExternalTask | EventSubscription | Incident | HistoricActivityInstance]
    owned = [
        *state.all_jobs().values(),
        *state.tasks.values(),
        *state.external_tasks.values(),
        *state.subscriptions.values(),
        *state.incidents.values(),
        *state.all_activity_instances().values(),
    ]
    for entity in owned:
        if entity.execution_id == old_id:
            entity.execution_id = new_id
