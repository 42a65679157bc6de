"""Every message from JSON as another language sends it, and decode's refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from safepoint.contract import (
    MESSAGE_TYPES,
    CommandReply,
    CorrelateMessage,
    DeploymentCreated,
    ExecuteJob,
    Message,
    MessageType,
    ProcessInstanceStarted,
    StartProcessInstance,
    decode,
    encode,
    from_typed,
)
from safepoint.errors import ContractViolation

AMOUNT = {"amount": {"value": 10, "type": "Integer"}}
WHEN = "2026-01-01T10:00:00.000+0000"

# What a client in another language sends: Camunda's camelCase names, nothing Python.
FOREIGN_JSON: dict[str, dict[str, Any]] = {
    "safepoint.job.execute.v1": {
        "jobId": "job-1",
        "processInstanceId": "pi-1",
        "processDefinitionKey": "invoice",
        "activityId": "SendInvoice",
        "configuration": "transition-notify-listener-take$Flow_1",
        "exclusive": True,
        "retries": 3,
    },
    "safepoint.process-instance.start.v1": {
        "processDefinitionKey": "invoice",
        "businessKey": "order-7",
        "variables": AMOUNT,
    },
    "safepoint.message.correlate.v1": {
        "messageName": "PaymentReceived",
        "businessKey": "order-7",
        "processInstanceId": None,
        "processVariables": AMOUNT,
    },
    "safepoint.task.complete.v1": {"taskId": "task-1", "variables": AMOUNT},
    "safepoint.external-task.complete.v1": {
        "externalTaskId": "et-1",
        "workerId": "node-worker",
        "variables": AMOUNT,
    },
    "safepoint.external-task.failure.v1": {
        "externalTaskId": "et-1",
        "workerId": "node-worker",
        "errorMessage": "SMTP down",
        "errorDetails": "stack...",
        "retries": 2,
        "retryTimeout": 60000,
    },
    "safepoint.external-task.bpmn-error.v1": {
        "externalTaskId": "et-1",
        "workerId": "node-worker",
        "errorCode": "INVALID_ADDRESS",
        "errorMessage": "no such street",
        "variables": AMOUNT,
    },
    "safepoint.job.set-retries.v1": {"jobId": "job-1", "retries": 3},
    "safepoint.command.reply.v1": {
        "ok": False,
        "result": None,
        "error": {"type": "NotFound", "message": "task 'x' not found"},
    },
    "safepoint.external-task.created.v1": {
        "externalTaskId": "et-1",
        "topic": "send",
        "processInstanceId": "pi-1",
        "processDefinitionKey": "invoice",
        "activityId": "SendInvoice",
        "businessKey": "order-7",
        "variables": AMOUNT,
        "retries": None,
        "priority": 0,
    },
    "safepoint.process-instance.started.v1": {
        "processInstanceId": "pi-1",
        "processDefinitionId": "invoice:1:abc",
        "processDefinitionKey": "invoice",
        "businessKey": "order-7",
        "startedAt": WHEN,
    },
    "safepoint.process-instance.completed.v1": {
        "processInstanceId": "pi-1",
        "processDefinitionId": "invoice:1:abc",
        "processDefinitionKey": "invoice",
        "businessKey": None,
        "endedAt": WHEN,
    },
    "safepoint.activity.completed.v1": {
        "processInstanceId": "pi-1",
        "processDefinitionKey": "invoice",
        "activityId": "SendInvoice",
        "activityInstanceId": "SendInvoice:ai-1",
        "activityType": "serviceTask",
        "activityName": "Send Invoice",
        "endedAt": WHEN,
    },
    "safepoint.incident.created.v1": {
        "incidentId": "inc-1",
        "incidentType": "failedJob",
        "processInstanceId": "pi-1",
        "processDefinitionId": "invoice:1:abc",
        "activityId": "SendInvoice",
        "message": "SMTP down",
        "configuration": "job-1",
        "createdAt": WHEN,
    },
    "safepoint.deployment.created.v1": {
        "deploymentId": "dep-1",
        "name": "invoice.bpmn",
        "deployedAt": WHEN,
        "processDefinitions": [{"id": "invoice:1:abc", "key": "invoice", "version": 1}],
    },
}


def _contains(got: object, sent: object) -> bool:
    """Whether ``got`` has everything ``sent`` has (dicts may have more keys)."""
    if isinstance(sent, dict):
        return isinstance(got, dict) and all(
            key in got and _contains(got[key], value) for key, value in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(got, list)
            and len(got) == len(sent)
            and all(_contains(g, s) for g, s in zip(got, sent, strict=True))
        )
    return got == sent


def test_every_message_type_has_a_sample_here() -> None:
    assert set(FOREIGN_JSON) == set(MESSAGE_TYPES) == {str(t) for t in MessageType}


@pytest.mark.parametrize("type_name", sorted(FOREIGN_JSON))
def test_json_from_another_language_decodes_and_encodes_back_to_the_same_json(
    type_name: str,
) -> None:
    body = json.dumps(FOREIGN_JSON[type_name]).encode()

    message = decode(type_name, body)

    assert type(message) is MESSAGE_TYPES[type_name]
    encoded, encoded_type = encode(message)
    assert encoded_type == type_name
    # Every name sent comes back with its value (defaults, like valueInfo, may be added).
    assert _contains(json.loads(encoded), FOREIGN_JSON[type_name])
    assert decode(type_name, encoded) == message


def test_python_code_may_use_field_names_and_the_wire_keeps_camunda_names() -> None:
    message = CorrelateMessage(message_name="PaymentReceived", variables={})

    body, _ = encode(message)

    assert json.loads(body) == {
        "messageName": "PaymentReceived",
        "businessKey": None,
        "processInstanceId": None,
        "processVariables": {},
    }
    assert decode(str(message.message_type), b'{"message_name": "PaymentReceived"}') == message


def test_variables_in_a_message_convert_to_python_values() -> None:
    message = decode(
        "safepoint.process-instance.start.v1",
        json.dumps(FOREIGN_JSON["safepoint.process-instance.start.v1"]).encode(),
    )

    assert isinstance(message, StartProcessInstance)
    assert from_typed(message.variables) == {"amount": 10}


def test_timestamps_are_aware_utc_and_written_as_camunda_does() -> None:
    started = ProcessInstanceStarted(
        process_instance_id="pi-1",
        process_definition_id="invoice:1:abc",
        process_definition_key="invoice",
        started_at="2026-01-01T11:00:00.5+01:00",
    )

    assert started.started_at == datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert json.loads(encode(started)[0])["startedAt"] == "2026-01-01T10:00:00.500+0000"


@pytest.mark.parametrize(
    ("type_name", "body", "reason"),
    [
        (None, b"{}", "the message has no AMQP type property"),
        ("", b"{}", "the message has no AMQP type property"),
        (
            "safepoint.job.execute.v0",
            b"{}",
            "unknown message type 'safepoint.job.execute.v0'; known types: ",
        ),
        ("safepoint.job.execute.v1", b"{not json", "safepoint.job.execute.v1: Invalid JSON: "),
        ("safepoint.job.execute.v1", b"\xff\xfe", "Invalid JSON"),
        ("safepoint.job.execute.v1", b"[]", "Input should be an object"),
        ("safepoint.job.set-retries.v1", b'{"jobId": "j"}', "retries: Field required"),
        (
            "safepoint.job.set-retries.v1",
            b'{"jobId": "j", "retries": -1}',
            "retries: Input should be greater than or equal to 0",
        ),
        (
            "safepoint.job.set-retries.v1",
            b'{"jobId": "j", "retries": "three"}',
            "retries: Input should be a valid integer",
        ),
        (
            "safepoint.job.set-retries.v1",
            b'{"jobId": "j", "retries": 1, "retires": 1}',
            "retires: Extra inputs are not permitted",
        ),
        (
            "safepoint.process-instance.start.v1",
            b"{}",
            "give exactly one of processDefinitionKey and processDefinitionId",
        ),
        (
            "safepoint.process-instance.start.v1",
            b'{"processDefinitionKey": "a", "processDefinitionId": "a:1"}',
            "give exactly one of processDefinitionKey and processDefinitionId",
        ),
        (
            "safepoint.process-instance.start.v1",
            b'{"processDefinitionKey": "a", '
            b'"variables": {"amount": {"value": "ten", "type": "Integer"}}}',
            'variables.amount: an Integer value must be an integer, not "ten" (string)',
        ),
        (
            "safepoint.process-instance.started.v1",
            json.dumps(
                {
                    **FOREIGN_JSON["safepoint.process-instance.started.v1"],
                    "startedAt": "2026-01-01T10:00:00",
                }
            ).encode(),
            "startedAt: '2026-01-01T10:00:00' is not an ISO 8601 date-time with an offset",
        ),
        ("safepoint.command.reply.v1", b'{"ok": false}', "a reply with ok=false says why in error"),
    ],
)
def test_decode_refuses_with_a_readable_reason(
    type_name: str | None, body: bytes, reason: str
) -> None:
    with pytest.raises(ContractViolation) as caught:
        decode(type_name, body)

    assert reason in caught.value.reason
    assert "https://" not in caught.value.reason  # no pydantic URLs


def test_a_reason_lists_every_problem_but_not_the_input() -> None:
    secret = "hunter2-" * 3
    body = json.dumps({"jobId": 5, "configuration": secret}).encode()

    with pytest.raises(ContractViolation) as caught:
        decode("safepoint.job.execute.v1", body)

    reason = caught.value.reason
    for field in ("jobId", "processInstanceId", "processDefinitionKey", "activityId", "retries"):
        assert field in reason
    assert secret not in reason


def test_messages_are_immutable() -> None:
    job = decode(
        "safepoint.job.execute.v1", json.dumps(FOREIGN_JSON["safepoint.job.execute.v1"]).encode()
    )

    with pytest.raises(ValueError, match="frozen"):
        job.retries = 0  # type: ignore[misc]


def test_message_classes_name_their_type() -> None:
    assert ExecuteJob.message_type == "safepoint.job.execute.v1"
    assert CommandReply.message_type == "safepoint.command.reply.v1"
    assert DeploymentCreated.routing_key == "deployment.created"
    assert all(issubclass(model, Message) for model in MESSAGE_TYPES.values())
