"""External tasks: completion, failures with retries and retry timeout, incidents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bpmn_doc import definitions, element, flow, process

from safepoint import BadUserRequest, Engine, ManualClock


def deploy_external(engine: Engine, **attrs: str) -> str:
    engine.deploy(
        "external",
        {
            "external.bpmn": definitions(
                process(
                    "external",
                    element("startEvent", "start"),
                    flow("start", "send"),
                    element(
                        "serviceTask",
                        "send",
                        camunda__type="external",
                        camunda__topic="send",
                        **attrs,
                    ),
                    flow("send", "end"),
                    element("endEvent", "end"),
                )
            )
        },
    )
    return engine.start_process_instance_by_key("external", {"amount": 5}).id


def test_an_external_task_waits_for_its_worker_and_completes(engine: Engine) -> None:
    instance_id = deploy_external(engine)
    (task,) = engine.external_tasks(topic="send")
    assert (task.activity_id, task.topic, task.retries) == ("send", "send", None)
    assert engine.active_activity_ids(instance_id) == ["send"]

    engine.complete_external_task(task.id, {"sentAt": "now"})

    assert engine.process_instance(instance_id).ended
    assert engine.variables(instance_id)["sentAt"] == "now"
    assert engine.external_tasks() == []


def test_a_failure_holds_the_task_back_for_its_retry_timeout(
    engine: Engine, clock: ManualClock
) -> None:
    deploy_external(engine)
    (task,) = engine.external_tasks()
    engine.fail_external_task(
        task.id,
        error_message="SMTP down",
        error_details="trace",
        retries=2,
        retry_timeout=timedelta(seconds=30),
    )
    failed = engine.external_task(task.id)
    assert (failed.retries, failed.error_message, failed.error_details) == (2, "SMTP down", "trace")
    assert failed.lock_expires_at == clock() + timedelta(seconds=30)
    assert engine.lease_due_external_tasks() == []  # held back
    clock.advance(seconds=31)
    assert [t.id for t in engine.lease_due_external_tasks()] == [task.id]
    assert engine.incidents() == []


def test_zero_retries_open_an_incident_that_setting_retries_resolves(engine: Engine) -> None:
    instance_id = deploy_external(engine)
    (task,) = engine.external_tasks()
    engine.fail_external_task(task.id, error_message="gave up", retries=0)
    (incident,) = engine.incidents(instance_id)
    assert (incident.incident_type, incident.activity_id, incident.configuration) == (
        "failedExternalTask",
        "send",
        task.id,
    )
    assert incident.message == "gave up"
    assert engine.lease_due_external_tasks() == []  # not handed out again

    engine.set_external_task_retries(task.id, 1)
    assert engine.incidents(instance_id) == []
    assert [t.id for t in engine.lease_due_external_tasks()] == [task.id]
    engine.complete_external_task(task.id)
    assert engine.process_instance(instance_id).ended


def test_an_uncaught_bpmn_error_is_an_incident_not_a_lost_token(engine: Engine) -> None:
    instance_id = deploy_external(engine)
    (task,) = engine.external_tasks()
    engine.external_task_bpmn_error(
        task.id, "NO_ADDRESS", "customer has no e-mail", {"reason": "no-address"}
    )
    (incident,) = engine.incidents(instance_id)
    assert "NO_ADDRESS" in (incident.message or "")
    assert engine.variables(instance_id)["reason"] == "no-address"
    assert engine.active_activity_ids(instance_id) == ["send"]


def test_negative_retries_are_refused(engine: Engine) -> None:
    deploy_external(engine)
    (task,) = engine.external_tasks()
    with pytest.raises(BadUserRequest):
        engine.fail_external_task(task.id, error_message="x", retries=-1)


def test_deleting_the_instance_resolves_the_external_task_incident(engine: Engine) -> None:
    instance_id = deploy_external(engine)
    (task,) = engine.external_tasks()
    engine.fail_external_task(task.id, error_message="gave up", retries=0)
    engine.delete_process_instance(instance_id)
    assert engine.incidents() == []
    assert engine.external_tasks() == []
