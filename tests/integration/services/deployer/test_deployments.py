"""Deployments over Camunda's REST API: create (multipart), list, get, delete."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from fastapi.testclient import TestClient

from safepoint import Engine, ManualClock
from safepoint.contract import DeploymentCreated
from safepoint.errors import BpmnParseError
from safepoint.messaging import Topology
from safepoint.parser import parse_definitions
from safepoint.settings import AmqpSettings, DatabaseSettings
from safepoint_deployer.app import create_app
from safepoint_deployer.settings import Settings

REST = "/engine-rest"
NOW = "2026-01-01T10:00:00.000+0000"  # the ManualClock of tests/integration/conftest.py
INVOICE = resources.files("safepoint.examples").joinpath("invoice.bpmn").read_bytes()
FIXTURES = Path(__file__).parents[3] / "fixtures" / "bpmn"
ORDER = (FIXTURES / "order_fulfilment.bpmn").read_bytes()


def deploy(
    client: TestClient, files: dict[str, bytes], name: str = "invoicing", **options: str
) -> Any:
    """POST deployment/create as Camunda's clients do: one file part per resource."""
    return client.post(
        f"{REST}/deployment/create",
        data={"deployment-name": name, **options},
        files={
            part: (part, content, "application/octet-stream") for part, content in files.items()
        },
    )


def test_deploy_over_http(client: TestClient, published: list[DeploymentCreated]) -> None:
    response = deploy(client, {"invoice.bpmn": INVOICE})

    assert response.status_code == 200, response.text
    body = response.json()
    deployment_id = body["id"]
    definition_id = f"invoice:1:{deployment_id}"
    assert body == {
        "links": [
            {
                "method": "GET",
                "href": f"http://testserver/engine-rest/deployment/{deployment_id}",
                "rel": "self",
            }
        ],
        "id": deployment_id,
        "name": "invoicing",
        "source": None,
        "deploymentTime": NOW,
        "tenantId": None,
        "deployedProcessDefinitions": {
            definition_id: {
                "id": definition_id,
                "key": "invoice",
                "category": None,
                "description": None,
                "name": "Invoice",
                "version": 1,
                "resource": "invoice.bpmn",
                "deploymentId": deployment_id,
                "diagram": None,
                "suspended": False,
                "tenantId": None,
                "versionTag": None,
                "historyTimeToLive": 180,  # camunda:historyTimeToLive="180"
                "startableInTasklist": True,
            }
        },
        "deployedCaseDefinitions": None,
        "deployedDecisionDefinitions": None,
        "deployedDecisionRequirementsDefinitions": None,
    }
    [event] = published
    assert event.deployment_id == deployment_id
    assert event.name == "invoicing"
    assert event.deployed_at == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert [(d.id, d.key, d.version) for d in event.process_definitions] == [
        (definition_id, "invoice", 1)
    ]


def test_a_file_part_is_named_by_its_file_name(client: TestClient) -> None:
    response = client.post(
        f"{REST}/deployment/create",
        data={"deployment-name": "from curl"},
        files={"data": ("invoice.bpmn", INVOICE, "text/xml")},
    )

    assert response.status_code == 200, response.text
    [definition] = response.json()["deployedProcessDefinitions"].values()
    assert definition["resource"] == "invoice.bpmn"


def test_each_deployment_gives_its_processes_their_next_version(
    client: TestClient, published: list[DeploymentCreated]
) -> None:
    first = deploy(client, {"invoice.bpmn": INVOICE}).json()
    second = deploy(client, {"invoice.bpmn": INVOICE, "order.bpmn": ORDER}).json()

    versions = {d["key"]: d["version"] for d in second["deployedProcessDefinitions"].values()}
    assert versions == {"invoice": 2, "order": 1}
    # camunda:versionTag="1.2" camunda:historyTimeToLive="P30D" on the order process
    (order,) = [d for d in second["deployedProcessDefinitions"].values() if d["key"] == "order"]
    assert (order["versionTag"], order["historyTimeToLive"]) == ("1.2", 30)
    assert first["id"] != second["id"]
    assert len(published) == 2


