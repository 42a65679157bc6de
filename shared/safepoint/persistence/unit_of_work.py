"""The unit of work: one database transaction and everything a command reads and writes.

Every method returns core objects (never rows) and raises ``PersistenceError`` when the
database fails or refuses; ``OptimisticLockError`` when another transaction saved the
same process instance first; ``BadUserRequest`` when the database refuses a value it was
given (a NUL character in a text, a number out of range).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import ParamSpec, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError, StatementError

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
from safepoint.core.state import InstanceState
from safepoint.errors import BadUserRequest, OptimisticLockError, PersistenceError
from safepoint.persistence import commands, definitions, instances, queries
from safepoint.persistence.changes import empty_snapshot
from safepoint.persistence.commands import ProcessedCommand
from safepoint.persistence.instances import Snapshot
from safepoint.persistence.rows import EXTERNAL_TASKS, JOBS, PROCESS_INSTANCES, TASKS

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn SQLAlchemy's errors into ``PersistenceError``.

    A ``ValueError`` raised while binding a parameter (a naive datetime) stays a
    ``ValueError``: it is the caller's mistake, not the database's. A value the database
    refuses (SQLSTATE class 22, or the driver's own ``DataError``) is a
    ``BadUserRequest`` that says what was wrong, without the statement's data.
    """
    try:
        yield
    except StatementError as exc:
        if not isinstance(exc, DBAPIError) and isinstance(exc.orig, ValueError):
            raise exc.orig from None
        if isinstance(exc, DBAPIError) and is_conflict(exc):
            raise OptimisticLockError(
                "the process instance was updated by another transaction concurrently "
                f"({type(exc.orig).__name__}: {exc.orig})"
            ) from exc
        if isinstance(exc, DataError):
            refused = refused_value(exc.orig)
            sqlstate = getattr(exc.orig, "sqlstate", None) or "none"
            logger.warning("the database refused a value (SQLSTATE %s): %s", sqlstate, refused)
            raise BadUserRequest(refused) from exc
        raise PersistenceError(f"{type(exc.orig).__name__}: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise PersistenceError(str(exc)) from exc
    except UnicodeEncodeError as exc:  # SQLite's driver, given a lone surrogate
        raise BadUserRequest(refused_value(exc)) from exc


def refused_value(error: BaseException | None) -> str:
    """What was wrong with a value the database refused, for the caller to fix.

    Only the error's first line and its detail: the context PostgreSQL adds quotes the
    statement's data, other rows included.
    """
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(error).partition("\n")[0]
    detail = getattr(diag, "message_detail", None) or ""
    said = f"{primary} ({detail})" if detail else primary
    if "\\u0000" in said or "(0x00)" in said:
        return "a text value holds the NUL character (\\u0000), which cannot be stored"
    if "surrogate" in said:
        return "a text value holds an unpaired UTF-16 surrogate, which cannot be stored"
    return f"a value cannot be stored: {said}"


CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})
"""PostgreSQL's serialization failure and deadlock: another transaction won; retry."""


def is_conflict(exc: DBAPIError) -> bool:
    """Whether a database error means a concurrent transaction won (retry the command).

    SQLite says "database is locked" when another connection holds the write lock past
    the busy timeout, or at once when a reading transaction tries to write after
    another wrote; PostgreSQL reports serialization failures and deadlocks.
    """
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in CONFLICT_SQLSTATES:
        return True
    return "database is locked" in str(orig) or "database table is locked" in str(orig)


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    """Run ``method`` under :func:`translate_errors`."""

    @functools.wraps(method)
    def translated(*args: P.args, **kwargs: P.kwargs) -> R:
        with translate_errors():
            return method(*args, **kwargs)

    return translated


