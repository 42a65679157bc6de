"""Retries on real services: the retry cycle's delays, the incident, the dead letter, the fix.

A job's failure is recorded on its row (retries, exception, due date from
``camunda:failedJobRetryTimeCycle``); the engine service's dispatcher publishes it again
once it is due. At 0 retries a ``failedJob`` incident opens and the job message goes to
``safepoint.jobs.dlq`` with the exception in its headers. ``PUT
/engine-rest/job/{id}/retries`` resolves the incident and the job runs again; the
dead-lettered copy stays where it is, recognisably stale: its job's row is gone.
"""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from bpmn_doc import definitions, element, flow, process, retry_time_cycle

from safepoint import Engine

logger = logging.getLogger(__name__)

RETRY_DELAY = 2.0
"""Seconds between attempts: ``R3/PT2S``."""
DISPATCH_INTERVAL = 0.2
"""The engine's dispatcher polls this often (seconds)."""
SLACK = 1.0
"""What a republished job may take beyond its due time and one poll (publish, consume, run)."""

PAYMENT = definitions(
    process(
        "flaky_payment",
        element("startEvent", "start"),
        flow("start", "charge"),
        element(
            "serviceTask",
            "charge",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${flaky}",
            extensions=retry_time_cycle("R3/PT2S"),
        ),
        flow("charge", "end"),
        element("endEvent", "end"),
    )
)
"""One job, 3 attempts 2 s apart; ``flaky`` fails while the file ``broken`` exists."""

FAILURE = "payment service down for ORDER-0"


def attempts(state_dir: Path, process_instance_id: str) -> list[datetime]:
    """When ``flaky`` ran for the instance (its own clock: the same machine's)."""
    path = state_dir / "attempts" / process_instance_id
    lines = path.read_text().splitlines() if path.exists() else []
    return [datetime.fromtimestamp(float(line.split()[0])) for line in lines]


def seconds_between(times: list[datetime]) -> list[float]:
    return [(later - earlier).total_seconds() for earlier, later in pairwise(times)]


def test_retry_delays_are_honoured_then_incident_dead_letter_and_operator_retry_complete_it(
    engine: Engine,
    broker: Any,
    start_engine: Any,
    start_executor: Any,
    http: Any,
    wait_until: Any,
    state_dir: Path,
) -> None:
    """Retry delays honoured; at 0 retries an incident and a dead letter; retries set: done.

    Each gap between attempts is at least the cycle's 2 s and at most 2 s + 1 s + the
    dispatcher's poll interval. After ``PUT /job/{id}/retries`` (cause fixed) the
    incident is resolved and the instance completes; the dead-lettered copy remains,
    stale: ``GET /job/{x-safepoint-job-id}`` answers 404, and a copy sent to the jobs
    queue again is dropped without running anything.
    """
    (state_dir / "broken").touch()
    engine.deploy("flaky-payment", {"payment.bpmn": PAYMENT})
    engine_service = start_engine({"SAFEPOINT_MESSAGING_DISPATCH_INTERVAL": str(DISPATCH_INTERVAL)})
    executor = start_executor()
    api = f"{engine_service.url}/engine-rest"

    (pid,) = http.start_instances(engine_service.url, "flaky_payment", 1, business_key="ORDER-")

    def open_incidents() -> Any:
        return http.get(f"{api}/incident?processInstanceId={pid}").json()

    (incident,) = wait_until(
        open_incidents, timeout=2 * RETRY_DELAY + 20, what="a failedJob incident"
    )
    (job,) = engine.jobs(pid)
    assert job.retries == 0
    assert incident["incidentType"] == "failedJob"
    assert incident["configuration"] == job.id
    assert incident["activityId"] == "charge"
    assert incident["incidentMessage"] == FAILURE

    # The retry delays, by the job log (the database's clock) and by the delegate's.
    failures = [entry for entry in engine.job_log(job_id=job.id) if entry.event == "failed"]
    assert [entry.retries for entry in failures] == [3, 2, 1]  # retries before each failure
    assert {entry.exception_message for entry in failures} == {FAILURE}
    longest = RETRY_DELAY + SLACK + DISPATCH_INTERVAL
    for gaps in (
        seconds_between([entry.timestamp for entry in failures]),
        seconds_between(attempts(state_dir, pid)),
    ):
        logger.info("seconds between attempts: %s", gaps)
        assert len(gaps) == 2, gaps
        assert all(RETRY_DELAY <= gap <= longest for gap in gaps), gaps

    # At 0 retries the job message was dead-lettered once.
    wait_until(
        lambda: broker.message_count("safepoint.jobs.dlq") == 1, timeout=10, what="a dead letter"
    )
    assert executor.metrics()["safepoint_jobs_dead_lettered_total"] == 1

    # The operator fixes the cause and sets the job's retries over HTTP.
    (state_dir / "broken").unlink()
    answer = http.put(f"{api}/job/{job.id}/retries", {"retries": 1})
    assert answer.status == 204, answer.text
    assert http.get(f"{api}/incident").json() == []

    wait_until(lambda: engine.process_instance(pid).ended, timeout=15, what="the instance ended")
    assert len(attempts(state_dir, pid)) == 4
    assert engine.jobs() == []
    assert engine.incidents() == []
    assert [entry.activity_id for entry in engine.history(pid)] == ["start", "charge", "end"]

    # The dead-lettered copy is still there, with the exception, and stale.
    assert broker.message_count("safepoint.jobs.dlq") == 1
    dead = broker.get("safepoint.jobs.dlq", timeout=5)
    assert dead.body["jobId"] == job.id
    assert dead.headers["x-safepoint-job-id"] == job.id
    assert dead.headers["x-safepoint-process-instance-id"] == pid
    assert dead.headers["x-safepoint-activity-id"] == "charge"
    assert dead.headers["x-safepoint-exception-type"] == "RuntimeError"
    assert dead.headers["x-safepoint-exception-message"] == FAILURE
    assert dead.headers["x-safepoint-incident-id"] == incident["id"]
    assert FAILURE in dead.headers["x-safepoint-reason"]
    gone = http.get(f"{api}/job/{dead.headers['x-safepoint-job-id']}")
    assert gone.status == 404, gone.text

    # Moved back to the jobs queue anyway, the copy is dropped as a duplicate: nothing runs.
    def dropped_as_gone() -> float:
        return executor.metrics().get('safepoint_jobs_duplicates_dropped_total{reason="gone"}', 0)

    earlier = dropped_as_gone()
    broker.publish_jobs([job])
    wait_until(lambda: dropped_as_gone() == earlier + 1, timeout=10, what="the stale copy dropped")
    assert len(attempts(state_dir, pid)) == 4
    assert [entry.activity_id for entry in engine.history(pid)] == ["start", "charge", "end"]