def test_invalid_bpmn_is_refused_with_every_problem(
    client: TestClient, published: list[DeploymentCreated]
) -> None:
    broken = (FIXTURES / "invalid" / "many_problems.bpmn").read_bytes()
    with pytest.raises(BpmnParseError) as parsed:
        parse_definitions(broken, resource_name="broken.bpmn")
    expected = parsed.value.problems

    response = deploy(client, {"broken.bpmn": broken, "invoice.bpmn": INVOICE})

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "ParseException"
    assert len(expected) > 20
    assert body["problems"] == [
        {
            "message": problem.message,
            "line": problem.line,
            "column": problem.column,
            "elementId": problem.element_id,
            "resource": "broken.bpmn",
        }
        for problem in expected
    ]
    assert all(p["line"] for p in body["problems"])
    assert {"Task_NoImpl", "Gateway_1", "Flow_Dangling"} <= {
        p["elementId"] for p in body["problems"]
    }
    errors = body["details"]["broken.bpmn"]["errors"]
    assert len(errors) == len(expected)
    assert errors[0]["mainElementId"] == expected[0].element_id
    assert errors[0]["elementIds"] == [expected[0].element_id]
    assert body["details"]["broken.bpmn"]["warnings"] == []
    # Nothing is stored, nothing is announced.
    assert client.get(f"{REST}/deployment").json() == []
    assert published == []


def test_a_history_time_to_live_camunda_cannot_parse_is_refused_at_deployment(
    client: TestClient, published: list[DeploymentCreated]
) -> None:
    bad = INVOICE.replace(b'camunda:historyTimeToLive="180"', b'camunda:historyTimeToLive="P1Y"')

    response = deploy(client, {"invoice.bpmn": bad})

    assert response.status_code == 400
    [problem] = response.json()["problems"]
    assert problem["elementId"] == "invoice"
    assert problem["line"] == 3
    assert problem["message"].startswith("Cannot parse historyTimeToLive: 'P1Y'")
    assert client.get(f"{REST}/deployment").json() == []
    assert published == []


def test_a_document_that_is_not_xml_is_refused_with_its_line(client: TestClient) -> None:
    response = deploy(client, {"broken.bpmn": b"<?xml version='1.0'?>\n<definitions>\n<oops"})

    assert response.status_code == 400
    [problem] = response.json()["problems"]
    assert problem["resource"] == "broken.bpmn"
    assert problem["line"] is not None


def test_duplicate_filtering_returns_the_latest_deployment_of_the_same_name(
    client: TestClient, published: list[DeploymentCreated], clock: ManualClock
) -> None:
    first = deploy(client, {"invoice.bpmn": INVOICE}, **{"enable-duplicate-filtering": "true"})
    clock.advance(seconds=1)  # "latest" is by deployment time, as in Camunda
    same = deploy(client, {"invoice.bpmn": INVOICE}, **{"enable-duplicate-filtering": "true"})
    changed_xml = INVOICE.replace(b'name="Invoice"', b'name="Invoice v2"')
    changed = deploy(
        client, {"invoice.bpmn": changed_xml}, **{"enable-duplicate-filtering": "true"}
    )
    clock.advance(seconds=1)
    back_to_first = deploy(
        client, {"invoice.bpmn": INVOICE}, **{"enable-duplicate-filtering": "true"}
    )
    clock.advance(seconds=1)
    other_name = deploy(
        client,
        {"invoice.bpmn": changed_xml},
        name="elsewhere",
        **{"enable-duplicate-filtering": "true"},
    )
    unfiltered = deploy(client, {"invoice.bpmn": changed_xml})

    assert first.status_code == same.status_code == 200
    assert same.json()["id"] == first.json()["id"]
    assert same.json()["deployedProcessDefinitions"] is None
    assert changed.json()["id"] != first.json()["id"]
    [new_version] = changed.json()["deployedProcessDefinitions"].values()
    assert (new_version["version"], new_version["name"]) == (2, "Invoice v2")
    # Compared with the latest deployment of the name: going back is a change too.
    [third_version] = back_to_first.json()["deployedProcessDefinitions"].values()
    assert third_version["version"] == 3
    assert other_name.json()["id"] != changed.json()["id"]
    assert unfiltered.json()["id"] != changed.json()["id"]
    assert len(client.get(f"{REST}/deployment").json()) == 5
    assert len(published) == 5


def test_deploy_changed_only_redeploys_only_the_changed_resources(
    client: TestClient, clock: ManualClock
) -> None:
    both = {"invoice.bpmn": INVOICE, "order.bpmn": ORDER}
    first = deploy(client, both, **{"deploy-changed-only": "true"})
    clock.advance(seconds=1)  # "latest" is by deployment time, as in Camunda
    changed_order = ORDER.replace(b'name="Order fulfilment"', b'name="Order fulfilment v2"')

    second = deploy(
        client,
        {"invoice.bpmn": INVOICE, "order.bpmn": changed_order},
        **{"deploy-changed-only": "true"},
    )
    clock.advance(seconds=1)
    third = deploy(
        client,
        {"invoice.bpmn": INVOICE, "order.bpmn": changed_order},
        **{"deploy-changed-only": "true"},
    )

    assert len(first.json()["deployedProcessDefinitions"]) == 2
    [redeployed] = second.json()["deployedProcessDefinitions"].values()
    assert (redeployed["key"], redeployed["version"]) == ("order", 2)
    assert third.json()["id"] == second.json()["id"]
    assert third.json()["deployedProcessDefinitions"] is None


