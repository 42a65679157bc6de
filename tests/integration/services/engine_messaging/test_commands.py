"""Commands on ``safepoint.commands`` from any language: run, answered, dead-lettered."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
from bpmn_doc import chain, definitions, element, message_definition, process

from safepoint import Engine
from safepoint.contract import Topology
from safepoint.errors import OptimisticLockError

if TYPE_CHECKING:
    from conftest import Broker, Deployed

pytestmark = pytest.mark.anyio

INVOICE = definitions(
    process(
        "invoice",
        element("startEvent", "start"),
        element(
            "serviceTask", "generate", camunda__asyncBefore="true", camunda__expression="${true}"
        ),
        element("endEvent", "end"),
        *chain("start", "generate", "end"),
    )
)

ORDER = definitions(
    process(
        "order",
        element("startEvent", "start"),
        element("intermediateCatchEvent", "paid", body=message_definition("paid")),
        element("serviceTask", "ship", camunda__type="external", camunda__topic="ship"),
        element("userTask", "review"),
        element("endEvent", "end"),
        *chain("start", "paid", "ship", "review", "end"),
    ),
    messages=["paid"],
)

EXPLODING = definitions(
    process(
        "exploding",
        element("startEvent", "start"),
        element("serviceTask", "boom", camunda__delegateExpression="${boom}"),
        element("endEvent", "end"),
        *chain("start", "boom", "end"),
    )
)


class Boom:
    """A delegate that raises its first ``failures`` times, then works."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, execution: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"boom {self.calls}")


async def test_a_start_command_from_another_language_starts_an_instance_and_is_answered(
    start_runtime: Any, deployed: Deployed, broker: Broker, topology: Topology
) -> None:
    runtime = await start_runtime(deployed(INVOICE))
    engine = runtime.engine

    await broker.send(
        "start",
        {
            "processDefinitionKey": "invoice",
            "businessKey": "INV-1",
            "variables": {"amount": {"value": 42, "type": "Integer"}},
        },
        correlation_id="corr-start",
    )

    correlation_id, answer = await broker.reply()
    assert correlation_id == "corr-start"
    assert answer["ok"] is True
    result = answer["result"]
    instance = engine.process_instance(result["processInstanceId"])
    assert result["businessKey"] == "INV-1" == instance.business_key
    assert result["processDefinitionKey"] == "invoice"
    assert result["ended"] is False
    assert engine.variables(instance.id) == {"amount": 42}

    (job,) = engine.jobs(instance.id)
    message = await broker.next_message(topology.jobs_queue)
    assert message.type == "safepoint.job.execute.v1"
    body = json.loads(message.body)
    assert (body["jobId"], body["processInstanceId"], body["activityId"]) == (
        job.id,
        instance.id,
        "generate",
    )
    assert await broker.drain(topology.dead_letter_queue(topology.commands_queue), 0.2) == []


async def test_correlate_and_task_commands_carry_an_instance_to_its_end(
    start_runtime: Any, deployed: Deployed, broker: Broker, topology: Topology
) -> None:
    runtime = await start_runtime(deployed(ORDER))
    engine = runtime.engine
    await broker.send("start", {"processDefinitionKey": "order", "businessKey": "ORDER-7"})
    _, started = await broker.reply()
    instance_id = started["result"]["processInstanceId"]
    assert engine.active_activity_ids(instance_id) == ["paid"]

    await broker.send(
        "correlate",
        {
            "messageName": "paid",
            "businessKey": "ORDER-7",
            "processVariables": {"paidAmount": {"value": 99.5, "type": "Double"}},
        },
        correlation_id="corr-paid",
    )
    assert await broker.reply() == ("corr-paid", {"ok": True, "result": None, "error": None})

    handed_out = await broker.next_message(topology.external_queue("ship"))
    task = json.loads(handed_out.body)
    assert task["processInstanceId"] == instance_id
    assert task["businessKey"] == "ORDER-7"
    assert task["variables"]["paidAmount"] == {"value": 99.5, "type": "Double", "valueInfo": {}}

    await broker.send(
        "complete-external-task",
        {
            "externalTaskId": task["externalTaskId"],
            "workerId": "shipper-in-go",
            "variables": {"tracking": {"value": "TRACK-1", "type": "String"}},
        },
        correlation_id="corr-shipped",
    )
    assert (await broker.reply())[1]["ok"] is True
    (review,) = engine.tasks(instance_id)

    await broker.send("complete-task", {"taskId": review.id}, correlation_id="corr-reviewed")
    assert (await broker.reply())[1]["ok"] is True

    instance = engine.process_instance(instance_id)
    assert instance.ended
    assert engine.variables(instance_id) == {"paidAmount": 99.5, "tracking": "TRACK-1"}


