"""Firing execution listeners (``start``, ``end``, ``take``) of nodes, flows and processes."""

from __future__ import annotations

from collections.abc import Iterable

from safepoint.core.context import CommandContext
from safepoint.core.delegates import DelegateExecution
from safepoint.core.entities import Execution
from safepoint.core.invocation import invoke
from safepoint.model import ExecutionListener


def fire(
    ctx: CommandContext,
    execution: Execution,
    listeners: Iterable[ExecutionListener],
    *,
    event: str,
    transition_id: str | None = None,
) -> None:
    """Run ``listeners`` in order on ``execution`` for ``event``."""
    for listener in listeners:
        delegate = DelegateExecution(
            ctx, execution, event_name=event, current_transition_id=transition_id
        )
        invoke(ctx, delegate, listener.implementation, listener=True)
