"""Each way a job message can end: run, dropped, retried later, dead-lettered, requeued.

The engine runs on a real database (SQLite and PostgreSQL); no broker is involved: the
decision is what the consumer will do with the message.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from safepoint import Engine, Job, ManualClock
from safepoint.contract import ExecuteJob
from safepoint.messaging import Topology
from safepoint.messaging.outbox import job_message
from safepoint_job_executor.metrics import JobMetrics
from safepoint_job_executor.service import (
    ACK,
    MAX_REQUEUE_BACKOFF,
    DatabaseProbe,
    Decision,
    JobExecution,
    Settle,
    exception_type,
    requeue_delay,
)


class CardDeclined(Exception):
    """An exception of the application's own."""


def message(job: Job) -> ExecuteJob:
    built = job_message(job, Topology()).message
    assert isinstance(built, ExecuteJob)
    return built


def sample(metrics: JobMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    assert value is not None, name
    return value


@pytest.fixture
def metrics() -> JobMetrics:
    return JobMetrics()


@pytest.fixture
def execution(engine: Engine, metrics: JobMetrics, clock: ManualClock) -> JobExecution:
    return JobExecution(engine, metrics, clock=clock)


def test_a_job_that_runs_is_acked_and_its_instance_goes_on(
    engine: Engine,
    execution: JobExecution,
    metrics: JobMetrics,
    charge: Any,
    start_payment: Any,
) -> None:
    pid, job = start_payment()

    assert execution.execute(message(job)) == ACK

    assert charge.calls == 1
    assert engine.process_instance(pid).ended
    assert sample(metrics, "safepoint_jobs_executed_total") == 1
    assert sample(metrics, "safepoint_jobs_in_flight") == 0
    assert sample(metrics, "safepoint_job_duration_seconds_count") == 1


def test_a_message_whose_job_is_gone_is_a_duplicate_acked_without_running(
    engine: Engine,
    execution: JobExecution,
    metrics: JobMetrics,
    charge: Any,
    start_payment: Any,
) -> None:
    _, job = start_payment()
    execution.execute(message(job))

    assert execution.execute(message(job)) == ACK

    assert charge.calls == 1
    assert sample(metrics, "safepoint_jobs_duplicates_dropped_total", reason="gone") == 1


def test_a_failure_with_retries_left_is_acked_and_recorded_on_the_job(
    engine: Engine,
    execution: JobExecution,
    metrics: JobMetrics,
    charge: Any,
    start_payment: Any,
) -> None:
    _, job = start_payment()
    charge.mode = "fail"

    assert execution.execute(message(job)) == ACK

    row = engine.job(job.id)
    assert row.retries == 2
    assert row.exception_message == "card declined for ORDER-7"
    assert row.locked_by is None  # the dispatcher may publish it again at once
    assert engine.incidents() == []
    assert sample(metrics, "safepoint_jobs_failed_total") == 1
    assert sample(metrics, "safepoint_jobs_dead_lettered_total") == 0


def test_a_failure_with_no_retries_left_is_dead_lettered_with_the_job_and_its_exception(
    engine: Engine,
    execution: JobExecution,
    metrics: JobMetrics,
    charge: Any,
    start_payment: Any,
) -> None:
    pid, job = start_payment()
    charge.mode = "fail"
    for _ in range(2):
        assert execution.execute(message(engine.job(job.id))) == ACK

    decision = execution.execute(message(engine.job(job.id)))

    (incident,) = engine.incidents(pid)
    assert decision.settle is Settle.DEAD_LETTER
    assert decision.headers == {
        "x-safepoint-job-id": job.id,
        "x-safepoint-process-instance-id": pid,
        "x-safepoint-activity-id": "charge",
        "x-safepoint-failed-activity-id": "charge",
        "x-safepoint-exception-type": "ValueError",
        "x-safepoint-exception-message": "card declined for ORDER-7",
        "x-safepoint-incident-id": incident.id,
    }
    assert decision.reason == (
        f"job {job.id} at charge has no retries left: ValueError: card declined for ORDER-7"
    )
    assert charge.calls == 3
    assert sample(metrics, "safepoint_jobs_dead_lettered_total") == 1


def test_a_stale_copy_of_an_exhausted_job_is_dropped_without_running_it(
    engine: Engine,
    execution: JobExecution,
    metrics: JobMetrics,
    charge: Any,
    start_payment: Any,
) -> None:
    pid, job = start_payment()
    engine.set_job_retries(job.id, 0)  # as if it had failed for the last time

    assert execution.execute(message(job)) == ACK

    assert charge.calls == 0
    assert engine.job(job.id).retries == 0
    assert len(engine.incidents(pid)) == 1, "no second incident"
    assert sample(metrics, "safepoint_jobs_duplicates_dropped_total", reason="exhausted") == 1


def test_a_copy_arriving_before_the_retry_delay_has_passed_is_dropped_without_running(
    engine: Engine,
    execution: JobExecution,
    metrics: JobMetrics,
    charge: Any,
    clock: ManualClock,
    start_payment: Any,
) -> None:
    pid, job = start_payment(cycle="R3/PT5M")
    charge.mode = "fail"
    assert execution.execute(message(job)) == ACK  # retries 2, due in 5 minutes
    charge.mode = "ok"

    assert execution.execute(message(job)) == ACK
    assert charge.calls == 1
    assert sample(metrics, "safepoint_jobs_duplicates_dropped_total", reason="not_due") == 1

    clock.advance(minutes=5)
    assert execution.execute(message(job)) == ACK
    assert charge.calls == 2
    assert engine.process_instance(pid).ended


def test_an_optimistic_locking_conflict_is_acked_without_using_up_a_retry(
    engine: Engine,
    execution: JobExecution,
    metrics: JobMetrics,
    charge: Any,
    start_payment: Any,
) -> None:
    _, job = start_payment()
    charge.mode = "conflict"

    assert execution.execute(message(job)) == ACK

    row = engine.job(job.id)
    assert row.retries == 3
    assert row.locked_by is None
    assert sample(metrics, "safepoint_jobs_optimistic_lock_conflicts_total") == 1
    assert sample(metrics, "safepoint_jobs_failed_total") == 0


def test_a_not_found_raised_by_a_delegate_is_a_failure_not_a_duplicate(
    engine: Engine,
    execution: JobExecution,
    metrics: JobMetrics,
    charge: Any,
    start_payment: Any,
) -> None:
    _, job = start_payment()
    charge.mode = "not-found"

    assert execution.execute(message(job)) == ACK

    assert engine.job(job.id).retries == 2
    assert sample(metrics, "safepoint_jobs_failed_total") == 1
    assert sample(metrics, "safepoint_jobs_duplicates_dropped_total", reason="gone") == 0


def test_a_delegate_that_exits_does_not_crash_the_consumer_the_message_is_requeued(
    engine: Engine,
    execution: JobExecution,
    metrics: JobMetrics,
    charge: Any,
    start_payment: Any,
) -> None:
    _, job = start_payment()
    charge.mode = "exit"

    decision = execution.execute(message(job), delivery_count=1)

    assert decision == Decision(Settle.REQUEUE, delay=1.0)
    assert engine.job(job.id).retries == 3, "rolled back, nothing recorded"
    assert sample(metrics, "safepoint_jobs_requeued_total") == 1
    assert sample(metrics, "safepoint_jobs_in_flight") == 0


def test_a_message_is_requeued_after_a_pause_while_the_database_cannot_be_reached() -> None:
    metrics = JobMetrics()
    url = f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/none"
    with Engine(url, migrate=False) as engine:
        execution = JobExecution(engine, metrics)
        job = ExecuteJob(
            job_id="j1",
            process_instance_id="p1",
            process_definition_key="payment",
            activity_id="charge",
            configuration="transition-create-scope",
            retries=3,
        )

        first = execution.execute(job)
        later = execution.execute(job, delivery_count=3)

    assert first == Decision(Settle.REQUEUE, delay=0.5)
    assert later == Decision(Settle.REQUEUE, delay=4.0)
    assert sample(metrics, "safepoint_jobs_requeued_total") == 2


def test_the_pause_before_a_requeue_doubles_per_delivery_up_to_a_limit() -> None:
    assert [requeue_delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert requeue_delay(7) == MAX_REQUEUE_BACKOFF
    assert requeue_delay(10_000) == MAX_REQUEUE_BACKOFF


def test_exception_types_are_named_by_module_except_builtins() -> None:
    assert exception_type(ValueError("x")) == "ValueError"
    assert exception_type(TimeoutError()) == "TimeoutError"
    assert exception_type(CardDeclined()) == f"{__name__}.CardDeclined"


def test_the_database_probe_says_whether_the_database_answers(database_url: str) -> None:
    reachable = DatabaseProbe(database_url)
    unreachable = DatabaseProbe(f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/none")
    try:
        assert reachable.reachable()
        assert not unreachable.reachable()
    finally:
        reachable.close()
        unreachable.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