async def test_a_command_delivered_twice_is_carried_out_once_and_answered_alike(
    start_runtime: Any, deployed: Deployed, broker: Broker, topology: Topology
) -> None:
    runtime = await start_runtime(deployed(ORDER))
    engine: Engine = runtime.engine
    start = {"processDefinitionKey": "order", "businessKey": "ORDER-9"}

    # A sender that got no confirm sends again; RabbitMQ redelivers after a lost ack.
    await broker.send("start", start, message_id="start-1", correlation_id="first")
    _, first = await broker.reply()
    await broker.send("start", start, message_id="start-1", correlation_id="again")
    correlation_id, again = await broker.reply()

    assert first["ok"] is True
    assert (correlation_id, again) == ("again", first)
    (instance,) = engine.process_instances()
    assert instance.id == first["result"]["processInstanceId"]
    processed = engine.processed_command("start-1")
    assert processed is not None
    assert processed.command_type == "safepoint.process-instance.start.v1"

    paid = {"messageName": "paid", "businessKey": "ORDER-9"}
    for correlation in ("paid", "paid-again"):
        await broker.send("correlate", paid, message_id="paid-1", correlation_id=correlation)
        assert await broker.reply() == (correlation, {"ok": True, "result": None, "error": None})
    handed_out = await broker.next_message(topology.external_queue("ship"))
    task_id = json.loads(handed_out.body)["externalTaskId"]
    await broker.send(
        "complete-external-task", {"externalTaskId": task_id, "workerId": "w"}, message_id="s-1"
    )
    assert (await broker.reply())[1]["ok"] is True
    (review,) = engine.tasks(instance.id)
    for _ in range(2):  # the second would find its task gone: NotFound, dead-lettered
        await broker.send("complete-task", {"taskId": review.id}, message_id="review-1")
        assert (await broker.reply())[1] == {"ok": True, "result": None, "error": None}

    assert engine.process_instance(instance.id).ended
    assert await broker.drain(topology.dead_letter_queue(topology.commands_queue), 0.2) == []
    assert len(await broker.drain(topology.external_queue("ship"), 0.2)) == 0  # one task


async def test_a_message_id_used_again_by_another_command_is_refused(
    start_runtime: Any, deployed: Deployed, broker: Broker, topology: Topology
) -> None:
    runtime = await start_runtime(deployed(ORDER))
    engine: Engine = runtime.engine
    await broker.send("start", {"processDefinitionKey": "order"}, message_id="same")
    assert (await broker.reply())[1]["ok"] is True

    await broker.send(
        "correlate", {"messageName": "paid"}, message_id="same", correlation_id="reused"
    )
    correlation_id, answer = await broker.reply()

    assert correlation_id == "reused"
    assert answer["error"]["type"] == "BadUserRequest"
    reason = answer["error"]["message"]
    assert "message_id 'same' was used by a safepoint.process-instance.start.v1" in reason
    (instance,) = engine.process_instances()
    assert engine.active_activity_ids(instance.id) == ["paid"]  # not correlated
    dead = await broker.next_message(topology.dead_letter_queue(topology.commands_queue))
    assert dead.message_id == "same"
    assert str(dead.headers["x-safepoint-reason"]).startswith("BadUserRequest: message_id")

    # The same type of command, with other content: not a redelivery either.
    await broker.send(
        "start",
        {"processDefinitionKey": "order", "businessKey": "OTHER"},
        message_id="same",
        correlation_id="other-body",
    )
    correlation_id, answer = await broker.reply()
    assert correlation_id == "other-body"
    assert answer["error"]["type"] == "BadUserRequest"
    assert "used by a command with other content" in answer["error"]["message"]
    assert len(engine.process_instances()) == 1


