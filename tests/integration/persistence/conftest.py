"""Fixtures of the persistence tests: a migrated ``Store`` on each database under test.

``database_url`` (SQLite and PostgreSQL, a fresh database each) is ``tests/conftest.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from safepoint.core.entities import (
    EventSubscription,
    Execution,
    ExternalTask,
    HistoricActivityInstance,
    Incident,
    Job,
    JobLog,
    JobLogEvent,
    ProcessInstance,
    Task,
)
from safepoint.core.state import InstanceState
from safepoint.persistence.store import Store

T0 = datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=UTC)
"""A fixed instant the entities are built around."""


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on an empty database."""
    store = Store(database_url)
    store.migrate()
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def new_state() -> Callable[..., InstanceState]:
    """Build an instance state holding one entity of every kind (and variables)."""
    return full_state


def full_state(
    pid: str = "pi-1", *, business_key: str | None = "order-7", definition_key: str = "invoice"
) -> InstanceState:
    definition_id = f"{definition_key}:1:dep-1"
    state = InstanceState(
        instance=ProcessInstance(
            id=pid,
            process_definition_id=definition_id,
            process_definition_key=definition_key,
            business_key=business_key,
            started_at=T0,
            revision=1,
            next_ordinal=3,
        )
    )
    root = Execution(
        id=pid,
        process_instance_id=pid,
        parent_id=None,
        activity_id="review",
        activity_instance_id="review:ai-1",
        scope_activity_id=definition_key,
        scope_instance_id=pid,
        is_scope=True,
    )
    child = Execution(
        id=f"{pid}-ex-2",
        process_instance_id=pid,
        parent_id=pid,
        activity_id="send",
        is_concurrent=True,
        ordinal=1,
    )
    state.executions = {root.id: root, child.id: child}
    state.variables = {
        pid: {"amount": 10, "approved": True, "customer": "Ann", "items": [1, {"sku": "A"}]},
        "review:ai-1": {"local": 2.5},
    }
    job = Job(
        id=f"{pid}-job-1",
        process_instance_id=pid,
        execution_id=child.id,
        activity_id="send",
        process_definition_id=definition_id,
        process_definition_key=definition_key,
        job_definition_id=f"{definition_key}:send:before",
        configuration="transition-create-scope",
        created_at=T0,
        due_at=T0 + timedelta(minutes=5),
        trace_context={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    )
    state.jobs = {job.id: job}
    task = Task(
        id=f"{pid}-task-1",
        process_instance_id=pid,
        execution_id=pid,
        activity_id="review",
        activity_instance_id="review:ai-1",
        process_definition_id=definition_id,
        created_at=T0,
        name="Review",
        assignee="ann",
        candidate_groups=("accounting", "management"),
    )
    state.tasks = {task.id: task}
    external = ExternalTask(
        id=f"{pid}-ext-1",
        process_instance_id=pid,
        execution_id=child.id,
        activity_id="send",
        activity_instance_id="send:ai-2",
        process_definition_id=definition_id,
        process_definition_key=definition_key,
        topic="send",
        created_at=T0,
        retries=2,
        error_message="smtp down",
        trace_context={"traceparent": "00-1-2-01"},
    )
    state.external_tasks = {external.id: external}
    subscription = EventSubscription(
        id=f"{pid}-sub-1",
        process_instance_id=pid,
        execution_id=pid,
        activity_id="wait",
        event_name="payment-received",
        created_at=T0,
    )
    state.subscriptions = {subscription.id: subscription}
    incident = Incident(
        id=f"{pid}-inc-1",
        process_instance_id=pid,
        process_definition_id=definition_id,
        execution_id=child.id,
        activity_id="send",
        incident_type="failedJob",
        created_at=T0,
        message="boom",
        failed_activity_id="send",
        configuration=job.id,
        job_definition_id=job.job_definition_id,
    )
    state.incidents = {incident.id: incident}
    review = HistoricActivityInstance(
        id="review:ai-1",
        process_instance_id=pid,
        activity_id="review",
        activity_type="userTask",
        execution_id=pid,
        parent_activity_instance_id=pid,
        started_at=T0,
        ordinal=1,
        activity_name="Review",
        task_id=task.id,
    )
    state.activity_instances = {review.id: review}
    state.job_logs = [
        JobLog(
            id=f"{pid}-log-1",
            process_instance_id=pid,
            job_id=job.id,
            activity_id="send",
            configuration=job.configuration,
            event=JobLogEvent.CREATED,
            timestamp=T0,
            ordinal=2,
            retries=3,
        )
    ]
    return state


@pytest.fixture
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements sent to the database from now on (one per executemany batch)."""
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
