"""Process definitions and history over Camunda's REST API."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

from fastapi.testclient import TestClient

from safepoint import ManualClock

REST = "/engine-rest"
NOW = "2026-01-01T10:00:00.000+0000"  # the ManualClock of tests/integration/conftest.py
INVOICE = resources.files("safepoint.examples").joinpath("invoice.bpmn").read_bytes()


def test_process_definitions(client: TestClient, deploy: Callable[..., str]) -> None:
    first = deploy()
    second = deploy()

    every = client.get(f"{REST}/process-definition", params={"key": "invoice"}).json()
    latest = client.get(
        f"{REST}/process-definition", params={"key": "invoice", "latestVersion": "true"}
    ).json()
    of_first = client.get(
        f"{REST}/process-definition", params={"deploymentId": first, "latestVersion": "true"}
    ).json()
    by_id = client.get(f"{REST}/process-definition/invoice:1:{first}")
    by_key = client.get(f"{REST}/process-definition/key/invoice")
    xml = client.get(f"{REST}/process-definition/invoice:1:{first}/xml")
    xml_by_key = client.get(f"{REST}/process-definition/key/invoice/xml")

    assert [(d["version"], d["deploymentId"]) for d in every] == [(1, first), (2, second)]
    assert [d["id"] for d in latest] == [f"invoice:2:{second}"]
    assert of_first == []
    assert by_id.json() == {
        "id": f"invoice:1:{first}",
        "key": "invoice",
        "category": None,
        "description": None,
        "name": "Invoice",
        "version": 1,
        "resource": "invoice.bpmn",
        "deploymentId": first,
        "diagram": None,
        "suspended": False,
        "tenantId": None,
        "versionTag": None,
        "historyTimeToLive": 180,  # camunda:historyTimeToLive="180"
        "startableInTasklist": True,
    }
    assert by_key.json()["id"] == f"invoice:2:{second}"
    assert xml.json() == {"id": f"invoice:1:{first}", "bpmn20Xml": INVOICE.decode()}
    assert xml_by_key.json()["id"] == f"invoice:2:{second}"
    assert client.get(f"{REST}/process-definition/nope:1:x").status_code == 404
    assert client.get(f"{REST}/process-definition/key/nope/xml").status_code == 404


def test_history_of_a_completed_instance(
    client: TestClient, deploy: Callable[..., str], clock: ManualClock
) -> None:
    deployment_id = deploy()
    response = client.post(
        f"{REST}/process-definition/key/invoice/start",
        json={"variables": {"amount": {"value": 10}}, "businessKey": "ORDER-9"},
    )
    instance_id = response.json()["id"]
    clock.advance(seconds=2)
    for _ in range(2):
        [job] = client.get(f"{REST}/job", params={"processInstanceId": instance_id}).json()
        assert client.post(f"{REST}/job/{job['id']}/execute").status_code == 204

    instances = client.get(
        f"{REST}/history/process-instance", params={"processInstanceId": instance_id}
    ).json()
    finished = client.get(f"{REST}/history/process-instance", params={"finished": "true"})
    unfinished = client.get(f"{REST}/history/process-instance", params={"unfinished": "true"})
    by_business_key = client.get(
        f"{REST}/history/process-instance", params={"processInstanceBusinessKey": "ORDER-9"}
    )
    activities = client.get(
        f"{REST}/history/activity-instance", params={"processInstanceId": instance_id}
    ).json()

    assert instances == [
        {
            "id": instance_id,
            "rootProcessInstanceId": instance_id,
            "superProcessInstanceId": None,
            "superCaseInstanceId": None,
            "caseInstanceId": None,
            "processDefinitionName": "Invoice",
            "processDefinitionKey": "invoice",
            "processDefinitionVersion": 1,
            "processDefinitionId": f"invoice:1:{deployment_id}",
            "businessKey": "ORDER-9",
            "startTime": NOW,
            "endTime": "2026-01-01T10:00:02.000+0000",
            "removalTime": None,
            "durationInMillis": 2000,
            "startUserId": None,
            "deleteReason": None,
            "tenantId": None,
            "state": "COMPLETED",
        }
    ]
    assert [i["id"] for i in finished.json()] == [instance_id]
    assert unfinished.json() == []
    assert [i["id"] for i in by_business_key.json()] == [instance_id]
    assert [(a["activityId"], a["activityType"]) for a in activities] == [
        ("StartEvent_InvoiceReceived", "startEvent"),
        ("Task_GenerateInvoice", "serviceTask"),
        ("Gateway_Approved", "exclusiveGateway"),
        ("Task_SendInvoice", "serviceTask"),
        ("Task_ArchiveInvoice", "serviceTask"),
        ("EndEvent_InvoiceProcessed", "noneEndEvent"),
    ]
    send: dict[str, Any] = activities[3]
    assert send["activityName"] == "Send invoice"
    assert send["processDefinitionKey"] == "invoice"
    assert send["processInstanceId"] == instance_id
    assert send["parentActivityInstanceId"] == instance_id
    assert send["startTime"] == send["endTime"] == "2026-01-01T10:00:02.000+0000"
    assert send["durationInMillis"] == 0
    assert send["canceled"] is False
    generate = activities[1]
    assert (generate["startTime"], generate["endTime"]) == (NOW, NOW)
    only_tasks = client.get(
        f"{REST}/history/activity-instance",
        params={"processInstanceId": instance_id, "activityType": "serviceTask"},
    ).json()
    assert len(only_tasks) == 3
    assert (
        client.get(
            f"{REST}/history/activity-instance", params={"processInstanceId": "unknown"}
        ).json()
        == []
    )
    across_instances = client.get(f"{REST}/history/activity-instance")
    assert across_instances.status_code == 501
    assert "processInstanceId" in across_instances.json()["message"]


def test_historic_process_instances_are_paged_after_filtering(
    client: TestClient, deploy: Callable[..., str], clock: ManualClock
) -> None:
    deploy()
    started = []
    for n in range(3):
        response = client.post(
            f"{REST}/process-definition/key/invoice/start",
            json={"variables": {"amount": {"value": 10}}, "businessKey": f"ORDER-{n}"},
        )
        started.append(response.json()["id"])
        clock.advance(seconds=1)
    for _ in range(2):  # the first one runs to its end
        [job] = client.get(f"{REST}/job", params={"processInstanceId": started[0]}).json()
        assert client.post(f"{REST}/job/{job['id']}/execute").status_code == 204

    def found(**params: Any) -> list[str]:
        response = client.get(f"{REST}/history/process-instance", params=params)
        assert response.status_code == 200, response.text
        return [instance["id"] for instance in response.json()]

    assert found() == started
    assert found(firstResult=1, maxResults=1) == [started[1]]
    assert found(unfinished="true", firstResult=1) == [started[2]]
    assert found(finished="true", maxResults=5) == [started[0]]
    assert found(finished="true", unfinished="true") == []
    assert found(processInstanceId=started[2], firstResult=1) == []
