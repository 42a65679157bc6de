"""The embedded engine: Safepoint's core on a database, driven from Python step by step.

Every method is one transaction. Commands use optimistic locking, as Camunda does: two
commands changing one process instance at the same time make the later one fail with
``OptimisticLockError`` (retry it). An exclusive job locks its process instance row
instead, so exclusive jobs of one instance never overlap. Jobs are not run in the background: call
:meth:`Engine.execute_job` or :meth:`Engine.execute_available_jobs`, which do exactly
what the job executor does (run the job; on failure roll back, then record the
failure, retries, due date and incident in a new transaction).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import TracebackType

from safepoint import ids
from safepoint.core import runtime
from safepoint.core.activity_tree import ActivityInstance, activity_instance_tree
from safepoint.core.context import (
    ActivityListener,
    CommandContext,
    DelegateRegistry,
    EngineConfig,
)
from safepoint.core.deployments import Deployment, ProcessDefinition
from safepoint.core.entities import (
    EventSubscription,
    ExternalTask,
    HistoricActivityInstance,
    Incident,
    Job,
    JobLog,
    ProcessInstance,
    Task,
)
from safepoint.core.jobs import check_retries
from safepoint.core.outcome import CommandOutcome, OutcomeTracker
from safepoint.core.state import InstanceState
from safepoint.core.tree import children
from safepoint.embedded.clock import utc_now
from safepoint.embedded.commands import not_recording, pending_command
from safepoint.embedded.repository import (
    DEFAULT_DEFINITION_CACHE_SIZE,
    DefinitionCache,
    deploy_resources,
)
from safepoint.embedded.tracecontext import current_or_new
from safepoint.errors import BadUserRequest, NotFound, OptimisticLockError, PersistenceError
from safepoint.model import Process
from safepoint.persistence.commands import ProcessedCommand
from safepoint.persistence.store import Store
from safepoint.persistence.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

FAILURE_RECORD_ATTEMPTS = 3
"""How often recording a job failure is tried when it meets a concurrent change."""


class JobSkip(enum.StrEnum):
    """Why :meth:`Engine.execute_job` did not run a job it was asked to run."""

    EXHAUSTED = "exhausted"
    """It has no retries left: its ``failedJob`` incident is open."""
    NOT_DUE = "not_due"
    """It is due later (a failed job waiting out its retry delay)."""


@dataclass(frozen=True, slots=True)
class JobRun:
    """What :meth:`Engine.execute_job` did: the job as read, and why it was skipped, if so."""

    job: Job
    skipped: JobSkip | None = None


def _not_runnable(job: Job, runnable_at: datetime) -> JobSkip | None:
    if job.retries <= 0:
        return JobSkip.EXHAUSTED
    if job.due_at is not None and job.due_at > runnable_at:
        return JobSkip.NOT_DUE
    return None


class Engine:
    """A process engine on one database (SQLite by default, PostgreSQL for production).

    Args:
        database_url: SQLAlchemy URL, e.g. ``sqlite:///safepoint.db`` or
            ``postgresql+psycopg://user@host/db``; ``sqlite://`` is in memory.
        delegates: names → callables taking a
            :class:`~safepoint.core.delegates.DelegateExecution` (or objects with
            ``execute``/``notify``), referred to by ``camunda:class`` and
            ``camunda:delegateExpression``.
        clock: returns the current aware time; inject a
            :class:`~safepoint.embedded.clock.ManualClock` in tests.
        new_id: returns new unique ids (random UUIDs by default).
        config: engine-wide settings (default retries, global retry cycle).
        migrate: bring the schema up to date on start (Alembic).
        on_commit: called after each committed command with what it created (the
            jobs to publish, external tasks, incidents): the transactional outbox's
            hook. It runs after the commit, in the caller's thread.
        job_lease: with a job executor on other processes: every new job is leased
            to ``node_name`` for this long in the transaction that creates it, so the
            dispatcher (:meth:`lease_due_jobs`) republishes it only if its publish was
            lost or its executor died. ``None`` (embedded use): no leases.
        node_name: who holds the leases this engine takes.
        pool_size: database connections kept open (one per concurrent command).
        activity_listener: told of every activity instance that starts or ends while a
            command runs (before its commit): for tracing or metrics, never for state.
        definition_cache_size: the most process definitions kept parsed (the ones
            used last); others are parsed again from the database when used.
    """

    def __init__(
        self,
        database_url: str = "sqlite://",
        *,
        delegates: DelegateRegistry | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] | None = None,
        config: EngineConfig | None = None,
        migrate: bool = True,
        on_commit: Callable[[CommandOutcome], None] | None = None,
        job_lease: timedelta | None = None,
        node_name: str = "embedded",
        pool_size: int = 5,
        activity_listener: ActivityListener | None = None,
        definition_cache_size: int = DEFAULT_DEFINITION_CACHE_SIZE,
    ) -> None:
        """Open the database (and migrate it unless told not to)."""
        self._store = Store(database_url, pool_size=pool_size)
        if migrate:
            self._store.migrate()
        self.delegates: dict[str, object] = dict(delegates or {})
        self._clock = clock
        self._new_id = new_id or ids.new_id
        self.config = config or EngineConfig()
        self._definitions = DefinitionCache(definition_cache_size)
        self._on_commit = on_commit
        self._job_lease = job_lease
        self._activity_listener = activity_listener
        self.node_name = node_name

    def close(self) -> None:
        """Release the database connections."""
        self._store.dispose()

    @property
    def store(self) -> Store:
        """The database the engine works on, for reads this facade does not offer."""
        return self._store

    def process_model(self, process_definition_id: str) -> tuple[ProcessDefinition, Process]:
        """A deployed definition with its parsed process model (cached)."""
        with self._uow() as uow:
            return self._definitions.get(uow, process_definition_id)

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _uow(self) -> Iterator[UnitOfWork]:
        with self._store.unit_of_work() as uow:
            yield uow

    @contextmanager
    def _transaction(self) -> Iterator[tuple[UnitOfWork, list[CommandOutcome]]]:
        """A unit of work whose saved outcomes are announced once it has committed.

        Inside :func:`~safepoint.embedded.commands.recording_command`, the first such
        transaction also records the command as processed, first thing (or raises
        ``DuplicateCommand`` and rolls back).
        """
        outcomes: list[CommandOutcome] = []
        pending = pending_command()
        if pending is not None and pending.recorded:
            pending = None
        with self._store.unit_of_work() as uow:
            if pending is not None:
                # First thing: a concurrent copy of the command waits here until this
                # transaction ends, and then finds the command carried out.
                uow.record_command(pending.record(self._clock()))
            yield uow, outcomes
            if pending is not None and pending.answer is not None:
                uow.set_command_result(pending.command_id, pending.answer(outcomes))
        if pending is not None:
            pending.recorded = True
        if self._on_commit is not None:
            for outcome in outcomes:
                self._on_commit(outcome)

    def _save(
        self,
        uow: UnitOfWork,
        state: InstanceState,
        tracker: OutcomeTracker,
        outcomes: list[CommandOutcome],
    ) -> None:
        outcome = tracker.outcome(state)
        if self._job_lease is not None:
            until = self._clock() + self._job_lease
            leased: list[Job | ExternalTask] = [*outcome.jobs, *outcome.external_tasks]
            for entity in leased:
                entity.locked_by = self.node_name
                entity.lock_expires_at = until
        uow.save_instance(state)
        outcomes.append(outcome)

    def _context(
        self,
        uow: UnitOfWork,
        state: InstanceState,
        *,
        inherited_trace: Mapping[str, str] | None = None,
    ) -> CommandContext:
        definition, process = self._definitions.get(uow, state.instance.process_definition_id)
        return CommandContext(
            state=state,
            process=process,
            definition=definition,
            delegates=self.delegates,
            now=self._clock(),
            new_id=self._new_id,
            config=self.config,
            trace_context=current_or_new(inherited_trace),
            activity_listener=self._activity_listener,
        )

    def _load(self, uow: UnitOfWork, process_instance_id: str, *, lock: bool) -> InstanceState:
        state = uow.load_instance(process_instance_id, lock=lock)
        if state is None:
            raise NotFound("process instance", process_instance_id)
        return state

    def _command(self, process_instance_id: str, command: Callable[[CommandContext], None]) -> None:
        with self._transaction() as (uow, outcomes):
            state = self._load(uow, process_instance_id, lock=False)
            tracker = OutcomeTracker(state)
            command(self._context(uow, state))
            self._save(uow, state, tracker, outcomes)

    # --- deployments -------------------------------------------------------------------

    def deploy(self, name: str | None, resources: Mapping[str, bytes | str]) -> Deployment:
        """Parse, validate and store BPMN resources; each process gets its next version.

        Raises:
            BpmnParseError: with every problem of every resource; nothing is stored.
        """
        with self._uow() as uow:
            return deploy_resources(uow, name, resources, now=self._clock(), new_id=self._new_id)

    def process_definitions(self, key: str | None = None) -> list[ProcessDefinition]:
        """Every deployed process definition (of one key), oldest version first."""
        with self._uow() as uow:
            return uow.process_definitions(key)

    def process_definition(self, process_definition_id: str) -> ProcessDefinition:
        """One process definition by id."""
        with self._uow() as uow:
            found = uow.process_definition(process_definition_id)
        if found is None:
            raise NotFound("process definition", process_definition_id)
        return found

    # --- process instances -------------------------------------------------------------

    def start_process_instance_by_key(
        self,
        key: str,
        variables: Mapping[str, object] | None = None,
        business_key: str | None = None,
    ) -> ProcessInstance:
        """Start the latest version of process ``key``; runs up to the first safe points."""
        with self._transaction() as (uow, outcomes):
            definition = uow.latest_process_definition(key)
            if definition is None:
                raise NotFound("process definition with key", key)
            return self._start(uow, outcomes, definition, variables, business_key)

    def start_process_instance_by_id(
        self,
        process_definition_id: str,
        variables: Mapping[str, object] | None = None,
        business_key: str | None = None,
    ) -> ProcessInstance:
        """Start one exact process definition version."""
        with self._transaction() as (uow, outcomes):
            definition = uow.process_definition(process_definition_id)
            if definition is None:
                raise NotFound("process definition", process_definition_id)
            return self._start(uow, outcomes, definition, variables, business_key)

    def _start(
        self,
        uow: UnitOfWork,
        outcomes: list[CommandOutcome],
        definition: ProcessDefinition,
        variables: Mapping[str, object] | None,
        business_key: str | None,
    ) -> ProcessInstance:
        state = runtime.new_instance_state(
            definition, self._new_id(), business_key=business_key, now=self._clock()
        )
        ctx = self._context(uow, state)
        uow.add_instance(state)  # inserted with all the start did, by _save
        tracker = OutcomeTracker(state, started=True)
        runtime.start_process_instance(ctx, variables)
        self._save(uow, state, tracker, outcomes)
        return state.instance

    def process_instance(self, process_instance_id: str) -> ProcessInstance:
        """One process instance (running or ended)."""
        with self._uow() as uow:
            found = uow.process_instance(process_instance_id)
        if found is None:
            raise NotFound("process instance", process_instance_id)
        return found

    def process_instances(
        self,
        *,
        process_instance_ids: Collection[str] | None = None,
        process_definition_id: str | None = None,
        process_definition_key: str | None = None,
        business_key: str | None = None,
        active: bool | None = None,
        first_result: int = 0,
        max_results: int | None = None,
    ) -> list[ProcessInstance]:
        """Process instances matching every filter given, oldest first.

        ``first_result`` and ``max_results`` page in the database (Camunda's
        ``listPage``): skip that many, return at most that many.
        """
        with self._uow() as uow:
            return uow.process_instances(
                process_instance_ids=process_instance_ids,
                process_definition_id=process_definition_id,
                process_definition_key=process_definition_key,
                business_key=business_key,
                active=active,
                first_result=first_result,
                max_results=max_results,
            )

    def delete_process_instance(self, process_instance_id: str, reason: str | None = None) -> None:
        """Cancel a running instance (end listeners and output mappings of entered scopes run)."""
        self._command(process_instance_id, lambda ctx: runtime.delete_process_instance(ctx, reason))

    def active_activity_ids(self, process_instance_id: str) -> list[str]:
        """Ids of the activities where active tokens are (waiting at async boundaries too)."""
        with self._uow() as uow:
            state = self._load(uow, process_instance_id, lock=False)
        executions = sorted(state.all_executions().values(), key=lambda e: e.ordinal)
        return [
            e.activity_id
            for e in executions
            if e.activity_id and e.is_active and not children(state, e)
        ]

    def activity_instance(self, process_instance_id: str) -> ActivityInstance:
        """The activity instance tree (transition instances for tokens at safe points)."""
        with self._uow() as uow:
            state = self._load(uow, process_instance_id, lock=False)
            if state.instance.ended:
                raise BadUserRequest(f"process instance {process_instance_id!r} has ended")
            definition, _ = self._definitions.get(uow, state.instance.process_definition_id)
        return activity_instance_tree(state, definition.key)

    def variables(self, process_instance_id: str) -> dict[str, object]:
        """The process-level variables of an instance (kept after it ends)."""
        with self._uow() as uow:
            if uow.process_instance(process_instance_id) is None:
                raise NotFound("process instance", process_instance_id)
            return uow.variables(process_instance_id)

    def history(self, process_instance_id: str) -> list[HistoricActivityInstance]:
        """Every activity instance of a process instance, in the order they started."""
        with self._uow() as uow:
            return uow.historic_activity_instances(process_instance_id)

    # --- wait states -------------------------------------------------------------------

    def tasks(
        self,
        process_instance_id: str | None = None,
        *,
        candidate_group: str | None = None,
        where: Mapping[str, object] | None = None,
        first_result: int = 0,
        max_results: int | None = None,
    ) -> list[Task]:
        """Open user tasks matching every filter given, oldest first, paged in the database.

        ``where``: attributes equal to the values given (``{"assignee": "demo"}``).
        """
        with self._uow() as uow:
            return uow.tasks(
                process_instance_id,
                candidate_group=candidate_group,
                where=where,
                first_result=first_result,
                max_results=max_results,
            )

    def complete_task(self, task_id: str, variables: Mapping[str, object] | None = None) -> None:
        """Complete a user task and continue the instance to its next safe points."""
        with self._transaction() as (uow, outcomes):
            task = uow.task(task_id)
            if task is None:
                raise NotFound("task", task_id)
            state = self._load(uow, task.process_instance_id, lock=False)
            tracker = OutcomeTracker(state)
            runtime.complete_task(self._context(uow, state), task_id, variables)
            self._save(uow, state, tracker, outcomes)

    def external_tasks(
        self,
        topic: str | None = None,
        process_instance_id: str | None = None,
        *,
        with_retries_left: bool = False,
        no_retries_left: bool = False,
        where: Mapping[str, object] | None = None,
        first_result: int = 0,
        max_results: int | None = None,
    ) -> list[ExternalTask]:
        """Open external tasks matching every filter given, oldest first, paged.

        ``where``: attributes equal to the values given.
        """
        with self._uow() as uow:
            return uow.external_tasks(
                topic,
                process_instance_id,
                with_retries_left=with_retries_left,
                no_retries_left=no_retries_left,
                where=where,
                first_result=first_result,
                max_results=max_results,
            )

    def complete_external_task(
        self, external_task_id: str, variables: Mapping[str, object] | None = None
    ) -> None:
        """Complete an external task and continue the instance."""
        with self._transaction() as (uow, outcomes):
            task = uow.external_task(external_task_id)
            if task is None:
                raise NotFound("external task", external_task_id)
            state = self._load(uow, task.process_instance_id, lock=False)
            tracker = OutcomeTracker(state)
            runtime.complete_external_task(self._context(uow, state), external_task_id, variables)
            self._save(uow, state, tracker, outcomes)

    def fail_external_task(
        self,
        external_task_id: str,
        *,
        error_message: str | None,
        error_details: str | None = None,
        retries: int,
        retry_timeout: timedelta = timedelta(0),
    ) -> None:
        """A worker failed the task (Camunda's ``/external-task/{id}/failure``).

        The task is handed out again after ``retry_timeout``; at 0 retries it is not,
        and a ``failedExternalTask`` incident opens.
        """
        self._external_task_command(
            external_task_id,
            lambda ctx: runtime.fail_external_task(
                ctx,
                external_task_id,
                error_message=error_message,
                error_details=error_details,
                retries=retries,
                retry_timeout=retry_timeout,
            ),
        )

    def external_task_bpmn_error(
        self,
        external_task_id: str,
        error_code: str,
        error_message: str | None = None,
        variables: Mapping[str, object] | None = None,
    ) -> None:
        """A worker reports a BPMN error; uncaught (no boundary events yet), it is an incident."""
        self._external_task_command(
            external_task_id,
            lambda ctx: runtime.external_task_bpmn_error(
                ctx,
                external_task_id,
                error_code=error_code,
                error_message=error_message,
                variables=variables,
            ),
        )

    def set_external_task_retries(self, external_task_id: str, retries: int) -> None:
        """Set an external task's retries; a positive count resolves its incident."""
        self._external_task_command(
            external_task_id,
            lambda ctx: runtime.set_external_task_retries(ctx, external_task_id, retries),
        )

    def external_task(self, external_task_id: str) -> ExternalTask:
        """One external task by id."""
        with self._uow() as uow:
            found = uow.external_task(external_task_id)
        if found is None:
            raise NotFound("external task", external_task_id)
        return found

    def _external_task_command(
        self, external_task_id: str, command: Callable[[CommandContext], None]
    ) -> None:
        task = self.external_task(external_task_id)
        self._command(task.process_instance_id, command)

    def lease_due_external_tasks(self, limit: int = 100) -> list[ExternalTask]:
        """Lease external tasks to hand to workers: lost publishes and passed retry timeouts."""
        now = self._clock()
        until = now + (self._job_lease or timedelta(minutes=1))
        with self._uow() as uow:
            return uow.lease_due_external_tasks(
                now=now, until=until, owner=self.node_name, limit=limit
            )

    def correlate_message(
        self,
        name: str,
        business_key: str | None = None,
        variables: Mapping[str, object] | None = None,
    ) -> None:
        """Deliver message ``name`` to the one execution waiting for it.

        Raises:
            BadUserRequest: no execution, or more than one, matches (as in Camunda).
        """
        with self._transaction() as (uow, outcomes):
            matches = uow.subscriptions(name, business_key=business_key)
            subscription = _single_match(name, matches)
            state = self._load(uow, subscription.process_instance_id, lock=False)
            tracker = OutcomeTracker(state)
            runtime.correlate(self._context(uow, state), subscription.id, variables)
            self._save(uow, state, tracker, outcomes)

    # --- jobs and incidents ------------------------------------------------------------

    def jobs(
        self,
        process_instance_id: str | None = None,
        *,
        with_exception: bool = False,
        no_retries_left: bool = False,
        with_retries_left: bool = False,
        executable_at: datetime | None = None,
        where: Mapping[str, object] | None = None,
        first_result: int = 0,
        max_results: int | None = None,
    ) -> list[Job]:
        """Jobs matching every filter given, oldest first, paged in the database.

        ``executable_at``: retries left and due by then; ``where``: attributes equal to
        the values given (``{"activity_id": "Task_1"}``).
        """
        with self._uow() as uow:
            return uow.jobs(
                process_instance_id=process_instance_id,
                with_exception=with_exception,
                no_retries_left=no_retries_left,
                with_retries_left=with_retries_left,
                executable_at=executable_at,
                where=where,
                first_result=first_result,
                max_results=max_results,
            )

    def job(self, job_id: str) -> Job:
        """One job by id."""
        with self._uow() as uow:
            found = uow.job(job_id)
        if found is None:
            raise NotFound("job", job_id)
        return found

    def execute_job(
        self,
        job_id: str,
        *,
        process_instance_id: str | None = None,
        exclusive: bool | None = None,
        runnable_at: datetime | None = None,
        on_start: Callable[[Job], None] | None = None,
    ) -> JobRun:
        """Run one job, exactly as the job executor does.

        On failure the work is rolled back, then in a new transaction the exception is
        stored, retries drop (not for an optimistic locking conflict), the due date
        moves by the retry cycle, and at 0 retries a ``failedJob`` incident opens.
        The exception is raised again afterwards.

        Args:
            job_id: the job to run.
            process_instance_id: its process instance, when known (a job message says):
                the job is then read with its instance, in one statement less.
            exclusive: whether the job is exclusive, when known (it never changes): an
                exclusive job locks its process instance row before it is read.
            runnable_at: check, in the same transaction, that the job still has
                retries and is due by then; if not, it is not run and the result says
                why (a job executor's stale or early copy of a job message). Without
                it, retries and due date are ignored.
            on_start: called with the job as read, right before it runs (for metrics,
                such as the time since the job was created or became due).

        Returns:
            The job as it was read, and why it was skipped, if it was.

        Raises:
            NotFound: the job (or its process instance) is gone.
        """
        ctx: CommandContext | None = None
        try:
            with self._transaction() as (uow, outcomes):
                if process_instance_id is None or exclusive is None:
                    found = uow.job(job_id)
                    if found is None:
                        raise NotFound("job", job_id)
                    process_instance_id = found.process_instance_id
                    exclusive = found.exclusive
                # The job alone of the instance's jobs: a fork's branches need not each
                # read every other branch's job.
                loaded = uow.load_instance(process_instance_id, lock=exclusive, only_job=job_id)
                if loaded is None or job_id not in loaded.jobs:
                    raise NotFound("job", job_id)
                state = loaded
                job = state.jobs[job_id]
                if job.exclusive and not exclusive:  # told wrong: lock, then read again
                    relocked = uow.load_instance(process_instance_id, lock=True, only_job=job_id)
                    if relocked is None:
                        raise NotFound("process instance", process_instance_id)
                    if job_id not in relocked.jobs:
                        raise NotFound("job", job_id)
                    state = relocked
                    job = state.jobs[job_id]
                job = replace(job)  # as read: the run changes or deletes the state's copy
                skipped = None if runnable_at is None else _not_runnable(job, runnable_at)
                if skipped is not None:
                    return JobRun(job, skipped)
                if on_start is not None:
                    on_start(job)
                tracker = OutcomeTracker(state)
                ctx = self._context(uow, state, inherited_trace=job.trace_context)
                runtime.execute_job(ctx, job_id)
                self._save(uow, state, tracker, outcomes)
                return JobRun(job)
        except Exception as exc:
            if ctx is None or process_instance_id is None:
                raise
            with not_recording():  # the failure is not the command carried out
                self._record_failure(process_instance_id, job_id, exc, ctx.current_activity_id)
            raise

    def _record_failure(
        self,
        process_instance_id: str,
        job_id: str,
        exc: Exception,
        failed_activity_id: str | None,
    ) -> None:
        decrement = not isinstance(exc, OptimisticLockError)
        for attempt in range(1, FAILURE_RECORD_ATTEMPTS + 1):
            try:
                with self._transaction() as (uow, outcomes):
                    state = uow.load_instance(process_instance_id, lock=True)
                    if state is None:
                        return
                    tracker = OutcomeTracker(state)
                    runtime.record_job_failure(
                        self._context(uow, state),
                        job_id,
                        exc,
                        failed_activity_id=failed_activity_id,
                        decrement=decrement,
                    )
                    self._save(uow, state, tracker, outcomes)
                return
            except OptimisticLockError:
                if attempt == FAILURE_RECORD_ATTEMPTS:
                    raise
            except (PersistenceError, BadUserRequest) as error:
                if attempt == FAILURE_RECORD_ATTEMPTS:
                    raise
                # The failure itself could not be stored: record that much, so the
                # retry still counts and the job cannot fail unnoticed forever.
                logger.warning("job %s: storing its failure failed: %s", job_id, error)
                exc = RuntimeError(f"{type(exc).__name__} (its message could not be stored)")

    def execute_available_jobs(self, *, max_jobs: int = 10_000) -> int:
        """Run due jobs until none is left; failures are recorded, not raised.

        Returns how many job runs there were (failed runs included). Stops after
        ``max_jobs`` runs, so that a process looping through async steps forever
        cannot hang the caller.
        """
        runs = 0
        while runs < max_jobs:
            with self._uow() as uow:
                due = uow.jobs(executable_at=self._clock())
            if not due:
                break
            for job in due[: max_jobs - runs]:
                runs += 1
                try:
                    self.execute_job(job.id)
                except NotFound:
                    runs -= 1  # already gone: ended or cancelled by an earlier job
                except Exception as exc:  # recorded on the job by execute_job
                    logger.info("job %s at %s failed: %s", job.id, job.activity_id, exc)
        return runs

    def lease_due_jobs(self, limit: int = 100) -> list[Job]:
        """Lease due jobs that nobody holds, for publishing (the dispatcher's query).

        Returns jobs that are due with retries left and no running lease: new jobs
        whose publish was lost, jobs whose retry delay has passed, jobs whose retries
        an operator set again, and jobs whose executor died. Each is leased to
        ``node_name`` for ``job_lease`` (default one minute without one).
        """
        now = self._clock()
        until = now + (self._job_lease or timedelta(minutes=1))
        with self._uow() as uow:
            return uow.lease_due_jobs(now=now, until=until, owner=self.node_name, limit=limit)

    def set_job_retries(self, job_id: str, retries: int) -> None:
        """Set a job's retries; a positive count resolves its ``failedJob`` incident."""
        check_retries(retries)
        job = self.job(job_id)
        self._command(
            job.process_instance_id, lambda ctx: runtime.set_job_retries(ctx, job_id, retries)
        )

    def set_job_retries_by_job_definition_id(self, job_definition_id: str, retries: int) -> None:
        """Set the retries of a job definition's failed jobs (0 retries); incidents stay open."""
        check_retries(retries)
        with self._uow() as uow:
            uow.set_job_retries_by_job_definition(job_definition_id, retries)

    def delete_job(self, job_id: str) -> None:
        """Delete a job; its incident is resolved, the token stays where it was."""
        job = self.job(job_id)
        self._command(job.process_instance_id, lambda ctx: runtime.delete_job(ctx, job_id))

    # --- processed commands ------------------------------------------------------------

    def processed_command(self, command_id: str) -> ProcessedCommand | None:
        """The command carried out with this id (under ``recording_command``), or ``None``."""
        with self._uow() as uow:
            return uow.processed_command(command_id)

    def prune_processed_commands(self, older_than: timedelta, *, limit: int = 10_000) -> int:
        """Forget up to ``limit`` commands processed more than ``older_than`` ago.

        Returns:
            How many were forgotten (``limit`` means there may be more).
        """
        with self._uow() as uow:
            return uow.prune_processed_commands(before=self._clock() - older_than, limit=limit)

    def incidents(
        self,
        process_instance_id: str | None = None,
        *,
        where: Mapping[str, object] | None = None,
        first_result: int = 0,
        max_results: int | None = None,
    ) -> list[Incident]:
        """Open incidents matching every filter given, oldest first, paged in the database.

        ``where``: attributes equal to the values given (``{"incident_type": "failedJob"}``).
        """
        with self._uow() as uow:
            return uow.incidents(
                process_instance_id, where=where, first_result=first_result, max_results=max_results
            )

    def job_log(
        self, process_instance_id: str | None = None, job_id: str | None = None
    ) -> list[JobLog]:
        """The job history: created, failed, successful and deleted entries, in order."""
        with self._uow() as uow:
            return uow.job_logs(process_instance_id=process_instance_id, job_id=job_id)


def _single_match(name: str, matches: list[EventSubscription]) -> EventSubscription:
    if not matches:
        raise BadUserRequest(
            f"Cannot correlate message {name!r}: "
            "No process definition or execution matches the parameters"
        )
    if len(matches) > 1:
        raise BadUserRequest(
            f"Cannot correlate a message with name {name!r} to a single execution. "
            f"{len(matches)} executions match the correlation keys"
        )
    return matches[0]
