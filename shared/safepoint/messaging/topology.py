"""Declaring Safepoint's RabbitMQ topology (DESIGN §5), idempotently, at every start-up.

The names and queue arguments come from :class:`~safepoint.contract.channels.Topology`
(re-exported here), the one place they are written down. Declaring what already exists
with the same arguments is a no-op; with other arguments it is refused by the broker,
and :class:`~safepoint.errors.MessagingError` says which queue and how.
"""

from __future__ import annotations

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractChannel

from safepoint.contract.channels import ExchangeSpec, QueueSpec, Topology, check_topic
from safepoint.errors import BrokerUnavailable, MessagingError

__all__ = [
    "ExchangeSpec",
    "QueueSpec",
    "Topology",
    "check_topic",
    "declare_external_topic",
    "declare_topology",
]

_EXCHANGE_TYPES = {"direct": aio_pika.ExchangeType.DIRECT, "topic": aio_pika.ExchangeType.TOPIC}


async def declare_topology(channel: AbstractChannel, topology: Topology | None = None) -> None:
    """Declare every exchange and queue of ``topology`` and bind the queues.

    Exchanges are durable; the jobs and commands queues are quorum queues that
    dead-letter (at least once) to the dead-letter exchange, from which
    ``<queue>.dlq`` routes to the dead-letter queue of the same name.

    Raises:
        MessagingError: a queue or exchange exists with other arguments or type.
        BrokerUnavailable: the connection to the broker is lost.
    """
    topology = topology or Topology()
    for exchange in topology.exchanges:
        await _declare_exchange(channel, exchange)
    for queue in topology.queues:
        await _declare_queue(channel, queue)


async def declare_external_topic(
    channel: AbstractChannel, topic: str, topology: Topology | None = None
) -> str:
    """Declare the queue of an external task topic and bind it; return the queue's name.

    Idempotent and cheap (two round trips): call it before publishing to a topic.

    Raises:
        ValueError: ``topic`` cannot be a routing key matched exactly.
        MessagingError: the queue exists with other arguments.
        BrokerUnavailable: the connection to the broker is lost.
    """
    topology = topology or Topology()
    check_topic(topic)
    spec = topology.external_topic_queue(topic)
    await _declare_queue(channel, spec)
    return spec.name


async def _declare_exchange(channel: AbstractChannel, spec: ExchangeSpec) -> None:
    try:
        await channel.declare_exchange(spec.name, _EXCHANGE_TYPES[spec.kind], durable=True)
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        raise MessagingError(
            f"exchange {spec.name!r} exists with another type or flags than "
            f"durable {spec.kind}: {exc}"
        ) from exc
    except (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError) as exc:
        raise BrokerUnavailable(f"cannot declare exchange {spec.name!r}: {exc!r}") from exc


async def _declare_queue(channel: AbstractChannel, spec: QueueSpec) -> None:
    try:
        queue = await channel.declare_queue(spec.name, durable=True, arguments=dict(spec.arguments))
        await queue.bind(spec.exchange, spec.routing_key)
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        raise MessagingError(
            f"queue {spec.name!r} exists with other arguments than {dict(spec.arguments)}: "
            f"{exc}. Move its messages elsewhere and delete it, or keep the old topology"
        ) from exc
    except aiormq.exceptions.ChannelNotFoundEntity as exc:
        raise MessagingError(
            f"cannot bind queue {spec.name!r} to exchange {spec.exchange!r}: {exc}"
        ) from exc
    except (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError) as exc:
        raise BrokerUnavailable(f"cannot declare queue {spec.name!r}: {exc!r}") from exc
