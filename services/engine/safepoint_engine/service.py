"""The engine service's use cases: Camunda's runtime and history services on the Engine.

Every method is synchronous and one or a few database transactions; the HTTP layer
(``api/``) runs them in its thread pool. Entities come back as the core's objects
(``safepoint.Job``, ``safepoint.Task``...); the HTTP layer turns them into Camunda's
JSON. The runtime queries see running process instances only, as Camunda's do: an ended
instance is found under history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from safepoint.core.activity_tree import ActivityInstance, TransitionInstance
from safepoint.core.deployments import ProcessDefinition
from safepoint.core.entities import (
    ExternalTask,
    HistoricActivityInstance,
    Incident,
    Job,
    ProcessInstance,
    Task,
)
from safepoint.core.history import activity_type
from safepoint.embedded import Engine
from safepoint.errors import BadUserRequest, NotFound, SafepointError
from safepoint.model import Process
from safepoint.persistence.store import Store
from safepoint_engine.observability import link_to_waiting_instance
from safepoint_engine.queries import (
    ExternalTaskQuery,
    HistoricActivityInstanceQuery,
    HistoricProcessInstanceQuery,
    IncidentQuery,
    JobQuery,
    ProcessDefinitionQuery,
    ProcessInstanceQuery,
    TaskQuery,
    matches,
)

logger = logging.getLogger(__name__)

PROCESS_DEFINITION_TYPE = "processDefinition"
"""Camunda's ``activityType`` of the root of an activity instance tree."""


class Unsupported(SafepointError):
    """Safepoint does not offer this (yet); the message says what instead (HTTP 501)."""


class CommandFailed(SafepointError):
    """A delegate, listener or expression failed while a command ran; nothing was committed.

    ``__cause__`` is the original exception.
    """

    def __init__(self, action: str, cause: BaseException) -> None:
        self.action = action
        super().__init__(f"{action}: {type(cause).__name__}: {cause}")


class JobExecutionFailed(CommandFailed):
    """A job ran and failed; its failure (retries, stack trace, incident) was recorded."""


# --------------------------------------------------------------------------------------
# Results the engine facade does not have as such
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransitionInstanceNode:
    """A token waiting at an asynchronous boundary, with its activity's type and name."""

    id: str
    activity_id: str
    activity_type: str
    activity_name: str | None
    execution_id: str
    parent_activity_instance_id: str
    process_instance_id: str
    process_definition_id: str


@dataclass(frozen=True, slots=True)
class ActivityInstanceNode:
    """One node of the activity instance tree, with its activity's type and name."""

    id: str
    activity_id: str
    activity_type: str
    activity_name: str | None
    parent_activity_instance_id: str | None
    process_instance_id: str
    process_definition_id: str
    execution_ids: tuple[str, ...]
    child_activity_instances: tuple[ActivityInstanceNode, ...]
    child_transition_instances: tuple[TransitionInstanceNode, ...]


@dataclass(frozen=True, slots=True)
class HistoricProcessInstance:
    """A process instance, running or ended, with its definition (``None`` once deleted)."""

    instance: ProcessInstance
    definition: ProcessDefinition | None


@dataclass(frozen=True, slots=True)
class ActivityHistory:
    """The activity instances of one process instance, in the order they started.

    ``instance`` is ``None`` (and ``activities`` empty) when there is no such instance.
    """

    instance: ProcessInstance | None
    activities: list[HistoricActivityInstance]


# --------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------