def test_list_and_get_deployments(client: TestClient, clock: ManualClock) -> None:
    first = deploy(client, {"invoice.bpmn": INVOICE}, name="invoicing").json()
    clock.advance(minutes=1)
    second = deploy(client, {"order.bpmn": ORDER}, name="orders").json()

    every = client.get(f"{REST}/deployment").json()
    by_name = client.get(f"{REST}/deployment", params={"name": "orders"}).json()
    like = client.get(f"{REST}/deployment", params={"nameLike": "invoic%"}).json()
    newest_first = client.get(
        f"{REST}/deployment", params={"sortBy": "deploymentTime", "sortOrder": "desc"}
    ).json()
    after = client.get(
        f"{REST}/deployment", params={"after": "2026-01-01T10:00:30.000+0000"}
    ).json()
    paged = client.get(f"{REST}/deployment", params={"firstResult": 1, "maxResults": 1}).json()
    one = client.get(f"{REST}/deployment/{first['id']}")

    assert [d["id"] for d in every] == [first["id"], second["id"]]
    assert [d["id"] for d in by_name] == [second["id"]]
    assert [d["id"] for d in like] == [first["id"]]
    assert [d["id"] for d in newest_first] == [second["id"], first["id"]]
    assert [d["id"] for d in after] == [second["id"]]
    assert [d["id"] for d in paged] == [second["id"]]
    assert one.status_code == 200
    assert one.json() == {
        "links": first["links"],
        "id": first["id"],
        "name": "invoicing",
        "source": None,
        "deploymentTime": NOW,
        "tenantId": None,
    }
    assert every[1]["deploymentTime"] == "2026-01-01T10:01:00.000+0000"
    missing = client.get(f"{REST}/deployment/unknown")
    assert missing.status_code == 404
    assert missing.json()["type"] == "InvalidRequestException"
    unknown_key = client.get(f"{REST}/deployment", params={"sortBy": "size", "sortOrder": "asc"})
    assert unknown_key.status_code == 400
    for half in ({"sortBy": "name"}, {"sortOrder": "desc"}):  # Camunda wants both or neither
        alone = client.get(f"{REST}/deployment", params=half)
        assert alone.status_code == 400
        assert alone.json()["message"] == (
            "Only a single sorting parameter specified. sortBy and sortOrder required"
        )
    assert client.get(f"{REST}/deployment", params={"after": "yesterday"}).status_code == 400


def test_delete_a_deployment(client: TestClient, database_url: str) -> None:
    deployment_id = deploy(client, {"invoice.bpmn": INVOICE}).json()["id"]

    deleted = client.delete(f"{REST}/deployment/{deployment_id}")

    assert deleted.status_code == 204
    assert client.get(f"{REST}/deployment/{deployment_id}").status_code == 404
    assert client.delete(f"{REST}/deployment/{deployment_id}").status_code == 404
    with Engine(database_url, migrate=False) as engine:
        assert engine.process_definitions() == []


def test_delete_with_running_instances_needs_cascade(client: TestClient, database_url: str) -> None:
    deployment_id = deploy(client, {"invoice.bpmn": INVOICE}).json()["id"]
    with Engine(
        database_url, migrate=False, delegates={"generateInvoice": lambda execution: None}
    ) as engine:
        instance = engine.start_process_instance_by_key("invoice", {"amount": 10})

        refused = client.delete(f"{REST}/deployment/{deployment_id}")
        assert refused.status_code == 409
        assert "cascade" in refused.json()["message"]
        assert not engine.process_instance(instance.id).ended

        cascaded = client.delete(f"{REST}/deployment/{deployment_id}", params={"cascade": "true"})

        assert cascaded.status_code == 204
        ended = engine.process_instance(instance.id)
        assert ended.ended
        assert ended.delete_reason == "deleted deployment"
        assert engine.jobs(instance.id) == []
        assert engine.process_definitions() == []
    assert client.get(f"{REST}/deployment/{deployment_id}").status_code == 404