async def test_bad_commands_are_dead_lettered_with_the_reason_answered_and_consuming_goes_on(
    start_runtime: Any, deployed: Deployed, broker: Broker, topology: Topology
) -> None:
    await start_runtime(deployed(INVOICE))
    dead_letters = topology.dead_letter_queue(topology.commands_queue)

    await broker.send("start", b'{"processDefinitionKey": "invoice"', correlation_id="not-json")
    await broker.send("start", {"processDefinitionKey": 7, "bogus": 1}, correlation_id="schema")
    await broker.send("start", {"processDefinitionKey": "nope"}, correlation_id="unknown-key")
    await broker.send("safepoint.job.explode.v1", {}, correlation_id="unknown-type")
    await broker.send("correlate", {"messageName": "nobody-waits"}, correlation_id="no-match")
    await broker.send("start", {"processDefinitionKey": "nope"}, reply=False)
    await broker.send("start", {"processDefinitionKey": "invoice"}, correlation_id="good")

    replies = dict([await broker.reply() for _ in range(6)])
    outcomes = {
        key: "ok" if answer["ok"] else answer["error"]["type"] for key, answer in replies.items()
    }
    assert outcomes == {
        "not-json": "ContractViolation",
        "schema": "ContractViolation",
        "unknown-key": "NotFound",
        "unknown-type": "ContractViolation",
        "no-match": "BadUserRequest",
        "good": "ok",
    }
    assert "Invalid JSON" in replies["not-json"]["error"]["message"]
    assert "processDefinitionKey" in replies["schema"]["error"]["message"]
    assert "'nope'" in replies["unknown-key"]["error"]["message"]

    dead = [await broker.next_message(dead_letters) for _ in range(6)]
    reasons = {
        message.correlation_id: str(message.headers["x-safepoint-reason"]) for message in dead
    }
    assert set(reasons) == {"not-json", "schema", "unknown-key", "unknown-type", "no-match", None}
    assert reasons["unknown-key"].startswith("NotFound: process definition with key 'nope'")
    assert reasons[None] == reasons["unknown-key"]
    assert reasons["no-match"].startswith("BadUserRequest: Cannot correlate message")
    assert "unknown message type 'safepoint.job.explode.v1'" in reasons["unknown-type"]
    assert "processDefinitionKey" in reasons["schema"]
    assert await broker.drain(dead_letters, quiet=0.2) == []  # one dead letter each


