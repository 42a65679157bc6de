"""The AsyncAPI 3.0 document of Safepoint's messaging, built from the models and topology.

Channels are the topology's exchanges (``is: routingKey``) and queues (``is: queue``);
queue arguments, which the AMQP binding cannot express, are in ``x-queue-arguments``.
Operations are from Safepoint's side: ``send`` what it publishes, ``receive`` what it
consumes. Message payloads ``$ref`` the JSON Schema files next to the document.
"""

from __future__ import annotations

from collections.abc import Iterable
from inspect import cleandoc
from typing import Any

from safepoint.contract.base import Message
from safepoint.contract.channels import QueueSpec, Topology
from safepoint.contract.commands import COMMANDS, CommandReply
from safepoint.contract.envelope import (
    ALL_MESSAGES,
    CONTENT_TYPE,
    ORIGINAL_EXCHANGE_HEADER,
    ORIGINAL_QUEUE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    ORIGINAL_TYPE_HEADER,
    REASON_HEADER,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
)
from safepoint.contract.events import EVENTS
from safepoint.contract.external import ExternalTaskCreated
from safepoint.contract.jobs import ExecuteJob

SCHEMAS_DIR = "schemas"
"""Where the JSON Schemas are, relative to the document."""
_AMQP_BINDING = "0.3.0"


def schema_path(message: type[Message]) -> str:
    """The path of ``message``'s JSON Schema, relative to the contracts directory."""
    return f"{SCHEMAS_DIR}/{message.message_type}.json"


# --------------------------------------------------------------------------------------


def _summary(model: type[object]) -> str:
    """The first line of a class's docstring."""
    return cleandoc(model.__doc__ or "").split("\n", 1)[0]


def _exchange_channel(
    address: str, exchange: str, kind: str, messages: Iterable[type[Message]], description: str
) -> dict[str, Any]:
    return {
        "address": address,
        "description": description,
        "messages": _channel_messages(messages),
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": kind,
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": _AMQP_BINDING,
            }
        },
    }


def _queue_channel(
    queue: QueueSpec, messages: Iterable[type[Message]], description: str, address: str = ""
) -> dict[str, Any]:
    return {
        "address": address or queue.name,
        "description": description,
        "messages": _channel_messages(messages),
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {
                    "name": address or queue.name,
                    "durable": True,
                    "exclusive": False,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": _AMQP_BINDING,
            }
        },
        "x-queue-arguments": dict(queue.arguments),
        "x-bound-to": {"exchange": queue.exchange, "routingKey": queue.routing_key},
    }


def _channel_messages(messages: Iterable[type[Message]]) -> dict[str, Any]:
    return {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in messages}


def _operation(
    action: str,
    channel: str,
    messages: Iterable[type[Message]],
    summary: str,
    *,
    mandatory: bool,
) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{m.__name__}"} for m in messages],
        "bindings": {
            "amqp": {
                "deliveryMode": 2,
                "mandatory": mandatory,
                "timestamp": True,
                "ack": True,
                "bindingVersion": _AMQP_BINDING,
            }
        },
    }


def _message(model: type[Message]) -> dict[str, Any]:
    return {
        "name": str(model.message_type),
        "title": model.__name__,
        "summary": _summary(model),
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/TraceHeaders"},
        "payload": {"$ref": f"./{schema_path(model)}"},
        "bindings": {
            "amqp": {"messageType": str(model.message_type), "bindingVersion": _AMQP_BINDING}
        },
    }


