"""Jobs and incidents over Camunda's REST API: the invoice example's safe points."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from safepoint import ManualClock

REST = "/engine-rest"
NOW = "2026-01-01T10:00:00.000+0000"  # the ManualClock of tests/integration/conftest.py


def start_invoice(client: TestClient, amount: int = 250) -> str:
    response = client.post(
        f"{REST}/process-definition/key/invoice/start",
        json={"variables": {"amount": {"value": amount, "type": "Integer"}}, "businessKey": "B"},
    )
    assert response.status_code == 200, response.text
    instance_id: str = response.json()["id"]
    return instance_id


def only_job(client: TestClient, instance_id: str) -> dict[str, Any]:
    jobs = client.get(f"{REST}/job", params={"processInstanceId": instance_id}).json()
    assert len(jobs) == 1, jobs
    job: dict[str, Any] = jobs[0]
    return job


def test_the_invoice_rests_at_its_async_after_job_until_it_is_executed(
    client: TestClient, deploy: Callable[..., str]
) -> None:
    deployment_id = deploy()
    instance_id = start_invoice(client)
    definition_id = f"invoice:1:{deployment_id}"

    job = only_job(client, instance_id)

    assert job == {
        "id": job["id"],
        "jobDefinitionId": job["jobDefinitionId"],
        "processInstanceId": instance_id,
        "processDefinitionId": definition_id,
        "processDefinitionKey": "invoice",
        "executionId": instance_id,
        "exceptionMessage": None,
        "failedActivityId": None,
        "retries": 3,
        "dueDate": None,
        "suspended": False,
        "priority": 0,
        "tenantId": None,
        "createTime": NOW,
        "batchId": None,
    }
    assert client.get(f"{REST}/job/{job['id']}").json() == job
    assert client.get(f"{REST}/job", params={"executable": "true"}).json() == [job]

    executed = client.post(f"{REST}/job/{job['id']}/execute")

    assert executed.status_code == 204
    assert client.get(f"{REST}/job/{job['id']}").status_code == 404
    # Send invoice is asyncBefore: the next safe point, a transition instance before it.
    send_job = only_job(client, instance_id)
    tree = client.get(f"{REST}/process-instance/{instance_id}/activity-instances").json()
    [waiting] = tree["childTransitionInstances"]
    assert waiting["activityId"] == "Task_SendInvoice"
    assert waiting["activityType"] == "serviceTask"

    assert client.post(f"{REST}/job/{send_job['id']}/execute").status_code == 204

    assert client.get(f"{REST}/process-instance/{instance_id}").status_code == 404
    assert client.get(f"{REST}/job").json() == []
    history = client.get(f"{REST}/history/process-instance/{instance_id}").json()
    assert history["state"] == "COMPLETED"


def test_a_failing_job_shows_its_stacktrace_and_incident_until_its_retries_are_set(
    client: TestClient, deploy: Callable[..., str], invoicing: Any, clock: ManualClock
) -> None:
    deploy()
    instance_id = start_invoice(client)
    first = only_job(client, instance_id)
    assert client.post(f"{REST}/job/{first['id']}/execute").status_code == 204
    send = only_job(client, instance_id)
    invoicing.mail_server_down = True

    failed = client.post(f"{REST}/job/{send['id']}/execute")

    assert failed.status_code == 500
    assert failed.json()["type"] == "RestException"
    assert "mail server smtp.example.com refused the connection" in failed.json()["message"]
    after_one = client.get(f"{REST}/job/{send['id']}").json()
    assert after_one["retries"] == 2
    assert after_one["exceptionMessage"] == "mail server smtp.example.com refused the connection"
    assert after_one["failedActivityId"] == "Task_SendInvoice"
    assert after_one["dueDate"] == "2026-01-01T10:00:10.000+0000"  # R3/PT10S
    stacktrace = client.get(f"{REST}/job/{send['id']}/stacktrace")
    assert stacktrace.status_code == 200
    assert stacktrace.headers["content-type"].startswith("text/plain")
    assert "ConnectionError" in stacktrace.text
    assert "send_invoice" in stacktrace.text

    for _ in range(2):
        assert client.post(f"{REST}/job/{send['id']}/execute").status_code == 500

    exhausted = client.get(
        f"{REST}/job", params={"withException": "true", "noRetriesLeft": "true"}
    ).json()
    assert [job["id"] for job in exhausted] == [send["id"]]
    assert client.get(f"{REST}/job", params={"executable": "true"}).json() == []
    incidents = client.get(
        f"{REST}/incident",
        params={"processInstanceId": instance_id, "incidentType": "failedJob"},
    ).json()
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["incidentType"] == "failedJob"
    assert incident["activityId"] == "Task_SendInvoice"
    assert incident["failedActivityId"] == "Task_SendInvoice"
    assert incident["configuration"] == send["id"]
    assert incident["incidentMessage"] == "mail server smtp.example.com refused the connection"
    assert incident["causeIncidentId"] == incident["rootCauseIncidentId"] == incident["id"]
    assert incident["incidentTimestamp"] == NOW
    assert client.get(f"{REST}/incident", params={"incidentType": "other"}).json() == []

    invoicing.mail_server_down = False
    retried = client.put(f"{REST}/job/{send['id']}/retries", json={"retries": 1})

    assert retried.status_code == 204
    assert client.get(f"{REST}/incident").json() == []
    assert client.get(f"{REST}/job/{send['id']}").json()["retries"] == 1
    assert client.post(f"{REST}/job/{send['id']}/execute").status_code == 204
    assert client.get(f"{REST}/process-instance/{instance_id}").status_code == 404


def test_job_requests_for_unknown_jobs_and_bad_retries(
    client: TestClient, deploy: Callable[..., str]
) -> None:
    deploy()
    instance_id = start_invoice(client)
    job = only_job(client, instance_id)

    assert client.get(f"{REST}/job/unknown").status_code == 404
    assert client.post(f"{REST}/job/unknown/execute").status_code == 404
    assert client.get(f"{REST}/job/unknown/stacktrace").status_code == 404
    assert client.get(f"{REST}/job/{job['id']}/stacktrace").text == ""
    negative = client.put(f"{REST}/job/{job['id']}/retries", json={"retries": -1})
    assert negative.status_code == 400
    assert negative.json()["type"] == "InvalidRequestException"
    assert client.put(f"{REST}/job/unknown/retries", json={"retries": 1}).status_code == 404


def test_jobs_are_filtered_then_paged(
    client: TestClient, deploy: Callable[..., str], clock: ManualClock
) -> None:
    deploy()
    instances = []
    for _ in range(3):
        instances.append(start_invoice(client))
        clock.advance(seconds=1)
    jobs = [only_job(client, instance_id) for instance_id in instances]

    def found(**params: Any) -> list[str]:
        response = client.get(f"{REST}/job", params=params)
        assert response.status_code == 200, response.text
        return [job["id"] for job in response.json()]

    assert found() == [job["id"] for job in jobs]
    assert found(processDefinitionKey="invoice", firstResult=1, maxResults=1) == [jobs[1]["id"]]
    assert found(jobDefinitionId=jobs[2]["jobDefinitionId"], firstResult=2) == [jobs[2]["id"]]
    assert found(executable="true", maxResults=0) == []
    assert found(executionId=instances[0], firstResult=1) == []
