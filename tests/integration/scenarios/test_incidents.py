"""``failedJob`` incidents: creation, fields, resolution (reference 1.9; scenarios 47-52)."""

from __future__ import annotations

import pytest
from bpmn_doc import (
    Failing,
    chain,
    deploy,
    element,
    only_job,
    retry_time_cycle,
)

from safepoint import BadUserRequest, Engine


def deploy_failing_service_task(engine: Engine, cycle: str | None = None) -> None:
    """start → theServiceTask (asyncBefore, always failing) → theUserTask → end."""
    deploy(
        engine,
        element("startEvent", "start"),
        element(
            "serviceTask",
            "theServiceTask",
            camunda__asyncBefore="true",
            camunda__class="failing",
            extensions=retry_time_cycle(cycle) if cycle else "",
        ),
        element("userTask", "theUserTask"),
        element("endEvent", "end"),
        *chain("start", "theServiceTask", "theUserTask", "end"),
    )


def exhaust(engine: Engine, job_id: str) -> None:
    """Run the job until its retries are used up (the job executor's view)."""
    while engine.job(job_id).retries > 0:
        with pytest.raises(RuntimeError):
            engine.execute_job(job_id)


def test_47_exhausted_retries_raise_one_failed_job_incident(engine: Engine) -> None:
    """Scenario 47: one ``failedJob`` incident with the job's data once retries run out.

    message = the exception message; execution = the process instance; activityId =
    failedActivityId = the task; configuration = the job id; jobDefinitionId = the job's.
    """
    deploy_failing_service_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)

    assert engine.execute_available_jobs() == 3

    (incident,) = engine.incidents()
    assert incident.incident_type == "failedJob"
    assert incident.message == "expected failure"
    assert incident.process_instance_id == instance.id
    assert incident.process_definition_id == instance.process_definition_id
    assert incident.execution_id == instance.id
    assert incident.activity_id == "theServiceTask"
    assert incident.failed_activity_id == "theServiceTask"
    assert incident.configuration == job.id
    assert incident.job_id == job.id
    assert incident.job_definition_id == job.job_definition_id
    assert incident.open
    assert engine.incidents(instance.id) == [incident]


def test_48_r0_raises_the_incident_at_the_first_failure_with_message_and_stacktrace(
    engine: Engine,
) -> None:
    """Scenario 48: R0/PT30S → 1 retry; the first failure opens the incident.

    The job's exception message is the delegate's; the stack trace is stored.
    """
    engine.delegates["failing"] = Failing("R0 says no")
    deploy_failing_service_task(engine, "R0/PT30S")
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.retries == 1

    with pytest.raises(RuntimeError, match="R0 says no"):
        engine.execute_job(job.id)

    (incident,) = engine.incidents(instance.id)
    assert incident.message == "R0 says no"
    job = engine.job(job.id)
    assert job.retries == 0
    assert job.exception_message == "R0 says no"
    assert job.exception_stacktrace
    assert "RuntimeError: R0 says no" in job.exception_stacktrace