def test_malformed_forms_are_refused(client: TestClient) -> None:
    nothing = client.post(f"{REST}/deployment/create", data={"deployment-name": "empty"})
    stray_text = client.post(
        f"{REST}/deployment/create",
        data={"deployment-name": "x", "invoice.bpmn": "<xml/>"},
        files={"a.bpmn": ("a.bpmn", INVOICE, "text/xml")},
    )
    bad_flag = deploy(client, {"invoice.bpmn": INVOICE}, **{"enable-duplicate-filtering": "yes"})
    tenant = deploy(client, {"invoice.bpmn": INVOICE}, **{"tenant-id": "acme"})
    too_big = deploy(client, {"big.bpmn": b" " * 200_001})
    not_bpmn = deploy(client, {"notes.txt": b"hello"})

    assert nothing.status_code == 400
    assert stray_text.status_code == 400
    assert "invoice.bpmn" in stray_text.json()["message"]
    assert bad_flag.status_code == 400
    assert tenant.status_code == 501
    assert too_big.status_code == 400
    assert "larger than 200000 bytes" in too_big.json()["message"]
    assert not_bpmn.status_code == 400
    assert not_bpmn.json()["problems"][0]["message"].startswith("no BPMN resource")
    assert client.get(f"{REST}/deployment").json() == []


def test_deployment_created_is_published_to_the_events_exchange(
    database_url: str, amqp_url: str, clock: ManualClock
) -> None:
    """With RabbitMQ, a deployment announces itself on ``safepoint.events``."""
    topology = Topology()
    queue_name = f"test-deployments-{uuid.uuid4().hex[:8]}"

    async def bind() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                topology.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(queue_name, auto_delete=False)
            await queue.bind(exchange, "deployment.created")

    async def take() -> aio_pika.abc.AbstractIncomingMessage | None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(queue_name, auto_delete=False)
            for _ in range(50):
                message = await queue.get(no_ack=True, fail=False)
                if message is not None:
                    await queue.delete(if_unused=False, if_empty=False)
                    return message
                await asyncio.sleep(0.1)
            await queue.delete(if_unused=False, if_empty=False)
            return None

    asyncio.run(bind())
    settings = Settings(
        database=DatabaseSettings(url=database_url), amqp=AmqpSettings(url=amqp_url)
    )
    with TestClient(create_app(settings, clock=clock)) as client:
        response = client.post(
            f"{REST}/deployment/create",
            data={"deployment-name": "events"},
            files={"invoice.bpmn": ("invoice.bpmn", INVOICE, "application/octet-stream")},
        )
        assert response.status_code == 200, response.text
    message = asyncio.run(take())
    assert message is not None, "no deployment.created event arrived"
    body = json.loads(message.body)
    assert body["deploymentId"] == response.json()["id"]
    assert message.type == "safepoint.deployment.created.v1"


def test_errors_are_json_and_say_what_to_fix(client: TestClient, database_url: str) -> None:
    """An unknown route, a date beyond 9999 once in UTC, a NUL in a name: JSON 4xx."""
    unknown = client.get(f"{REST}/nothing")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "type": "InvalidRequestException",
        "message": "there is no resource at /engine-rest/nothing",
    }

    late = client.get(f"{REST}/deployment", params={"after": "9999-12-31T23:59:59.000-1400"})
    assert late.status_code == 400
    assert "out of range once converted to UTC" in late.json()["message"]

    named = deploy(client, {"invoice.bpmn": INVOICE}, name="in\x00voicing")
    if database_url.startswith("sqlite"):
        assert named.status_code == 200  # SQLite keeps a NUL in a text
    else:
        assert named.status_code == 400, named.text
        assert named.json()["message"].startswith("a text value holds the NUL character")
        assert client.get(f"{REST}/deployment").json() == []


def test_a_deployment_over_the_body_limit_is_413_and_nothing_is_stored(
    database_url: str, clock: ManualClock
) -> None:
    settings = Settings(database=DatabaseSettings(url=database_url), http={"max_body_bytes": 4096})
    app = create_app(settings, clock=clock, on_deployed=lambda deployment: None)
    with TestClient(app) as small:
        response = deploy(small, {"invoice.bpmn": INVOICE + b" " * 8192})
        listed = small.get(f"{REST}/deployment")

    assert response.status_code == 413, response.text
    assert response.json() == {
        "type": "InvalidRequestException",
        "message": "the request body is larger than 4096 bytes (SAFEPOINT_HTTP_MAX_BODY_BYTES)",
    }
    assert listed.json() == []
