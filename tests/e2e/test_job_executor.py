"""The job-executor as real processes on RabbitMQ and PostgreSQL: jobs run once, nothing lost.

Instances are started from the test (an embedded engine whose commits publish the first
jobs); the executors continue them from safe point to safe point.
"""

from __future__ import annotations

import signal
import socket
import time
from collections import Counter
from typing import Any

import pytest
from bpmn_doc import definitions, element, flow, process

from safepoint import Engine

INVOICE = definitions(
    process(
        "invoice",
        element("startEvent", "start"),
        flow("start", "generate"),
        element(
            "serviceTask",
            "generate",
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
            camunda__delegateExpression="${work}",
        ),
        flow("generate", "send"),
        element(
            "serviceTask",
            "send",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${work}",
        ),
        flow("send", "archive"),
        element(
            "serviceTask",
            "archive",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${work}",
        ),
        flow("archive", "end"),
        element("endEvent", "end"),
    )
)
"""Four safe points per instance: before and after ``generate``, before ``send`` and
``archive``; every task runs the recording delegate ``work``."""

INVOICE_TASKS = ("generate", "send", "archive")

PAYMENT = definitions(
    process(
        "payment",
        element("startEvent", "start"),
        flow("start", "charge"),
        element(
            "serviceTask",
            "charge",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${fail}",
        ),
        flow("charge", "end"),
        element("endEvent", "end"),
    )
)
"""One job whose delegate fails until the test heals it (default: 3 retries)."""

INSTANCES = 50


def start_invoices(engine: Engine, count: int, **variables: Any) -> list[str]:
    engine.deploy("invoice", {"invoice.bpmn": INVOICE})
    return [
        engine.start_process_instance_by_key("invoice", variables, f"INV-{n}").id
        for n in range(count)
    ]


def all_ended(engine: Engine, instance_ids: list[str]) -> bool:
    return not engine.process_instances(process_definition_key="invoice", active=True) and all(
        engine.process_instance(pid).ended for pid in instance_ids
    )


def assert_each_activity_once(engine: Engine, instance_ids: list[str]) -> None:
    for pid in instance_ids:
        counts = Counter(entry.activity_id for entry in engine.history(pid))
        assert counts == {"start": 1, **dict.fromkeys(INVOICE_TASKS, 1), "end": 1}, pid
    assert engine.jobs() == []
    assert engine.incidents() == []


def executed(executor: Any) -> float:
    return executor.metrics()["safepoint_jobs_executed_total"]


def start_executors(
    start_executor: Any, count: int, env: dict[str, str] | None = None
) -> list[Any]:
    """Start ``count`` executors at once and wait until each consumes."""
    started = [start_executor(env, name=f"executor-{n + 1}", wait=False) for n in range(count)]
    for executor in started:
        executor.wait_ready(path="/ready")
    return started


def test_one_then_two_executors_complete_every_instance_running_each_activity_once(
    engine: Engine, start_executor: Any, wait_until: Any, delegate_runs: Any
) -> None:
    first = start_executor(name="executor-1")
    assert "uvloop event loop" in first.output(), "uvloop by default where it is installed"
    ids = start_invoices(engine, INSTANCES)

    wait_until(lambda: all_ended(engine, ids), timeout=30, what="all instances ended")
    assert_each_activity_once(engine, ids)
    # 4 safe points per instance, all taken from the queue by the executor.
    assert executed(first) == 4 * INSTANCES

    second = start_executor(name="executor-2")
    more = start_invoices(engine, INSTANCES)

    wait_until(lambda: all_ended(engine, ids + more), timeout=30, what="all instances ended")
    assert_each_activity_once(engine, ids + more)
    for pid in ids + more:
        runs = delegate_runs(pid)
        assert [(activity, event) for activity, _, event in runs] == [
            (activity, event) for activity in INVOICE_TASKS for event in ("start", "end")
        ]
    assert executed(first) + executed(second) == 8 * INSTANCES
    assert executed(first) > 4 * INSTANCES and executed(second) > 0, "competing consumers"


