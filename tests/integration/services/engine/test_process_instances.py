"""Starting, querying and deleting process instances over Camunda's REST API."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from safepoint import Engine, ManualClock

REST = "/engine-rest"
START_TIME = "2026-01-01T10:00:00.000+0000"  # the ManualClock of tests/integration/conftest.py


def start_invoice(client: TestClient, amount: int = 250, business_key: str = "ORDER-1") -> str:
    response = client.post(
        f"{REST}/process-definition/key/invoice/start",
        json={
            "variables": {"amount": {"value": amount, "type": "Integer"}},
            "businessKey": business_key,
        },
    )
    assert response.status_code == 200, response.text
    instance_id: str = response.json()["id"]
    return instance_id


def test_start_by_key_with_typed_variables(client: TestClient, deploy: Callable[..., str]) -> None:
    deployment_id = deploy()

    response = client.post(
        f"{REST}/process-definition/key/invoice/start",
        json={
            "variables": {
                "amount": {"value": 250, "type": "Integer"},
                "customer": {"value": "ACME", "type": "String"},
                "orderedAt": {"value": "2025-12-31T23:00:00.000+0100", "type": "Date"},
                "lines": {"value": '[{"sku": "A-1"}]', "type": "Json"},
            },
            "businessKey": "ORDER-1",
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    instance_id = body["id"]
    assert body == {
        "links": [
            {
                "method": "GET",
                "href": f"http://testserver/engine-rest/process-instance/{instance_id}",
                "rel": "self",
            }
        ],
        "id": instance_id,
        "definitionId": f"invoice:1:{deployment_id}",
        "businessKey": "ORDER-1",
        "caseInstanceId": None,
        "ended": False,
        "suspended": False,
        "tenantId": None,
    }
    variables = client.get(f"{REST}/process-instance/{instance_id}/variables").json()
    assert variables == {
        "amount": {"value": 250, "type": "Integer", "valueInfo": {}},
        "customer": {"value": "ACME", "type": "String", "valueInfo": {}},
        "orderedAt": {"value": "2025-12-31T22:00:00.000+0000", "type": "Date", "valueInfo": {}},
        "lines": {"value": '[{"sku":"A-1"}]', "type": "Json", "valueInfo": {}},
        "invoiceNumber": {"value": "INV-1001", "type": "String", "valueInfo": {}},
    }
    one = client.get(f"{REST}/process-instance/{instance_id}/variables/amount")
    assert one.json() == {"value": 250, "type": "Integer", "valueInfo": {}}
    missing = client.get(f"{REST}/process-instance/{instance_id}/variables/nope")
    assert missing.status_code == 404


def test_start_by_id_returns_the_variables_when_asked(
    client: TestClient, deploy: Callable[..., str]
) -> None:
    deployment_id = deploy()

    response = client.post(
        f"{REST}/process-definition/invoice:1:{deployment_id}/start",
        json={"variables": {"amount": {"value": 10}}, "withVariablesInReturn": True},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["definitionId"] == f"invoice:1:{deployment_id}"
    assert body["businessKey"] is None
    assert body["variables"] == {
        "amount": {"value": 10, "type": "Integer", "valueInfo": {}},
        "invoiceNumber": {"value": "INV-1001", "type": "String", "valueInfo": {}},
    }


def test_bad_starts_are_refused_with_camunda_errors(
    client: TestClient, deploy: Callable[..., str]
) -> None:
    deploy()

    unknown = client.post(f"{REST}/process-definition/key/nope/start", json={})
    wrong_type = client.post(
        f"{REST}/process-definition/key/invoice/start",
        json={"variables": {"amount": {"value": "ten", "type": "Integer"}}},
    )
    unknown_type = client.post(
        f"{REST}/process-definition/key/invoice/start",
        json={"variables": {"amount": {"value": "AAE=", "type": "Bytes"}}},
    )
    missing_variable = client.post(f"{REST}/process-definition/key/invoice/start", json={})

    assert unknown.status_code == 404
    assert unknown.json()["type"] == "InvalidRequestException"
    assert "nope" in unknown.json()["message"]
    assert wrong_type.status_code == 400
    assert wrong_type.json() == {
        "type": "InvalidRequestException",
        "message": 'variables.amount: an Integer value must be an integer, not "ten" (string)',
    }
    assert unknown_type.status_code == 400
    assert "Bytes" in unknown_type.json()["message"]
    # The gateway's condition ${amount > 1000} cannot be evaluated: nothing is committed.
    assert missing_variable.status_code == 500
    assert missing_variable.json()["type"] in {"ProcessEngineException", "RestException"}
    assert client.get(f"{REST}/process-instance").json() == []


def test_process_instance_queries_see_running_instances_only(
    client: TestClient, deploy: Callable[..., str], clock: ManualClock
) -> None:
    deploy()
    first = start_invoice(client, business_key="ORDER-1")
    clock.advance(seconds=1)
    second = start_invoice(client, business_key="ORDER-2")

    every = client.get(f"{REST}/process-instance").json()
    by_key = client.get(f"{REST}/process-instance", params={"businessKey": "ORDER-2"}).json()
    by_definition = client.get(
        f"{REST}/process-instance", params={"processDefinitionKey": "invoice", "active": "true"}
    ).json()
    suspended = client.get(f"{REST}/process-instance", params={"suspended": "true"}).json()
    paged = client.get(f"{REST}/process-instance", params={"firstResult": 1, "maxResults": 5})
    first_only = client.get(f"{REST}/process-instance", params={"maxResults": 1}).json()
    by_ids = client.get(
        f"{REST}/process-instance", params={"processInstanceIds": f"{second},unknown"}
    ).json()
    by_definition_id = client.get(
        f"{REST}/process-instance", params={"processDefinitionId": every[0]["definitionId"]}
    ).json()
    paged_by_ids = client.get(
        f"{REST}/process-instance",
        params={"processInstanceIds": f"{first},{second}", "firstResult": 1},
    ).json()

    assert [i["id"] for i in every] == [first, second]
    assert [i["id"] for i in first_only] == [first]
    assert [i["id"] for i in by_ids] == [second]
    assert [i["id"] for i in by_definition_id] == [first, second]
    assert [i["id"] for i in paged_by_ids] == [second]
    assert [i["id"] for i in by_key] == [second]
    assert [i["id"] for i in by_definition] == [first, second]
    assert suspended == []
    assert [i["id"] for i in paged.json()] == [second]
    assert client.get(f"{REST}/process-instance/{first}").json()["businessKey"] == "ORDER-1"
    assert client.get(f"{REST}/process-instance/unknown").status_code == 404


def test_delete_process_instance(client: TestClient, deploy: Callable[..., str]) -> None:
    deploy()
    instance_id = start_invoice(client)

    deleted = client.delete(f"{REST}/process-instance/{instance_id}")

    assert deleted.status_code == 204
    assert client.get(f"{REST}/process-instance/{instance_id}").status_code == 404
    assert client.get(f"{REST}/job", params={"processInstanceId": instance_id}).json() == []
    history = client.get(f"{REST}/history/process-instance/{instance_id}").json()
    assert history["state"] == "EXTERNALLY_TERMINATED"
    assert history["endTime"] == START_TIME
    again = client.delete(f"{REST}/process-instance/{instance_id}")
    assert again.status_code == 404
    tolerated = client.delete(
        f"{REST}/process-instance/{instance_id}", params={"failIfNotExists": "false"}
    )
    assert tolerated.status_code == 204
    skipping = client.delete(
        f"{REST}/process-instance/{instance_id}", params={"skipCustomListeners": "true"}
    )
    assert skipping.status_code == 501


def test_activity_instance_tree_shows_the_token_at_the_safe_point(
    client: TestClient, deploy: Callable[..., str]
) -> None:
    deployment_id = deploy()
    instance_id = start_invoice(client)
    definition_id = f"invoice:1:{deployment_id}"

    tree = client.get(f"{REST}/process-instance/{instance_id}/activity-instances")

    assert tree.status_code == 200, tree.text
    # Generate invoice is asyncAfter: its token waits after it, as a transition instance.
    assert tree.json() == {
        "id": instance_id,
        "parentActivityInstanceId": None,
        "activityId": "invoice",
        "activityType": "processDefinition",
        "processInstanceId": instance_id,
        "processDefinitionId": definition_id,
        "childActivityInstances": [],
        "childTransitionInstances": [
            {
                "id": instance_id,
                "parentActivityInstanceId": instance_id,
                "processInstanceId": instance_id,
                "processDefinitionId": definition_id,
                "activityId": "Task_GenerateInvoice",
                "activityName": "Generate invoice",
                "activityType": "serviceTask",
                "executionId": instance_id,
                "targetActivityId": "Task_GenerateInvoice",
            }
        ],
        "executionIds": [instance_id],
        "activityName": "Invoice",
        "name": "Invoice",
    }


def test_activity_instance_tree_shows_a_waiting_user_task(
    client: TestClient, deploy: Callable[..., str]
) -> None:
    deploy()
    instance_id = start_invoice(client, amount=5000)
    job = client.get(f"{REST}/job", params={"processInstanceId": instance_id}).json()[0]
    assert client.post(f"{REST}/job/{job['id']}/execute").status_code == 204

    tree = client.get(f"{REST}/process-instance/{instance_id}/activity-instances").json()

    assert tree["childTransitionInstances"] == []
    [task] = tree["childActivityInstances"]
    assert task["activityId"] == "Task_ApproveInvoice"
    assert task["activityType"] == "userTask"
    assert task["activityName"] == "Approve invoice"
    assert task["parentActivityInstanceId"] == instance_id
    assert task["childActivityInstances"] == []
    assert task["executionIds"]


def test_the_requests_traceparent_is_stored_on_the_jobs_it_creates(
    client: TestClient, deploy: Callable[..., str], database_url: str
) -> None:
    deploy()
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = client.post(
        f"{REST}/process-definition/key/invoice/start",
        json={"variables": {"amount": {"value": 250, "type": "Integer"}}},
        headers={"traceparent": traceparent},
    )
    assert response.status_code == 200, response.text
    instance_id = response.json()["id"]
    jobs = client.get(f"{REST}/job", params={"processInstanceId": instance_id}).json()
    assert jobs
    with Engine(database_url, migrate=False) as engine:  # the same database, read directly
        assert engine.job(jobs[0]["id"]).trace_context["traceparent"] == traceparent