class EngineService:
    """Camunda's runtime, management and history services over one database.

    Args:
        engine: the embedded engine, with the delegate registry and the ``on_commit``
            hook of the outbox.
        store: the engine's own database (``engine.store``), for the reads the facade does not offer
            (deployed XML, one task by id, the latest definition of a key, readiness).
        clock: the current aware time (for ``executable`` jobs).
    """

    def __init__(self, engine: Engine, store: Store, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._store = store
        self._clock = clock

    def close(self) -> None:
        """Release the database connections (the store is the engine's own)."""
        self._engine.close()

    def check_database(self) -> None:
        """Run a trivial statement; raises ``PersistenceError`` if the database is not there."""
        with self._store.unit_of_work() as uow:
            uow.connection.exec_driver_sql("SELECT 1")

    # --- process definitions -----------------------------------------------------------

    def process_definitions(self, query: ProcessDefinitionQuery) -> list[ProcessDefinition]:
        """Deployed process definitions matching ``query``, by key and version."""
        every = self._engine.process_definitions(query.key)
        latest = {definition.key: definition for definition in every}  # oldest first
        return [
            definition
            for definition in every
            if matches(definition.id, query.process_definition_id)
            and matches(definition.name, query.name)
            and matches(definition.version, query.version)
            and matches(definition.deployment_id, query.deployment_id)
            and (not query.latest_version or latest[definition.key] is definition)
        ]

    def process_definition(self, process_definition_id: str) -> ProcessDefinition:
        """One process definition by id."""
        return self._engine.process_definition(process_definition_id)

    def latest_process_definition(self, key: str) -> ProcessDefinition:
        """The latest version of the process definition ``key``."""
        with self._store.unit_of_work() as uow:
            found = uow.latest_process_definition(key)
        if found is None:
            raise NotFound("process definition with key", key)
        return found

    def process_definition_xml(self, definition: ProcessDefinition) -> str:
        """The BPMN XML ``definition`` was deployed from, as text."""
        with self._store.unit_of_work() as uow:
            xml = uow.resource(definition.deployment_id, definition.resource_name)
        if xml is None:
            raise NotFound("deployment resource", definition.resource_name)
        return xml.decode("utf-8")

    # --- process instances -------------------------------------------------------------

    def start_process_instance(
        self,
        definition: ProcessDefinition,
        variables: Mapping[str, object],
        business_key: str | None,
    ) -> ProcessInstance:
        """Start ``definition``; it runs up to its first safe points or wait states."""
        with _failures(f"Cannot instantiate process definition {definition.id}"):
            return self._engine.start_process_instance_by_id(definition.id, variables, business_key)

    def process_instances(
        self, query: ProcessInstanceQuery, first_result: int = 0, max_results: int | None = None
    ) -> list[ProcessInstance]:
        """Running process instances matching ``query``, oldest first, paged in the database.

        Safepoint never suspends an instance: ``suspended=true`` matches none and
        ``active`` (meaning "not suspended" in Camunda) every running one.
        """
        if query.suspended or query.active is False:
            return []
        return self._engine.process_instances(
            process_instance_ids=query.process_instance_ids,
            process_definition_id=query.process_definition_id,
            process_definition_key=query.process_definition_key,
            business_key=query.business_key,
            active=True,
            first_result=first_result,
            max_results=max_results,
        )

    def process_instance(self, process_instance_id: str) -> ProcessInstance:
        """One running process instance (``NotFound`` once it has ended, as in Camunda)."""
        instance = self._engine.process_instance(process_instance_id)
        if instance.ended:
            raise NotFound("process instance", process_instance_id)
        return instance

    def delete_process_instance(
        self, process_instance_id: str, *, fail_if_not_exists: bool = True
    ) -> None:
        """Cancel a running instance (end listeners and output mappings run)."""
        try:
            self.process_instance(process_instance_id)
        except NotFound:
            if fail_if_not_exists:
                raise
            return
        with _failures(f"Cannot delete process instance {process_instance_id}"):
            self._engine.delete_process_instance(process_instance_id)

    def variables(self, process_instance_id: str) -> dict[str, object]:
        """The process variables of a running instance."""
        self.process_instance(process_instance_id)
        return self._engine.variables(process_instance_id)

    def variables_after_command(self, process_instance_id: str) -> dict[str, object]:
        """The process variables of an instance, running or ended (``withVariablesInReturn``)."""
        return self._engine.variables(process_instance_id)

    def activity_instance_tree(self, process_instance_id: str) -> ActivityInstanceNode:
        """The activity instance tree of a running instance, with types and names."""
        instance = self.process_instance(process_instance_id)
        try:
            tree = self._engine.activity_instance(process_instance_id)
        except BadUserRequest as exc:  # it ended meanwhile
            raise NotFound("process instance", process_instance_id) from exc
        process = self._process_model(instance.process_definition_id)
        return _activity_node(tree, process, instance, parent_id=None)

    def _process_model(self, process_definition_id: str) -> Process:
        _, process = self._engine.process_model(process_definition_id)
        return process

    # --- messages, tasks, external tasks -----------------------------------------------

    def correlate_message(
        self, name: str, business_key: str | None, variables: Mapping[str, object]
    ) -> None:
        """Deliver message ``name`` to the one execution waiting for it.

        Raises:
            BadUserRequest: no execution, or more than one, waits for it.
        """
        link_to_waiting_instance(self._store, name, business_key)
        with _failures(f"Cannot correlate message {name!r}"):
            self._engine.correlate_message(name, business_key, variables)

    def tasks(
        self, query: TaskQuery, first_result: int = 0, max_results: int | None = None
    ) -> list[Task]:
        """Open user tasks matching ``query``, oldest first, paged in the database."""
        return self._engine.tasks(
            query.process_instance_id,
            candidate_group=query.candidate_group,
            where=query.where(),
            first_result=first_result,
            max_results=max_results,
        )

    def task(self, task_id: str) -> Task:
        """One open user task by id."""
        with self._store.unit_of_work() as uow:
            found = uow.task(task_id)
        if found is None:
            raise NotFound("task", task_id)
        return found

    def complete_task(self, task_id: str, variables: Mapping[str, object]) -> Task:
        """Complete a user task and continue its instance; returns the task as it was."""
        task = self.task(task_id)
        with _failures(f"Cannot complete task {task_id}"):
            self._engine.complete_task(task_id, variables)
        return task

    def external_tasks(
        self, query: ExternalTaskQuery, first_result: int = 0, max_results: int | None = None
    ) -> list[ExternalTask]:
        """Open external tasks matching ``query``, oldest first, paged in the database."""
        return self._engine.external_tasks(
            query.topic_name,
            query.process_instance_id,
            with_retries_left=query.with_retries_left,
            no_retries_left=query.no_retries_left,
            where=query.where(),
            first_result=first_result,
            max_results=max_results,
        )

    def external_task(self, external_task_id: str) -> ExternalTask:
        """One open external task by id."""
        return self._engine.external_task(external_task_id)

    def complete_external_task(
        self, external_task_id: str, worker_id: str, variables: Mapping[str, object]
    ) -> None:
        """Complete an external task for ``worker_id`` and continue its instance.

        Workers take their tasks from RabbitMQ, not by locking them over HTTP, so
        ``worker_id`` is not checked against a lock (Camunda checks it).
        """
        with _failures(f"Cannot complete external task {external_task_id}"):
            self._engine.complete_external_task(external_task_id, variables)
        logger.debug("external task %s completed by %s", external_task_id, worker_id)

    def handle_external_task_failure(
        self,
        external_task_id: str,
        worker_id: str,
        *,
        error_message: str | None,
        error_details: str | None,
        retries: int,
        retry_timeout: timedelta,
    ) -> None:
        """A worker failed the task: it is handed out again after ``retry_timeout``.

        At 0 ``retries`` it is not, and a ``failedExternalTask`` incident opens.
        """
        self._engine.fail_external_task(
            external_task_id,
            error_message=error_message,
            error_details=error_details,
            retries=retries,
            retry_timeout=retry_timeout,
        )
        logger.debug("external task %s failed by %s", external_task_id, worker_id)

    def handle_external_task_bpmn_error(
        self,
        external_task_id: str,
        worker_id: str,
        *,
        error_code: str,
        error_message: str | None,
        variables: Mapping[str, object],
    ) -> None:
        """A worker reports a BPMN error.

        Error boundary events are not supported yet, so it is never caught: the task
        keeps waiting with 0 retries and a ``failedExternalTask`` incident says why.
        """
        self._engine.external_task_bpmn_error(
            external_task_id, error_code, error_message=error_message, variables=variables
        )
        logger.debug(
            "external task %s: BPMN error %s by %s", external_task_id, error_code, worker_id
        )

    def set_external_task_retries(self, external_task_id: str, retries: int) -> None:
        """Set an external task's retries; a positive count resolves its incident."""
        self._engine.set_external_task_retries(external_task_id, retries)

    # --- jobs and incidents ------------------------------------------------------------

    def jobs(
        self, query: JobQuery, first_result: int = 0, max_results: int | None = None
    ) -> list[Job]:
        """Jobs matching ``query``, oldest first, paged in the database."""
        return self._engine.jobs(
            query.process_instance_id,
            with_exception=query.with_exception,
            no_retries_left=query.no_retries_left,
            with_retries_left=query.with_retries_left,
            executable_at=self._clock() if query.executable else None,
            where=query.where(),
            first_result=first_result,
            max_results=max_results,
        )

    def job(self, job_id: str) -> Job:
        """One job by id."""
        return self._engine.job(job_id)

    def execute_job(self, job_id: str) -> None:
        """Run a job now, as the job executor would; a failure is recorded on the job.

        Raises:
            NotFound: there is no such job.
            JobExecutionFailed: the job ran and failed (retries, stack trace and
                incident are recorded as for any job run).
        """
        try:
            self._engine.execute_job(job_id)
        except SafepointError:
            raise
        except Exception as exc:  # a delegate's own failure, recorded on the job
            raise JobExecutionFailed(f"Job {job_id} failed", exc) from exc

    def job_stacktrace(self, job_id: str) -> str | None:
        """The stack trace of the job's last failure, or ``None``."""
        return self.job(job_id).exception_stacktrace

    def set_job_retries(self, job_id: str, retries: int) -> None:
        """Set a job's retries; a positive count resolves its ``failedJob`` incident."""
        self._engine.set_job_retries(job_id, retries)

    def incidents(
        self, query: IncidentQuery, first_result: int = 0, max_results: int | None = None
    ) -> list[Incident]:
        """Open incidents matching ``query``, oldest first, paged in the database."""
        return self._engine.incidents(
            query.process_instance_id,
            where=query.where(),
            first_result=first_result,
            max_results=max_results,
        )

    # --- history -----------------------------------------------------------------------

    def historic_process_instances(
        self,
        query: HistoricProcessInstanceQuery,
        first_result: int = 0,
        max_results: int | None = None,
    ) -> list[HistoricProcessInstance]:
        """Process instances, running and ended, matching ``query``, oldest first, paged."""
        if query.finished and query.unfinished:
            return []
        found = self._engine.process_instances(
            process_instance_ids=(
                None if query.process_instance_id is None else [query.process_instance_id]
            ),
            process_definition_id=query.process_definition_id,
            process_definition_key=query.process_definition_key,
            business_key=query.business_key,
            active=True if query.unfinished else False if query.finished else None,
            first_result=first_result,
            max_results=max_results,
        )
        definitions: dict[str, ProcessDefinition | None] = {}
        for instance in found:
            if instance.process_definition_id not in definitions:
                definitions[instance.process_definition_id] = self._definition_or_none(
                    instance.process_definition_id
                )
        return [
            HistoricProcessInstance(instance, definitions[instance.process_definition_id])
            for instance in found
        ]

    def historic_process_instance(self, process_instance_id: str) -> HistoricProcessInstance:
        """One process instance, running or ended."""
        instance = self._engine.process_instance(process_instance_id)
        return HistoricProcessInstance(
            instance, self._definition_or_none(instance.process_definition_id)
        )

    def _definition_or_none(self, process_definition_id: str) -> ProcessDefinition | None:
        try:
            return self._engine.process_definition(process_definition_id)
        except NotFound:
            return None

    def historic_activity_instances(self, query: HistoricActivityInstanceQuery) -> ActivityHistory:
        """The activity instances of one process instance matching ``query``, in order.

        Raises:
            Unsupported: no ``process_instance_id`` was given (a query across every
                instance is not offered yet).
        """
        if query.process_instance_id is None:
            raise Unsupported(
                "the activity instance history can only be queried per process instance "
                "for now: give processInstanceId"
            )
        try:
            instance = self._engine.process_instance(query.process_instance_id)
        except NotFound:
            return ActivityHistory(None, [])
        activities = [
            activity
            for activity in self._engine.history(instance.id)
            if matches(activity.activity_id, query.activity_id)
            and matches(activity.activity_type, query.activity_type)
            and (not query.finished or activity.ended_at is not None)
            and (not query.unfinished or activity.ended_at is None)
            and (not query.canceled or activity.canceled)
        ]
        return ActivityHistory(instance, activities)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


@contextmanager
def _failures(action: str) -> Iterator[None]:
    """Turn a failure of user code (a delegate, a listener) into ``CommandFailed``.

    Safepoint's own errors pass through as they are: they map to their own statuses.
    """
    try:
        yield
    except SafepointError:
        raise
    except Exception as exc:  # a delegate's or listener's own failure; rolled back
        raise CommandFailed(action, exc) from exc


def _activity_node(
    node: ActivityInstance,
    process: Process,
    instance: ProcessInstance,
    *,
    parent_id: str | None,
) -> ActivityInstanceNode:
    """``node`` and what is under it, with types and names from the process model."""
    if parent_id is None:
        kind, name = PROCESS_DEFINITION_TYPE, process.name
    else:
        flow_node = process.node(node.activity_id)
        kind, name = activity_type(flow_node), flow_node.name
    return ActivityInstanceNode(
        id=node.id,
        activity_id=node.activity_id,
        activity_type=kind,
        activity_name=name,
        parent_activity_instance_id=parent_id,
        process_instance_id=instance.id,
        process_definition_id=instance.process_definition_id,
        execution_ids=tuple(node.execution_ids),
        child_activity_instances=tuple(
            _activity_node(child, process, instance, parent_id=node.id)
            for child in node.child_activity_instances
        ),
        child_transition_instances=tuple(
            _transition_node(transition, process, instance, parent_id=node.id)
            for transition in node.child_transition_instances
        ),
    )


def _transition_node(
    transition: TransitionInstance, process: Process, instance: ProcessInstance, *, parent_id: str
) -> TransitionInstanceNode:
    flow_node = process.node(transition.activity_id)
    return TransitionInstanceNode(
        id=transition.id,
        activity_id=transition.activity_id,
        activity_type=activity_type(flow_node),
        activity_name=flow_node.name,
        execution_id=transition.execution_id,
        parent_activity_instance_id=parent_id,
        process_instance_id=instance.id,
        process_definition_id=instance.process_definition_id,
    )