async def test_optimistic_locking_conflicts_are_retried_then_dead_lettered(
    start_runtime: Any,
    deployed: Deployed,
    broker: Broker,
    topology: Topology,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = await start_runtime(deployed(ORDER), conflict_attempts=3)
    engine: Engine = runtime.engine
    conflicts = {"ORDER-1": 2, "ORDER-2": 99}
    correlate = engine.correlate_message

    def conflicting(name: str, business_key: str | None = None, variables: Any = None) -> None:
        if conflicts[business_key or ""] > 0:
            conflicts[business_key or ""] -= 1
            raise OptimisticLockError("process instance changed meanwhile")
        correlate(name, business_key, variables)

    monkeypatch.setattr(engine, "correlate_message", conflicting)
    for key in conflicts:
        await broker.send("start", {"processDefinitionKey": "order", "businessKey": key})
        assert (await broker.reply())[1]["ok"] is True

    await broker.send(
        "correlate", {"messageName": "paid", "businessKey": "ORDER-1"}, correlation_id="1"
    )
    await broker.send(
        "correlate", {"messageName": "paid", "businessKey": "ORDER-2"}, correlation_id="2"
    )
    replies = dict([await broker.reply(), await broker.reply()])

    assert replies["1"]["ok"] is True  # two conflicts, third run wins
    assert replies["2"]["error"]["type"] == "OptimisticLockError"
    assert conflicts == {"ORDER-1": 0, "ORDER-2": 96}  # three runs, then given up
    dead = await broker.next_message(topology.dead_letter_queue(topology.commands_queue))
    assert dead.correlation_id == "2"
    assert str(dead.headers["x-safepoint-reason"]).startswith("OptimisticLockError:")


async def test_an_unexpected_failure_is_requeued_and_on_the_last_delivery_dead_lettered(
    start_runtime: Any,
    deployed: Deployed,
    broker: Broker,
    topology: Topology,
    caplog: pytest.LogCaptureFixture,
) -> None:
    boom = Boom(failures=1)
    runtime = await start_runtime(deployed(EXPLODING, delegates={"boom": boom}))
    engine: Engine = runtime.engine

    with caplog.at_level(logging.WARNING, logger="safepoint_engine.consumers"):
        # Fails once, is requeued, and starts on its second delivery.
        await broker.send("start", {"processDefinitionKey": "exploding"}, correlation_id="lucky")
        correlation_id, answer = await broker.reply()
        assert (correlation_id, answer["ok"]) == ("lucky", True)
        assert engine.process_instance(answer["result"]["processInstanceId"]).ended
        assert boom.calls == 2

        # Fails on every delivery: answered and dead-lettered on the last one.
        boom.calls, boom.failures = 0, 1000
        await broker.send("start", {"processDefinitionKey": "exploding"}, correlation_id="doomed")
        correlation_id, answer = await broker.reply()

    assert correlation_id == "doomed"
    assert answer["error"] == {"type": "RuntimeError", "message": f"boom {boom.calls}"}
    assert boom.calls == topology.delivery_limit + 1
    dead = await broker.next_message(topology.dead_letter_queue(topology.commands_queue))
    assert dead.correlation_id == "doomed"
    assert str(dead.headers["x-safepoint-reason"]) == f"RuntimeError: boom {boom.calls}"
    assert "x-death" not in (dead.headers or {})  # dead-lettered by us, with the reason
    assert len(engine.process_instances(process_definition_key="exploding")) == 1
    assert "requeueing it" in caplog.text


async def test_set_job_retries_and_fail_external_task_commands(
    start_runtime: Any, deployed: Deployed, broker: Broker, topology: Topology
) -> None:
    runtime = await start_runtime(deployed(ORDER))
    engine: Engine = runtime.engine
    await broker.send("start", {"processDefinitionKey": "order", "businessKey": "B"})
    await broker.reply()
    await broker.send("correlate", {"messageName": "paid", "businessKey": "B"})
    await broker.reply()
    task = json.loads((await broker.next_message(topology.external_queue("ship"))).body)

    await broker.send(
        "fail-external-task",
        {
            "externalTaskId": task["externalTaskId"],
            "workerId": "w",
            "errorMessage": "printer on fire",
            "retries": 0,
        },
        correlation_id="failed",
    )
    assert await broker.reply() == ("failed", {"ok": True, "result": None, "error": None})
    (incident,) = engine.incidents(task["processInstanceId"])
    assert incident.incident_type == "failedExternalTask"

    await broker.send("set-job-retries", {"jobId": "no-such-job", "retries": 3}, correlation_id="r")
    correlation_id, answer = await broker.reply()
    assert (correlation_id, answer["error"]["type"]) == ("r", "NotFound")