def asyncapi(topology: Topology) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of Safepoint's messaging, as plain data in a fixed order."""
    t = topology
    jobs_queue, commands_queue = t.work_queues
    jobs_dlq, commands_dlq, external_dlq = t.dead_letter_queues
    external_queue = t.external_topic_queue("topic")
    external_address = f"{t.external_queue_prefix}{{topic}}"
    topic_parameter = {"topic": {"description": "The external task topic (camunda:topic)."}}
    commands: list[type[Message]] = list(COMMANDS)
    external: list[type[Message]] = [ExternalTaskCreated]

    channels: dict[str, Any] = {
        "jobs": _exchange_channel(
            t.jobs_routing_key,
            t.jobs_exchange,
            "direct",
            [ExecuteJob],
            "Job messages, one per safe point, published after the job row is committed.",
        ),
        "jobsQueue": _queue_channel(
            jobs_queue, [ExecuteJob], "The queue job-executors consume (competing consumers)."
        ),
        "commands": _exchange_channel(
            t.commands_routing_key,
            t.commands_exchange,
            "direct",
            commands,
            "Where any language sends commands. Set reply_to and correlation_id to get a "
            "CommandReply. A command is carried out once per message_id: sent again with "
            "the same message_id (or redelivered), it is answered with the first answer "
            "and not run again.",
        ),
        "commandsQueue": _queue_channel(
            commands_queue, commands, "The queue the engine consumes commands from."
        ),
        "replies": {
            "address": "{replyTo}",
            "description": "Replies to commands, published to the default exchange with the "
            "command's reply_to as routing key and its correlation_id.",
            "parameters": {"replyTo": {"description": "The reply_to property of the command."}},
            "messages": _channel_messages([CommandReply]),
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": "", "type": "default", "vhost": "/"},
                    "bindingVersion": _AMQP_BINDING,
                }
            },
        },
        "externalTasks": {
            **_exchange_channel(
                "{topic}",
                t.external_exchange,
                "topic",
                external,
                "External tasks, routed by their topic.",
            ),
            "parameters": topic_parameter,
        },
        "externalTasksQueue": {
            **_queue_channel(
                external_queue,
                external,
                "The queue of one topic, declared on demand and bound with the topic as "
                "routing key. A worker acks only after it has published its answer.",
                address=external_address,
            ),
            "parameters": topic_parameter,
            "x-bound-to": {"exchange": t.external_exchange, "routingKey": "{topic}"},
        },
    }
    for event in EVENTS:
        channels[_event_channel(event.routing_key)] = _exchange_channel(
            event.routing_key,
            t.events_exchange,
            "topic",
            [event],
            f"{_summary(event)} Listeners declare and bind their own queues.",
        )
    dead_letters: dict[str, tuple[QueueSpec, list[type[Message]]]] = {
        "jobsDeadLetters": (jobs_dlq, [ExecuteJob]),
        "commandsDeadLetters": (commands_dlq, commands),
        "externalTasksDeadLetters": (external_dlq, external),
    }
    for name, (queue, messages) in dead_letters.items():
        channels[name] = _queue_channel(
            queue,
            messages,
            f"Dead letters, through the exchange {t.dead_letter_exchange}: exhausted jobs, "
            "messages redelivered too often, and messages refused with the reason in "
            f"{REASON_HEADER} (their body may not match any schema).",
        )

    operations: dict[str, Any] = {
        "sendJob": _operation(
            "send",
            "jobs",
            [ExecuteJob],
            "The engine and job-executors publish jobs.",
            mandatory=True,
        ),
        "receiveJob": _operation(
            "receive", "jobsQueue", [ExecuteJob], "Job-executors run jobs.", mandatory=True
        ),
        "receiveCommand": _operation(
            "receive", "commandsQueue", commands, "The engine runs commands.", mandatory=True
        ),
        "sendReply": _operation(
            "send", "replies", [CommandReply], "The engine answers commands.", mandatory=False
        ),
        "sendExternalTask": _operation(
            "send",
            "externalTasks",
            external,
            "Safepoint gives external tasks to workers.",
            mandatory=True,
        ),
    }
    for event in EVENTS:
        channel = _event_channel(event.routing_key)
        operations[f"send{event.__name__}"] = _operation(
            "send", channel, [event], f"Safepoint publishes {event.routing_key}.", mandatory=False
        )
    for name, (_queue, messages) in dead_letters.items():
        operations[f"send{name[0].upper()}{name[1:]}"] = _operation(
            "send", name, messages, "Safepoint dead-letters what it cannot process.", mandatory=True
        )

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Safepoint messaging",
            "version": "1.0.0",
            "description": "Messages between Safepoint's services and workers in any language. "
            f"Bodies are JSON ({CONTENT_TYPE}), persistent, with a unique message_id and the "
            "AMQP type naming the message and its schema version; W3C trace context travels "
            f"in the {TRACEPARENT_HEADER} and {TRACESTATE_HEADER} headers.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ on a developer machine: amqp://localhost:5672",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {model.__name__: _message(model) for model in ALL_MESSAGES},
            "schemas": {
                "TraceHeaders": {
                    "type": "object",
                    "properties": {
                        TRACEPARENT_HEADER: {
                            "type": "string",
                            "description": "W3C traceparent of the span that sent the message",
                        },
                        TRACESTATE_HEADER: {"type": "string", "description": "W3C tracestate"},
                    },
                },
                "DeadLetterHeaders": {
                    "type": "object",
                    "description": "Added to a message Safepoint dead-letters on purpose.",
                    "properties": {
                        REASON_HEADER: {"type": "string", "description": "why"},
                        ORIGINAL_TYPE_HEADER: {"type": "string"},
                        ORIGINAL_QUEUE_HEADER: {"type": "string"},
                        ORIGINAL_EXCHANGE_HEADER: {"type": "string"},
                        ORIGINAL_ROUTING_KEY_HEADER: {"type": "string"},
                    },
                },
            },
        },
    }


def _event_channel(routing_key: str) -> str:
    """``process.started`` → ``processStartedEvents``."""
    words = routing_key.split(".")
    return words[0] + "".join(word.title() for word in words[1:]) + "Events"
