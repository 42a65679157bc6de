"""How a message travels: AMQP properties and headers, and its body encoded and decoded.

Every message is JSON (``content_type=application/json``, UTF-8), persistent, with a
unique ``message_id`` and an AMQP ``type`` naming the message and its schema version
(``safepoint.job.execute.v1``, see :class:`~safepoint.contract.base.MessageType`). The
W3C trace context travels in the headers ``traceparent`` and ``tracestate``, never in
the body. A message Safepoint dead-letters on purpose carries why in ``x-safepoint-*``
headers.

:func:`decode` is the one door into Safepoint: an unknown type, a body that is not JSON,
or JSON that does not match the type's schema raises
:class:`~safepoint.errors.ContractViolation` with a readable reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from pydantic import ValidationError

from safepoint.contract.base import Message, validation_reason
from safepoint.contract.commands import COMMANDS, CommandReply
from safepoint.contract.events import EVENTS
from safepoint.contract.external import ExternalTaskCreated
from safepoint.contract.jobs import ExecuteJob
from safepoint.errors import ContractViolation

CONTENT_TYPE: Final = "application/json"
"""The content type of every message body."""

TRACEPARENT_HEADER: Final = "traceparent"
"""W3C trace context: the span that sent the message."""
TRACESTATE_HEADER: Final = "tracestate"
"""W3C trace context: vendor state that travels with ``traceparent``."""

REASON_HEADER: Final = "x-safepoint-reason"
"""Why Safepoint dead-lettered a message (a contract violation, or the handler's reason)."""
ORIGINAL_TYPE_HEADER: Final = "x-safepoint-original-type"
"""The AMQP ``type`` the dead-lettered message arrived with (empty if it had none)."""
ORIGINAL_QUEUE_HEADER: Final = "x-safepoint-original-queue"
"""The queue the dead-lettered message was consumed from."""
ORIGINAL_EXCHANGE_HEADER: Final = "x-safepoint-original-exchange"
"""The exchange the dead-lettered message was first published to."""
ORIGINAL_ROUTING_KEY_HEADER: Final = "x-safepoint-original-routing-key"
"""The routing key the dead-lettered message was first published with."""

ALL_MESSAGES: Final[tuple[type[Message], ...]] = (
    ExecuteJob,
    *COMMANDS,
    CommandReply,
    ExternalTaskCreated,
    *EVENTS,
)
"""Every message model, in the order the contract documents them."""


def _registry(models: tuple[type[Message], ...]) -> Mapping[str, type[Message]]:
    registry: dict[str, type[Message]] = {}
    for model in models:
        name = str(model.message_type)
        if name in registry:
            raise RuntimeError(f"{model.__name__} and {registry[name].__name__} share {name}")
        registry[name] = model
    return MappingProxyType(registry)


MESSAGE_TYPES: Final = _registry(ALL_MESSAGES)
"""The message type registry: AMQP ``type`` → model class."""


def model_for(type_name: str | None) -> type[Message]:
    """The model class of the AMQP ``type`` ``type_name``.

    Raises:
        ContractViolation: there is no type, or it is not a known message type.
    """
    if not type_name:
        raise ContractViolation(
            "the message has no AMQP type property; set it, e.g. "
            "safepoint.process-instance.start.v1"
        )
    model = MESSAGE_TYPES.get(type_name)
    if model is None:
        raise ContractViolation(
            f"unknown message type {type_name!r}; known types: {', '.join(MESSAGE_TYPES)}"
        )
    return model


def encode(message: Message) -> tuple[bytes, str]:
    """The JSON body (camelCase names) and the AMQP ``type`` of ``message``."""
    return message.model_dump_json(by_alias=True).encode(), str(message.message_type)


def decode(type_name: str | None, body: bytes) -> Message:
    """The message of AMQP type ``type_name`` whose JSON body is ``body``.

    Raises:
        ContractViolation: the type is missing or unknown, the body is not JSON, or the
            JSON does not match the type's schema; the reason says which and where.
    """
    model = model_for(type_name)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ContractViolation(f"{type_name}: {validation_reason(exc)}") from exc