def test_duplicate_deliveries_are_dropped_and_no_delegate_runs_twice(
    engine: Engine, broker: Any, start_executor: Any, wait_until: Any, delegate_runs: Any
) -> None:
    broker.duplicate_jobs()
    # Every job through the queue (a follow-up job would run without a message to copy).
    executors = start_executors(start_executor, 2, {"SAFEPOINT_EXECUTOR_FOLLOW_UPS": "0"})
    ids = start_invoices(engine, INSTANCES)

    wait_until(lambda: all_ended(engine, ids), timeout=30, what="all instances ended")

    assert_each_activity_once(engine, ids)
    for pid in ids:
        starts = [activity for activity, _, event in delegate_runs(pid) if event == "start"]
        assert starts == list(INVOICE_TASKS), pid

    def dropped() -> float:
        return sum(
            value
            for executor in executors
            for name, value in executor.metrics().items()
            if name.startswith("safepoint_jobs_duplicates_dropped_total")
        )

    # Every one of the 4 * INSTANCES job messages arrived twice: one copy ran the job.
    wait_until(lambda: dropped() == 4 * INSTANCES, timeout=10, what="every copy dropped")
    assert sum(executed(executor) for executor in executors) == 4 * INSTANCES


def test_a_job_out_of_retries_raises_an_incident_and_is_dead_lettered_with_its_exception(
    engine: Engine,
    broker: Any,
    dispatcher: Any,
    start_executor: Any,
    wait_until: Any,
    state_dir: Any,
) -> None:
    executor = start_executor()
    engine.deploy("payment", {"payment.bpmn": PAYMENT})
    instance = engine.start_process_instance_by_key("payment", business_key="ORDER-7")

    (incident,) = wait_until(lambda: engine.incidents(instance.id), timeout=20, what="incident")
    (job,) = engine.jobs(instance.id)
    assert job.retries == 0
    assert incident.incident_type == "failedJob"
    assert incident.configuration == job.id
    assert incident.message == "card declined for ORDER-7"
    failures = [entry for entry in engine.job_log(job_id=job.id) if entry.event == "failed"]
    assert len(failures) == 3  # the default: 3 attempts, republished by the dispatcher

    dead = broker.get("safepoint.jobs.dlq", timeout=10)
    assert dead.type == "safepoint.job.execute.v1"
    assert dead.body["jobId"] == job.id
    assert dead.headers["x-safepoint-job-id"] == job.id
    assert dead.headers["x-safepoint-process-instance-id"] == instance.id
    assert dead.headers["x-safepoint-activity-id"] == "charge"
    assert dead.headers["x-safepoint-exception-type"] == "RuntimeError"
    assert dead.headers["x-safepoint-exception-message"] == "card declined for ORDER-7"
    assert dead.headers["x-safepoint-incident-id"] == incident.id
    assert "card declined for ORDER-7" in dead.headers["x-safepoint-reason"]
    assert dead.headers["x-safepoint-original-queue"] == "safepoint.jobs"
    time.sleep(0.5)
    assert broker.message_count("safepoint.jobs.dlq") == 0, "dead-lettered once only"
    assert executor.metrics()["safepoint_jobs_dead_lettered_total"] == 1

    # The operator fixes the cause and sets the retries: the job runs again, the
    # dead-lettered copy is stale (its job's row is gone).
    (state_dir / "heal").touch()
    engine.set_job_retries(job.id, 1)
    wait_until(lambda: engine.process_instance(instance.id).ended, timeout=15, what="ended")
    assert engine.jobs() == []
    assert engine.incidents() == []


