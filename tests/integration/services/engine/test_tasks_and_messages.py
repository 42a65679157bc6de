"""User tasks, message correlation and external tasks over Camunda's REST API."""

from __future__ import annotations

from collections.abc import Callable

from bpmn_doc import chain, definitions, element, process
from fastapi.testclient import TestClient

REST = "/engine-rest"
NOW = "2026-01-01T10:00:00.000+0000"  # the ManualClock of tests/integration/conftest.py

SHIPPING = definitions(
    process(
        "shipping",
        element("startEvent", "start"),
        element("receiveTask", "wait", name="Wait for payment", messageRef="msg_PaymentReceived"),
        element(
            "serviceTask",
            "ship",
            name="Ship",
            **{"camunda:type": "external", "camunda:topic": "ship"},
        ),
        element("endEvent", "end"),
        *chain("start", "wait", "ship", "end"),
    ),
    messages=["PaymentReceived"],
)


def start(client: TestClient, key: str, business_key: str, **variables: object) -> str:
    response = client.post(
        f"{REST}/process-definition/key/{key}/start",
        json={
            "businessKey": business_key,
            "variables": {name: {"value": value} for name, value in variables.items()},
        },
    )
    assert response.status_code == 200, response.text
    instance_id: str = response.json()["id"]
    return instance_id


def test_complete_a_user_task(client: TestClient, deploy: Callable[..., str]) -> None:
    deployment_id = deploy()
    instance_id = start(client, "invoice", "ORDER-1", amount=5000)
    [job] = client.get(f"{REST}/job", params={"processInstanceId": instance_id}).json()
    assert client.post(f"{REST}/job/{job['id']}/execute").status_code == 204

    tasks = client.get(f"{REST}/task", params={"processInstanceId": instance_id}).json()

    assert len(tasks) == 1
    task = tasks[0]
    assert task["name"] == "Approve invoice"
    assert task["taskDefinitionKey"] == "Task_ApproveInvoice"
    assert task["processInstanceId"] == instance_id
    assert task["processDefinitionId"] == f"invoice:1:{deployment_id}"
    assert task["created"] == NOW
    assert task["assignee"] is None
    assert client.get(f"{REST}/task/{task['id']}").json() == task
    by_group = client.get(f"{REST}/task", params={"candidateGroup": "accounting"}).json()
    assert [t["id"] for t in by_group] == [task["id"]]
    assert client.get(f"{REST}/task", params={"candidateGroup": "sales"}).json() == []

    completed = client.post(
        f"{REST}/task/{task['id']}/complete",
        json={"variables": {"approved": {"value": True, "type": "Boolean"}}},
    )

    assert completed.status_code == 204
    assert completed.content == b""
    assert client.get(f"{REST}/task", params={"processInstanceId": instance_id}).json() == []
    assert client.get(f"{REST}/task/{task['id']}").status_code == 404
    variables = client.get(f"{REST}/process-instance/{instance_id}/variables").json()
    assert variables["approved"] == {"value": True, "type": "Boolean", "valueInfo": {}}
    [send] = client.get(f"{REST}/job", params={"processInstanceId": instance_id}).json()
    assert send["failedActivityId"] is None
    assert client.post(f"{REST}/task/{task['id']}/complete", json={}).status_code == 404


def test_complete_a_user_task_with_variables_in_return(
    client: TestClient, deploy: Callable[..., str]
) -> None:
    deploy()
    instance_id = start(client, "invoice", "ORDER-1", amount=5000)
    [job] = client.get(f"{REST}/job", params={"processInstanceId": instance_id}).json()
    client.post(f"{REST}/job/{job['id']}/execute")
    [task] = client.get(f"{REST}/task").json()

    completed = client.post(
        f"{REST}/task/{task['id']}/complete",
        json={"variables": {"approved": {"value": True}}, "withVariablesInReturn": True},
    )

    assert completed.status_code == 200
    assert completed.json()["approved"] == {"value": True, "type": "Boolean", "valueInfo": {}}


def test_correlate_a_message(client: TestClient, deploy: Callable[..., str]) -> None:
    deploy({"shipping.bpmn": SHIPPING})
    first = start(client, "shipping", "ORDER-1")
    start(client, "shipping", "ORDER-2")

    ambiguous = client.post(f"{REST}/message", json={"messageName": "PaymentReceived"})
    correlated = client.post(
        f"{REST}/message",
        json={
            "messageName": "PaymentReceived",
            "businessKey": "ORDER-1",
            "processVariables": {"paid": {"value": 99.5, "type": "Double"}},
        },
    )
    again = client.post(
        f"{REST}/message", json={"messageName": "PaymentReceived", "businessKey": "ORDER-1"}
    )
    unsupported = client.post(
        f"{REST}/message",
        json={"messageName": "PaymentReceived", "businessKey": "ORDER-2", "all": True},
    )

    assert ambiguous.status_code == 400
    assert ambiguous.json()["type"] == "InvalidRequestException"
    assert "2 executions match" in ambiguous.json()["message"]
    assert correlated.status_code == 204
    variables = client.get(f"{REST}/process-instance/{first}/variables").json()
    assert variables["paid"] == {"value": 99.5, "type": "Double", "valueInfo": {}}
    [waiting] = client.get(f"{REST}/external-task", params={"processInstanceId": first}).json()
    assert waiting["activityId"] == "ship"
    assert again.status_code == 400
    assert "No process definition or execution matches" in again.json()["message"]
    assert unsupported.status_code == 501
    assert "all" in unsupported.json()["message"]
    missing_name = client.post(f"{REST}/message", json={"businessKey": "ORDER-2"})
    assert missing_name.status_code == 400
    assert "messageName" in missing_name.json()["message"]


