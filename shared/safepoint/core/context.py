"""The command context: what one command runs with, and the queue of operations it runs."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from safepoint.core.deployments import ProcessDefinition
from safepoint.core.entities import Execution, HistoricActivityInstance
from safepoint.core.operations import AtomicOperation
from safepoint.core.state import InstanceState
from safepoint.model import Process

ActivityListener = Callable[[str, "HistoricActivityInstance"], None]
"""Told ``("start" | "end", activity instance)`` as each activity instance starts or ends.

The hook observers (tracing, metrics) attach to; the core itself does nothing with it.
"""

DelegateRegistry = Mapping[str, object]
"""Names → delegates: callables taking an execution, or objects with ``execute``/``notify``."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine-wide settings the core reads (Camunda's process engine configuration).

    ``default_retries`` is the number of attempts of a job without a retry cycle;
    ``failed_job_retry_time_cycle`` a global cycle used where an activity has none.
    """

    default_retries: int = 3
    failed_job_retry_time_cycle: str | None = None


@dataclass(slots=True)
class AgendaItem:
    """One atomic operation waiting to run on one execution."""

    operation: AtomicOperation
    execution_id: str
    flow_id: str | None = None
    skip_async: bool = False


@dataclass(slots=True)
class CommandContext:
    """Everything one command of the core runs with.

    The caller supplies the clock (``now``), new ids (``new_id``), the delegate
    registry and the trace context to store on new jobs; the core does no I/O of its own.
    """

    state: InstanceState
    process: Process
    definition: ProcessDefinition
    delegates: DelegateRegistry
    now: datetime
    new_id: Callable[[], str]
    config: EngineConfig = field(default_factory=EngineConfig)
    trace_context: dict[str, str] = field(default_factory=dict)
    agenda: deque[AgendaItem] = field(default_factory=deque)
    redirects: dict[str, str] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    """Executions cancelled in this command (a terminate end event): their queued steps go."""
    current_activity_id: str | None = None
    activity_listener: ActivityListener | None = None

    def schedule(
        self,
        operation: AtomicOperation,
        execution: Execution,
        *,
        flow_id: str | None = None,
        skip_async: bool = False,
    ) -> None:
        """Queue ``operation`` to run on ``execution`` after those already queued."""
        self.agenda.append(AgendaItem(operation, execution.id, flow_id, skip_async))

    def execution(self, execution_id: str) -> Execution:
        """The execution with this id, following ids merged away by tree compaction."""
        return self.state.execution(self._current_id(execution_id))

    def live_execution(self, execution_id: str) -> Execution | None:
        """Like :meth:`execution`, but ``None`` for an execution cancelled in this command."""
        execution_id = self._current_id(execution_id)
        if execution_id in self.cancelled:
            return None
        return self.state.execution(execution_id)

    def _current_id(self, execution_id: str) -> str:
        while execution_id in self.redirects:
            execution_id = self.redirects[execution_id]
        return execution_id