def test_sigterm_lets_running_jobs_finish_and_loses_nothing(
    engine: Engine, start_executor: Any, wait_until: Any, delegate_runs: Any
) -> None:
    grace = 10.0
    first = start_executor(
        {
            "SAFEPOINT_EXECUTOR_CONCURRENCY": "3",
            "SAFEPOINT_EXECUTOR_SHUTDOWN_GRACE_SECONDS": str(grace),
        },
        name="executor-stopped",
    )
    ids = start_invoices(engine, 6, sleep_generate=1.5)

    def running_jobs() -> list[str]:
        runs = [run for pid in ids for run in delegate_runs(pid)]
        return [activity for activity, _, event in runs if event == "start"]

    wait_until(lambda: len(running_jobs()) == 3, timeout=15, what="3 jobs running")
    stopped_at = time.monotonic()
    first.send_signal(signal.SIGTERM)
    assert first.wait(grace + 5) == 0
    # It waited for the running jobs (1.5 s each), not for the whole grace period.
    assert time.monotonic() - stopped_at < grace / 2
    # The 3 jobs in flight finished and were acknowledged; no other was taken.
    ends = [run for pid in ids for run in delegate_runs(pid) if run[2] == "end"]
    assert len(ends) == 3
    assert not any(engine.process_instance(pid).ended for pid in ids)

    start_executor({"SAFEPOINT_EXECUTOR_CONCURRENCY": "8"}, name="executor-new")
    wait_until(lambda: all_ended(engine, ids), timeout=30, what="all instances ended")
    assert_each_activity_once(engine, ids)
    for pid in ids:
        starts = [activity for activity, _, event in delegate_runs(pid) if event == "start"]
        assert starts == list(INVOICE_TASKS), "nothing ran twice"


def test_a_killed_executor_s_job_is_redelivered_and_runs_to_the_end_once(
    engine: Engine, start_executor: Any, wait_until: Any, delegate_runs: Any
) -> None:
    doomed = start_executor(name="executor-killed")
    (pid,) = start_invoices(engine, 1, sleep_generate=2)

    wait_until(lambda: delegate_runs(pid), timeout=15, what="generate started")
    assert doomed.kill() == -signal.SIGKILL
    (killed_run,) = delegate_runs(pid)
    assert killed_run == ("generate", doomed.pid, "start")

    survivor = start_executor(name="executor-survivor")
    wait_until(lambda: engine.process_instance(pid).ended, timeout=30, what="instance ended")

    assert_each_activity_once(engine, [pid])
    runs = delegate_runs(pid)
    # At least once: the killed attempt ran the delegate too, but only the survivor's
    # attempt committed.
    assert [(activity, event) for activity, _, event in runs] == [
        ("generate", "start"),
        ("generate", "start"),
        ("generate", "end"),
        ("send", "start"),
        ("send", "end"),
        ("archive", "start"),
        ("archive", "end"),
    ]
    assert {run_pid for _, run_pid, _ in runs[1:]} == {survivor.pid}


def test_a_job_still_running_when_the_grace_period_ends_is_redelivered(
    engine: Engine, start_executor: Any, wait_until: Any, delegate_runs: Any
) -> None:
    impatient = start_executor(
        {"SAFEPOINT_EXECUTOR_SHUTDOWN_GRACE_SECONDS": "0.5"}, name="executor-impatient"
    )
    (pid,) = start_invoices(engine, 1, sleep_generate=2)
    wait_until(lambda: delegate_runs(pid), timeout=15, what="generate started")

    stopped_at = time.monotonic()
    impatient.send_signal(signal.SIGTERM)
    assert impatient.wait(10) == 0
    assert time.monotonic() - stopped_at < 1.8, "it did not wait for the 2 s job"
    assert "1 job(s) still running; their messages go back to the queue" in impatient.output()
    assert delegate_runs(pid) == [("generate", impatient.pid, "start")]

    successor = start_executor(name="executor-successor")
    wait_until(lambda: engine.process_instance(pid).ended, timeout=20, what="instance ended")
    assert_each_activity_once(engine, [pid])
    assert delegate_runs(pid)[:3] == [
        ("generate", impatient.pid, "start"),
        ("generate", successor.pid, "start"),
        ("generate", successor.pid, "end"),
    ]


def test_an_unreachable_broker_stops_the_start_with_a_hint_and_exit_code_2(
    start_service: Any, unused_amqp_url: str
) -> None:
    executor = start_service(
        "safepoint_job_executor",
        env={"SAFEPOINT_AMQP_URL": unused_amqp_url},
        isolated=False,
        wait=False,
    )

    assert executor.wait(20) == 2
    output = executor.output().strip()
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert "cannot reach RabbitMQ" in output
    assert "rabbitmq-server" in output
    assert "SAFEPOINT_AMQP_URL" in output


@pytest.fixture
def unused_amqp_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"amqp://guest:guest@127.0.0.1:{port}/"