def test_49_failed_activity_id_is_the_downstream_activity_that_threw(engine: Engine) -> None:
    """Scenario 49: async theTask → sync theTask2 → sync theTask3 (fails).

    The incident sits at the job's activity ``theTask`` but names ``theTask3`` as the
    activity that failed.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "theTask", camunda__asyncBefore="true", camunda__class="record"),
        element("serviceTask", "theTask2", camunda__class="record"),
        element("serviceTask", "theTask3", camunda__class="failing"),
        element("endEvent", "end"),
        *chain("start", "theTask", "theTask2", "theTask3", "end"),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)

    exhaust(engine, job.id)

    (incident,) = engine.incidents(instance.id)
    assert incident.activity_id == "theTask"
    assert incident.failed_activity_id == "theTask3"
    assert engine.job(job.id).failed_activity_id == "theTask3"
    assert engine.active_activity_ids(instance.id) == ["theTask"]


def test_50_set_job_retries_resolves_the_incident_and_a_new_failure_opens_a_new_one(
    engine: Engine,
) -> None:
    """Scenario 50: set_job_retries(job, 1) resolves; the next failure opens a new incident.

    There is still exactly one open incident, with a new id.
    """
    deploy_failing_service_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    exhaust(engine, job.id)
    (first,) = engine.incidents(instance.id)

    engine.set_job_retries(job.id, 1)
    assert engine.incidents(instance.id) == []
    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)

    (second,) = engine.incidents(instance.id)
    assert second.id != first.id
    assert second.configuration == job.id
    assert engine.job(job.id).retries == 0


def test_50_set_job_retries_by_job_definition_keeps_the_same_incident(engine: Engine) -> None:
    """Scenario 50: set_job_retries_by_job_definition_id does not resolve the incident.

    After another failure there is still one incident, with the same id.
    """
    deploy_failing_service_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    exhaust(engine, job.id)
    (first,) = engine.incidents(instance.id)

    engine.set_job_retries_by_job_definition_id(job.job_definition_id, 1)
    assert engine.job(job.id).retries == 1
    assert [i.id for i in engine.incidents(instance.id)] == [first.id]
    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)

    assert [i.id for i in engine.incidents(instance.id)] == [first.id]
    assert engine.job(job.id).retries == 0


def test_51_fixing_the_cause_and_setting_retries_lets_the_job_succeed(engine: Engine) -> None:
    """Scenario 51: after an incident, fix the delegate, set retries 1, run the jobs.

    The instance moves on to ``theUserTask``; no incident and no job are left.
    """
    deploy_failing_service_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    engine.execute_available_jobs()
    assert len(engine.incidents(instance.id)) == 1

    engine.delegates["failing"] = lambda execution: None  # the cause is fixed
    engine.set_job_retries(job.id, 1)
    assert engine.execute_available_jobs() == 1

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["theUserTask"]
    assert engine.incidents() == []
    assert engine.jobs() == []


def test_51_deleting_the_job_removes_its_incident(engine: Engine) -> None:
    """Scenario 51 (shouldDeleteIncidentAfterJobHasBeenDeleted): delete_job → no incident."""
    deploy_failing_service_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    engine.execute_available_jobs()
    assert len(engine.incidents(instance.id)) == 1

    engine.delete_job(job.id)

    assert engine.incidents() == []
    assert engine.jobs() == []


def test_52_a_manual_run_at_zero_retries_keeps_zero_and_one_incident(engine: Engine) -> None:
    """Scenario 52: executing a job with 0 retries fails again; retries stay 0, 1 incident.

    The incident is the same one.
    """
    deploy_failing_service_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    exhaust(engine, job.id)
    (incident,) = engine.incidents(instance.id)

    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)

    assert engine.job(job.id).retries == 0
    assert [i.id for i in engine.incidents(instance.id)] == [incident.id]


def test_52_negative_retries_are_refused(engine: Engine) -> None:
    """Scenario 52: set_job_retries (and the by-definition variant) refuse negative values."""
    deploy_failing_service_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    exhaust(engine, job.id)

    with pytest.raises(BadUserRequest):
        engine.set_job_retries(job.id, -1)
    with pytest.raises(BadUserRequest):
        engine.set_job_retries_by_job_definition_id(job.job_definition_id, -1)

    assert engine.job(job.id).retries == 0
    assert len(engine.incidents(instance.id)) == 1


def test_a_successful_manual_run_resolves_the_incident(engine: Engine) -> None:
    """1.9 (shouldDeleteIncidentAfterJobWasSuccessfully): success at 0 retries resolves it.

    ManagementService.executeJob ignores retries, so a job at 0 retries can be run by
    hand; when it succeeds the job is deleted and its incident resolved.
    """
    deploy_failing_service_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    exhaust(engine, job.id)

    engine.delegates["failing"] = lambda execution: None
    engine.execute_job(job.id)

    assert engine.incidents() == []
    assert engine.jobs() == []
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["theUserTask"]


def test_setting_retries_to_zero_raises_the_incident(engine: Engine) -> None:
    """1.9: an incident opens whenever a job's retries go from >0 to 0, by the API too.

    Camunda's ``JobEntity.setRetries`` creates the ``failedJob`` incident on that change,
    so ``setJobRetries(job, 0)`` on a healthy job opens one (the job has no exception
    yet, so the incident has no message); the job is then no longer picked up.
    """
    deploy_failing_service_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)

    engine.set_job_retries(job.id, 0)

    assert engine.job(job.id).retries == 0
    incidents = engine.incidents(instance.id)
    assert len(incidents) == 1, "set_job_retries(job, 0) must open a failedJob incident"
    (incident,) = incidents
    assert (incident.incident_type, incident.configuration, incident.activity_id) == (
        "failedJob",
        job.id,
        "theServiceTask",
    )
    assert incident.message is None
    assert engine.execute_available_jobs() == 0

    engine.set_job_retries(job.id, 1)
    assert engine.incidents() == []


def test_deleting_the_instance_removes_its_incident(engine: Engine) -> None:
    """1.9: deleting a process instance removes its failed job and the job's incident."""
    deploy_failing_service_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    exhaust(engine, job.id)
    assert len(engine.incidents(instance.id)) == 1

    engine.delete_process_instance(instance.id, "operator gave up")

    assert engine.incidents() == []
    assert engine.jobs() == []