def test_complete_an_external_task(client: TestClient, deploy: Callable[..., str]) -> None:
    deployment_id = deploy({"shipping.bpmn": SHIPPING})
    instance_id = start(client, "shipping", "ORDER-1")
    client.post(f"{REST}/message", json={"messageName": "PaymentReceived"})

    tasks = client.get(
        f"{REST}/external-task", params={"topicName": "ship", "processInstanceId": instance_id}
    ).json()

    assert len(tasks) == 1
    task = tasks[0]
    assert task["topicName"] == "ship"
    assert task["activityId"] == "ship"
    assert task["processDefinitionId"] == f"shipping:1:{deployment_id}"
    assert task["processDefinitionKey"] == "shipping"
    assert task["createTime"] == NOW
    assert task["retries"] is None
    assert task["workerId"] is None
    assert task["lockExpirationTime"] is None
    assert client.get(f"{REST}/external-task", params={"topicName": "other"}).json() == []
    assert client.get(f"{REST}/external-task/{task['id']}").json() == task

    completed = client.post(
        f"{REST}/external-task/{task['id']}/complete",
        json={"workerId": "w1", "variables": {"tracking": {"value": "TRK-1"}}},
    )

    assert completed.status_code == 204
    assert client.get(f"{REST}/external-task").json() == []
    history = client.get(f"{REST}/history/process-instance/{instance_id}").json()
    assert history["state"] == "COMPLETED"
    gone = client.post(f"{REST}/external-task/{task['id']}/complete", json={"workerId": "w1"})
    assert gone.status_code == 404
    no_worker = client.post(f"{REST}/external-task/{task['id']}/complete", json={})
    assert no_worker.status_code == 400
    assert "workerId" in no_worker.json()["message"]


def test_external_task_failures_retries_and_incidents(
    client: TestClient, deploy: Callable[..., str]
) -> None:
    deploy({"shipping.bpmn": SHIPPING})
    instance_id = start(client, "shipping", "ORDER-1")
    client.post(f"{REST}/message", json={"messageName": "PaymentReceived"})
    [task] = client.get(f"{REST}/external-task").json()
    url = f"{REST}/external-task/{task['id']}"

    failed = client.post(
        f"{url}/failure",
        json={
            "workerId": "w1",
            "errorMessage": "carrier down",
            "errorDetails": "HTTP 503 from carrier",
            "retries": 2,
            "retryTimeout": 5000,
        },
    )

    assert failed.status_code == 204
    after = client.get(url).json()
    assert (after["retries"], after["errorMessage"]) == (2, "carrier down")
    assert after["errorDetails"] == "HTTP 503 from carrier"
    assert client.get(f"{REST}/incident").json() == []

    exhausted = client.post(f"{url}/failure", json={"workerId": "w1", "errorMessage": "gone"})

    assert exhausted.status_code == 204
    assert client.get(url).json()["retries"] == 0
    [incident] = client.get(f"{REST}/incident", params={"processInstanceId": instance_id}).json()
    assert incident["incidentType"] == "failedExternalTask"
    assert incident["activityId"] == "ship"
    assert incident["configuration"] == task["id"]
    assert incident["incidentMessage"] == "gone"
    no_retries = client.get(f"{REST}/external-task", params={"noRetriesLeft": "true"}).json()
    assert [t["id"] for t in no_retries] == [task["id"]]

    assert client.put(f"{url}/retries", json={"retries": 1}).status_code == 204
    assert client.get(f"{REST}/incident").json() == []
    assert client.get(url).json()["retries"] == 1

    bpmn_error = client.post(
        f"{url}/bpmnError",
        json={
            "workerId": "w1",
            "errorCode": "NO_STOCK",
            "errorMessage": "nothing left",
            "variables": {"reason": {"value": "sold out", "type": "String"}},
        },
    )

    assert bpmn_error.status_code == 204
    [uncaught] = client.get(f"{REST}/incident").json()
    assert uncaught["incidentType"] == "failedExternalTask"
    assert "NO_STOCK" in uncaught["incidentMessage"]
    variables = client.get(f"{REST}/process-instance/{instance_id}/variables").json()
    assert variables["reason"]["value"] == "sold out"
    negative = client.post(f"{url}/failure", json={"workerId": "w1", "retries": -1})
    assert negative.status_code == 400
    assert (
        client.post(f"{REST}/external-task/unknown/failure", json={"workerId": "w"}).status_code
        == 404
    )