class UnitOfWork:
    """One connection and its open transaction; made by ``Store.unit_of_work()``.

    Process instances loaded or inserted here are remembered, so that saving one writes
    only what changed since. Keep a unit of work to one thread.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        """The underlying connection, for statements this class does not offer."""
        self._snapshots: dict[int, Snapshot] = {}

    def close(self) -> None:
        """Forget the loaded instances: their states can no longer read what they left out."""
        for snapshot in self._snapshots.values():
            snapshot.state.load_others.clear()
            snapshot.state.count_waiting_others = None
        self._snapshots.clear()

    # -- deployments ---------------------------------------------------------------------

    @_translated
    def add_deployment(self, deployment: Deployment, resources: Mapping[str, bytes]) -> None:
        """Insert a deployment, its resources and its process definitions."""
        definitions.add_deployment(self.connection, deployment, resources)

    @_translated
    def next_version(self, key: str) -> int:
        """The version for a new definition of ``key``; locks ``key`` until the transaction ends."""
        return definitions.next_version(self.connection, key)

    @_translated
    def deployment(self, deployment_id: str) -> Deployment | None:
        """The deployment with this id (its definitions ordered by key), or ``None``."""
        return definitions.deployment(self.connection, deployment_id)

    @_translated
    def deployments(self) -> list[Deployment]:
        """Every deployment, oldest first."""
        return definitions.all_deployments(self.connection)

    @_translated
    def delete_deployment(self, deployment_id: str) -> None:
        """Delete a deployment with its resources and process definitions."""
        definitions.delete_deployment(self.connection, deployment_id)

    @_translated
    def process_definition(self, definition_id: str) -> ProcessDefinition | None:
        """The process definition with this id, or ``None``."""
        return definitions.process_definition(self.connection, definition_id)

    @_translated
    def latest_process_definition(self, key: str) -> ProcessDefinition | None:
        """The newest version of the process definition ``key``, or ``None``."""
        return definitions.latest_process_definition(self.connection, key)

    @_translated
    def process_definitions(self, key: str | None = None) -> list[ProcessDefinition]:
        """Every process definition (of ``key`` if given), by key and version."""
        return definitions.process_definitions_of(self.connection, key)

    @_translated
    def resource(self, deployment_id: str, name: str) -> bytes | None:
        """The content of a deployment's resource, or ``None``."""
        return definitions.resource(self.connection, deployment_id, name)

    # -- one process instance ------------------------------------------------------------

    @_translated
    def insert_instance(self, state: InstanceState) -> None:
        """Insert a new process instance with everything in ``state``."""
        self._snapshots[id(state)] = instances.insert_instance(self.connection, state)

    def add_instance(self, state: InstanceState) -> None:
        """Take a new process instance in, to be inserted by its first :meth:`save_instance`.

        Nothing is written before that save, which inserts the instance row and all of
        ``state`` in one go (one statement on PostgreSQL): a start that runs to its
        first safe point writes once. Until then the instance cannot be read back.
        """
        self._snapshots[id(state)] = empty_snapshot(state)

    @_translated
    def load_instance(
        self, process_instance_id: str, *, lock: bool = False, only_job: str | None = None
    ) -> InstanceState | None:
        """Load a process instance's runtime state, or ``None`` if there is none.

        The state holds the executions, variables (deserialized), jobs, tasks, external
        tasks, subscriptions, the *open* incidents and the *open* historic activity
        instances; ``job_logs`` starts empty. ``lock=True`` locks the instance row until
        the transaction ends (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has no row
        locks and ignores it). ``only_job``: of the jobs, that one only; the state reads
        the others when the command needs them (``InstanceState.all_jobs``), and no
        activity instance either until one is needed (``InstanceState.activity_instance``).
        """
        snapshot = instances.load_instance(
            self.connection, process_instance_id, lock=lock, only_job=only_job
        )
        if snapshot is None:
            return None
        self._snapshots[id(snapshot.state)] = snapshot
        return snapshot.state

    @_translated
    def save_instance(self, state: InstanceState) -> None:
        """Write what changed in ``state`` since it was loaded, inserted or last saved.

        New entities are inserted, changed ones updated; executions, jobs, tasks, external
        tasks, subscriptions and variables missing from ``state`` are deleted (historic
        activity instances and incidents never are); new ``job_logs`` entries are added.
        The instance's revision goes up by one, in the database and in ``state``.

        Raises:
            OptimisticLockError: another transaction saved this instance first.
            ValueError: ``state`` was not loaded or inserted in this unit of work.
        """
        snapshot = self._snapshots.get(id(state))
        if snapshot is None or snapshot.state is not state:
            raise ValueError(
                f"process instance {state.id} was not loaded or inserted in this unit of work"
            )
        instances.save_instance(self.connection, snapshot)

    # -- lookups ---------------------------------------------------------------------------

    @_translated
    def process_instance(self, process_instance_id: str) -> ProcessInstance | None:
        """The process instance with this id, or ``None``."""
        return queries.find_one(self.connection, PROCESS_INSTANCES, process_instance_id)

    @_translated
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
        """Process instances matching every filter given, by start time then id, paged."""
        return queries.process_instances(
            self.connection,
            process_instance_ids=process_instance_ids,
            process_definition_id=process_definition_id,
            process_definition_key=process_definition_key,
            business_key=business_key,
            active=active,
            first_result=first_result,
            max_results=max_results,
        )

    @_translated
    def job(self, job_id: str) -> Job | None:
        """The job with this id, or ``None``."""
        return queries.find_one(self.connection, JOBS, job_id)

    @_translated
    def jobs(
        self,
        *,
        process_instance_id: str | None = None,
        with_exception: bool = False,
        no_retries_left: bool = False,
        with_retries_left: bool = False,
        executable_at: datetime | None = None,
        where: Mapping[str, object] | None = None,
        first_result: int = 0,
        max_results: int | None = None,
    ) -> list[Job]:
        """Jobs matching every filter given, by creation time then id, paged.

        ``executable_at``: only jobs with retries left that are due by then (or have no
        due time); ``where``: attributes equal to the values given.
        """
        return queries.jobs(
            self.connection,
            process_instance_id=process_instance_id,
            with_exception=with_exception,
            no_retries_left=no_retries_left,
            with_retries_left=with_retries_left,
            executable_at=executable_at,
            where=where,
            first_result=first_result,
            max_results=max_results,
        )

    @_translated
    def lease_due_jobs(
        self, *, now: datetime, until: datetime, owner: str, limit: int = 100
    ) -> list[Job]:
        """Lease due jobs that nobody holds: see :func:`queries.lease_due_jobs`."""
        return queries.lease_due_jobs(
            self.connection, now=now, until=until, owner=owner, limit=limit
        )

    @_translated
    def lease_due_external_tasks(
        self, *, now: datetime, until: datetime, owner: str, limit: int = 100
    ) -> list[ExternalTask]:
        """Lease external tasks to publish: see :func:`queries.lease_due_external_tasks`."""
        return queries.lease_due_external_tasks(
            self.connection, now=now, until=until, owner=owner, limit=limit
        )

    @_translated
    def task(self, task_id: str) -> Task | None:
        """The user task with this id, or ``None``."""
        return queries.find_one(self.connection, TASKS, task_id)

    @_translated
    def tasks(
        self,
        process_instance_id: str | None = None,
        *,
        candidate_group: str | None = None,
        where: Mapping[str, object] | None = None,
        first_result: int = 0,
        max_results: int | None = None,
    ) -> list[Task]:
        """User tasks matching every filter given, by creation time then id, paged."""
        return queries.tasks(
            self.connection,
            process_instance_id,
            candidate_group=candidate_group,
            where=where,
            first_result=first_result,
            max_results=max_results,
        )

    @_translated
    def external_task(self, external_task_id: str) -> ExternalTask | None:
        """The external task with this id, or ``None``."""
        return queries.find_one(self.connection, EXTERNAL_TASKS, external_task_id)

    @_translated
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
        """External tasks matching every filter given, by creation time then id, paged."""
        return queries.external_tasks(
            self.connection,
            topic,
            process_instance_id,
            with_retries_left=with_retries_left,
            no_retries_left=no_retries_left,
            where=where,
            first_result=first_result,
            max_results=max_results,
        )

    @_translated
    def subscriptions(
        self,
        event_name: str,
        *,
        event_type: str = "message",
        business_key: str | None = None,
        process_instance_id: str | None = None,
    ) -> list[EventSubscription]:
        """Subscriptions to an event, optionally of instances with ``business_key``."""
        return queries.subscriptions(
            self.connection,
            event_name,
            event_type=event_type,
            business_key=business_key,
            process_instance_id=process_instance_id,
        )

    @_translated
    def incidents(
        self,
        process_instance_id: str | None = None,
        *,
        open_only: bool = True,
        where: Mapping[str, object] | None = None,
        first_result: int = 0,
        max_results: int | None = None,
    ) -> list[Incident]:
        """Incidents (open ones only by default) matching every filter given, oldest first."""
        return queries.incidents(
            self.connection,
            process_instance_id,
            open_only=open_only,
            where=where,
            first_result=first_result,
            max_results=max_results,
        )

    @_translated
    def historic_activity_instances(
        self, process_instance_id: str
    ) -> list[HistoricActivityInstance]:
        """Every activity instance of a process instance, open or ended, by ordinal."""
        return queries.historic_activity_instances(self.connection, process_instance_id)

    @_translated
    def job_logs(
        self, process_instance_id: str | None = None, job_id: str | None = None
    ) -> list[JobLog]:
        """Job log entries matching every filter given, by instance then ordinal."""
        return queries.job_logs(self.connection, process_instance_id, job_id)

    @_translated
    def variables(self, process_instance_id: str, scope_id: str | None = None) -> dict[str, object]:
        """The variables of one scope (the process instance's by default), by name."""
        return queries.variables(
            self.connection, process_instance_id, scope_id or process_instance_id
        )

    # -- processed commands ----------------------------------------------------------------

    @_translated
    def record_command(self, command: ProcessedCommand) -> None:
        """Record ``command`` as carried out by this transaction (first thing in it).

        Raises:
            DuplicateCommand: its id is recorded already (roll this transaction back).
        """
        commands.record(self.connection, command)

    @_translated
    def set_command_result(self, command_id: str, result: object) -> None:
        """Store the answer of the command recorded in this transaction."""
        commands.set_result(self.connection, command_id, result)

    @_translated
    def processed_command(self, command_id: str) -> ProcessedCommand | None:
        """The command carried out with this id, or ``None``."""
        return commands.find(self.connection, command_id)

    @_translated
    def prune_processed_commands(self, *, before: datetime, limit: int) -> int:
        """Forget up to ``limit`` commands processed before ``before``; return how many."""
        return commands.prune(self.connection, before=before, limit=limit)

    # -- bulk changes ----------------------------------------------------------------------

    @_translated
    def set_job_retries_by_job_definition(self, job_definition_id: str, retries: int) -> list[str]:
        """Give the failed jobs (0 retries) of a job definition ``retries`` retries.

        Camunda's ``setJobRetriesByJobDefinitionId``: incidents stay open. Returns the
        ids of the affected process instances, whose revisions are bumped.
        """
        return queries.set_job_retries_by_job_definition(
            self.connection, job_definition_id, retries
        )
