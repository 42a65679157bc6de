"""RabbitMQ for Safepoint, over aio-pika: topology, connections, publisher, consumers.

The only package that imports aio-pika or aiormq; everything above it deals in contract
messages (:mod:`safepoint.contract`) and Safepoint's errors.

A service starts like this::

    connection = await connect(settings.amqp_url, name="job-executor")
    channel = await open_channel(connection)
    await declare_topology(channel)
    publisher = Publisher(channel, app_id="job-executor")
    consumer = await consume(channel, Topology().jobs_queue, handle, prefetch=16)
    ...
    await consumer.stop()
    await connection.close()
"""

from safepoint.messaging.connection import connect, ensure_reachable, open_channel, redact
from safepoint.messaging.consumer import (
    ACK,
    DEAD_LETTER,
    REQUEUE,
    Ack,
    Consumer,
    DeadLetter,
    Handler,
    IncomingMessage,
    Outcome,
    Rejected,
    RejectionHandler,
    Requeue,
    consume,
    dead_letter_headers,
    reply,
)
from safepoint.messaging.publisher import HeaderValue, Outgoing, Publisher
from safepoint.messaging.topology import Topology, declare_external_topic, declare_topology

__all__ = [
    "ensure_reachable",
    "ACK",
    "DEAD_LETTER",
    "REQUEUE",
    "Ack",
    "Consumer",
    "DeadLetter",
    "Handler",
    "HeaderValue",
    "IncomingMessage",
    "Outcome",
    "Outgoing",
    "Publisher",
    "Rejected",
    "RejectionHandler",
    "Requeue",
    "Topology",
    "connect",
    "consume",
    "dead_letter_headers",
    "declare_external_topic",
    "declare_topology",
    "open_channel",
    "redact",
    "reply",
]
