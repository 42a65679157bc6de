"""Consuming contract messages: decode, hand to a handler, settle by the handler's outcome.

A handler gets an :class:`IncomingMessage` (the decoded contract message and its AMQP
properties) and returns an :data:`Outcome`:

- :data:`ACK`: done; the message is removed.
- :data:`REQUEUE`: try again later (rejected with requeue).
- ``DeadLetter(reason)``: never processable; it goes to the dead-letter queue with the
  reason (and, optionally, ``headers`` of the handler's own, e.g. a job's id).

A message that breaks the contract (unknown or missing type, a body that is not JSON,
JSON that does not match the schema, a type the queue does not accept) never reaches
the handler: it is dead-lettered with the reason, and the consumer goes on; an
``on_rejected`` hook hears of it (with the sender's ``reply_to``), e.g. to answer a
command whose body could not be read. A handler that raises is logged and the message
requeued; the queue's delivery limit then dead-letters a message that keeps failing (a
poison message), so nothing loops forever.

Dead-lettering with a reason: RabbitMQ's own dead-lettering (reject without requeue)
keeps the message's headers but cannot add any, so the reason would be lost. Instead the
consumer republishes the message, unchanged but for ``x-safepoint-*`` headers (reason,
original type, queue, exchange and routing key, then any headers the ``DeadLetter``
carries), to the dead-letter exchange with the
routing key of the queue's dead-letter queue, waits for the broker's confirm, and only
then acks the original. If that publish fails, the original is requeued: a message is
never lost, at worst dead-lettered twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import aio_pika
import aiormq.exceptions
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    ConsumerTag,
    HeadersType,
)

from safepoint import metrics, tracing
from safepoint.contract.base import Message
from safepoint.contract.channels import Topology
from safepoint.contract.commands import CommandReply
from safepoint.contract.envelope import (
    CONTENT_TYPE,
    ORIGINAL_EXCHANGE_HEADER,
    ORIGINAL_QUEUE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    ORIGINAL_TYPE_HEADER,
    REASON_HEADER,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    decode,
)
from safepoint.errors import BrokerUnavailable, ContractViolation, MessagingError
from safepoint.ids import new_id
from safepoint.messaging.publisher import HeaderValue, Publisher

logger = logging.getLogger(__name__)

CANCEL_TIMEOUT = 5.0
"""Seconds to wait for the broker to confirm a consumer's cancellation at shutdown."""

MAX_REASON_LENGTH: Final = 2000
"""Longer reasons are cut short, so the header stays well within a frame."""


def dead_letter_headers(
    reason: str, *, message_type: str, queue: str, exchange: str, routing_key: str
) -> dict[str, HeaderValue]:
    """The headers a dead-lettered copy carries: why, and where the message was."""
    return {
        REASON_HEADER: reason[:MAX_REASON_LENGTH],
        ORIGINAL_TYPE_HEADER: message_type,
        ORIGINAL_QUEUE_HEADER: queue,
        ORIGINAL_EXCHANGE_HEADER: exchange,
        ORIGINAL_ROUTING_KEY_HEADER: routing_key,
    }


_ACCEPTED_ENCODINGS = frozenset({"", "identity", "utf-8", "utf8"})


# --------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    """The message was handled: remove it."""


@dataclass(frozen=True, slots=True)
class Requeue:
    """The message could not be handled now: deliver it again later."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """The message can never be handled: move it to the dead-letter queue with ``reason``.

    ``headers`` are added to the dead-lettered copy (e.g. ``x-safepoint-job-id``); they
    cannot replace the reason and origin headers the consumer sets.
    """

    reason: str
    headers: Mapping[str, HeaderValue] = field(default_factory=dict, hash=False)


Outcome = Ack | Requeue | DeadLetter
"""What a handler decided about a message."""

ACK: Final = Ack()
REQUEUE: Final = Requeue()
DEAD_LETTER: Final = DeadLetter
"""``DEAD_LETTER(reason)``: the same as ``DeadLetter(reason)``."""


# --------------------------------------------------------------------------------------
# What a handler gets
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A decoded delivery: the contract message and the AMQP properties that matter.

    ``delivery_count`` counts earlier deliveries of this message (RabbitMQ's
    ``x-delivery-count`` on quorum queues; 0 on the first delivery).
    """

    message: Message
    message_type: str
    message_id: str | None
    correlation_id: str | None
    reply_to: str | None
    queue: str
    exchange: str
    routing_key: str
    redelivered: bool
    delivery_count: int
    timestamp: datetime | None
    headers: Mapping[str, object] = field(default_factory=dict)

    @property
    def trace_context(self) -> dict[str, str]:
        """The W3C ``traceparent``/``tracestate`` headers present, as strings."""
        context = {}
        for name in (TRACEPARENT_HEADER, TRACESTATE_HEADER):
            value = self.headers.get(name)
            if isinstance(value, bytes):
                value = value.decode("utf-8", errors="replace")
            if isinstance(value, str):
                context[name] = value
        return context


Handler = Callable[[IncomingMessage], Awaitable[Outcome]]
"""An async function deciding the :data:`Outcome` of each message."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A delivery that broke the contract and was dead-lettered before reaching the handler.

    ``reason`` is the dead letter's reason header; the AMQP properties are as received
    (``message_type`` is the raw ``type``, possibly missing or unknown).
    """

    reason: str
    message_type: str | None
    message_id: str | None
    correlation_id: str | None
    reply_to: str | None
    queue: str
    headers: Mapping[str, object] = field(default_factory=dict)


RejectionHandler = Callable[[Rejected], Awaitable[None]]
"""Told of each :class:`Rejected` delivery once it is dead-lettered, before it is acked."""


# --------------------------------------------------------------------------------------
# Consuming
# --------------------------------------------------------------------------------------


class Consumer:
    """A running consumer of one queue; :meth:`stop` it to shut down gracefully."""

    def __init__(
        self,
        queue: AbstractQueue,
        handler: Handler,
        publisher: Publisher,
        accepts: frozenset[str] | None,
        on_rejected: RejectionHandler | None = None,
    ) -> None:
        self._queue = queue
        self._handler = handler
        self._publisher = publisher
        self._accepts = accepts
        self._on_rejected = on_rejected
        self._tag: ConsumerTag | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def queue(self) -> str:
        """The queue's name."""
        return self._queue.name

    @property
    def in_flight(self) -> int:
        """How many messages are being handled right now."""
        return self._in_flight

    async def _start(self) -> None:
        self._tag = await self._queue.consume(self._on_message, no_ack=False)

    async def stop(self, *, timeout: float = 30.0) -> None:
        """Stop receiving, then wait up to ``timeout`` seconds for handlers to finish.

        Messages received but not settled when the wait ends are redelivered by the
        broker once the channel closes.
        """
        if self._tag is not None:
            tag, self._tag = self._tag, None
            channel = self._queue.channel
            # With the channel closed (the broker gone, the connection reconnecting) the
            # broker has dropped this consumer already: cancelling could only time out.
            closed = channel is None or getattr(channel, "is_closed", False)
            try:
                if not closed:
                    await asyncio.wait_for(self._queue.cancel(tag), min(timeout, CANCEL_TIMEOUT))
            except (
                aiormq.exceptions.AMQPError,
                aiormq.exceptions.ChannelInvalidStateError,
                ConnectionError,
                TimeoutError,
            ) as exc:
                logger.warning("could not cancel the consumer of %s: %r", self.queue, exc)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            logger.warning(
                "%d message(s) of %s still in a handler after %s s",
                self._in_flight,
                self.queue,
                timeout,
            )

    async def _on_message(self, raw: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._process(raw)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _process(self, raw: AbstractIncomingMessage) -> None:
        try:
            incoming = self._decode(raw)
        except ContractViolation as exc:
            logger.warning(
                "dead-lettering message %s (type %r) from %s: %s",
                raw.message_id,
                raw.type,
                self.queue,
                exc.reason,
            )
            settled = await self._dead_letter_or_requeue(raw, DeadLetter(exc.reason))
            if isinstance(settled, Ack):
                metrics.MESSAGES_REJECTED.labels(queue=self.queue).inc()
                await self._tell_rejected(raw, exc.reason)
            await self._ack_or_requeue(raw, settled)
            return
        with tracing.consumer_span(
            self.queue,
            incoming.headers,
            exchange=incoming.exchange,
            routing_key=incoming.routing_key,
            message_id=incoming.message_id,
            message_type=incoming.message_type,
            delivery_count=incoming.delivery_count,
        ) as span:
            try:
                result: object = await self._handler(incoming)
            except Exception as exc:
                logger.exception(
                    "handler failed on %s message %s from %s (delivery %d); requeueing it",
                    incoming.message_type,
                    incoming.message_id,
                    self.queue,
                    incoming.delivery_count + 1,
                )
                tracing.mark_failed(span, exc)
                result = REQUEUE
            if isinstance(result, Ack | Requeue | DeadLetter):
                outcome: Outcome = result
            else:
                logger.error(
                    "handler returned %r, not an Outcome, for message %s; requeueing it",
                    result,
                    incoming.message_id,
                )
                outcome = REQUEUE
            if isinstance(outcome, DeadLetter):
                tracing.mark_failed(span, reason=f"dead-lettered: {outcome.reason}")
            await self._settle(raw, outcome)

    def _decode(self, raw: AbstractIncomingMessage) -> IncomingMessage:
        content_type = (raw.content_type or CONTENT_TYPE).split(";")[0].strip().lower()
        if content_type != CONTENT_TYPE:
            raise ContractViolation(f"content type {raw.content_type!r} is not {CONTENT_TYPE}")
        if (raw.content_encoding or "").lower() not in _ACCEPTED_ENCODINGS:
            raise ContractViolation(
                f"content encoding {raw.content_encoding!r} is not supported; send plain UTF-8"
            )
        message = decode(raw.type, raw.body)
        if self._accepts is not None and str(message.message_type) not in self._accepts:
            raise ContractViolation(
                f"{message.message_type} is not accepted on {self.queue}; "
                f"it takes {', '.join(sorted(self._accepts))}"
            )
        headers: dict[str, object] = dict(raw.headers or {})
        count = headers.get("x-delivery-count")
        return IncomingMessage(
            message=message,
            message_type=str(message.message_type),
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
            reply_to=raw.reply_to,
            queue=self.queue,
            exchange=raw.exchange or "",
            routing_key=raw.routing_key or "",
            redelivered=bool(raw.redelivered),
            delivery_count=count if isinstance(count, int) else 0,
            timestamp=raw.timestamp,
            headers=headers,
        )

    async def _settle(self, raw: AbstractIncomingMessage, outcome: Outcome) -> None:
        await self._ack_or_requeue(raw, await self._dead_letter_or_requeue(raw, outcome))

    async def _dead_letter_or_requeue(
        self, raw: AbstractIncomingMessage, outcome: Outcome
    ) -> Ack | Requeue:
        """Carry out a dead letter: ACK once the copy is confirmed, REQUEUE if it failed."""
        if not isinstance(outcome, DeadLetter):
            return outcome
        try:
            await self._dead_letter(raw, outcome.reason, outcome.headers)
        except MessagingError as exc:
            logger.error(
                "could not dead-letter message %s from %s (%s); requeueing it",
                raw.message_id,
                self.queue,
                exc,
            )
            return REQUEUE
        return ACK

    async def _tell_rejected(self, raw: AbstractIncomingMessage, reason: str) -> None:
        """Hand a dead-lettered contract violation to the ``on_rejected`` hook; never raises."""
        if self._on_rejected is None:
            return
        rejected = Rejected(
            reason=reason,
            message_type=raw.type,
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
            reply_to=raw.reply_to,
            queue=self.queue,
            headers=dict(raw.headers or {}),
        )
        try:
            await self._on_rejected(rejected)
        except Exception:
            logger.exception("the on_rejected hook failed on message %s", raw.message_id)

    async def _ack_or_requeue(self, raw: AbstractIncomingMessage, outcome: Ack | Requeue) -> None:
        try:
            if isinstance(outcome, Ack):
                await raw.ack()
            else:
                await raw.reject(requeue=True)
        except (
            aiormq.exceptions.AMQPError,
            aiormq.exceptions.ChannelInvalidStateError,
            ConnectionError,
        ) as exc:
            # The channel is gone: the broker redelivers the message (at least once).
            logger.warning("could not settle message %s: %r", raw.message_id, exc)

    async def _dead_letter(
        self,
        raw: AbstractIncomingMessage,
        reason: str,
        extra: Mapping[str, HeaderValue] | None = None,
    ) -> None:
        """Republish ``raw`` with the reason to the dead-letter exchange (confirmed)."""
        topology = self._publisher.topology
        headers: HeadersType = dict(raw.headers or {})
        headers.update(extra or {})
        headers.update(
            dead_letter_headers(
                reason,
                message_type=raw.type or "",
                queue=self.queue,
                exchange=raw.exchange or "",
                routing_key=raw.routing_key or "",
            )
        )
        copy = aio_pika.Message(
            raw.body,
            headers=headers,
            content_type=raw.content_type,
            content_encoding=raw.content_encoding,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            priority=raw.priority,
            correlation_id=raw.correlation_id,
            reply_to=raw.reply_to,
            message_id=raw.message_id or new_id(),
            timestamp=raw.timestamp,
            type=raw.type,
            app_id=raw.app_id,
        )
        await self._publisher.send(
            topology.dead_letter_exchange,
            topology.dead_letter_queue(self.queue),
            copy,
            mandatory=True,
        )


async def consume(
    channel: AbstractChannel,
    queue_name: str,
    handler: Handler,
    *,
    prefetch: int,
    topology: Topology | None = None,
    accepts: tuple[type[Message], ...] | None = None,
    publisher: Publisher | None = None,
    on_rejected: RejectionHandler | None = None,
) -> Consumer:
    """Start consuming ``queue_name``: each message is decoded, handled and settled.

    Up to ``prefetch`` messages are handled concurrently (each in its own task).

    Args:
        channel: a channel with publisher confirms (for dead-lettering), e.g. from
            :func:`~safepoint.messaging.connection.open_channel`; its prefetch is set.
        queue_name: an existing queue (declare the topology first).
        handler: decides the outcome of each message.
        prefetch: the most unacknowledged messages at a time (above 1 for throughput).
        topology: where dead letters go; default names.
        accepts: the message types this queue takes; others are dead-lettered.
        publisher: publishes dead letters; by default one on ``channel``.
        on_rejected: told of each message that broke the contract, once it is
            dead-lettered (and before it is acked), e.g. to answer its ``reply_to``.
            Its failures are logged, never raised.

    Raises:
        MessagingError: the queue does not exist.
        BrokerUnavailable: the connection is lost.
    """
    if prefetch < 1:
        raise ValueError(f"prefetch must be at least 1, not {prefetch}")
    publisher = publisher or Publisher(channel, topology=topology)
    try:
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.get_queue(queue_name, ensure=True)
    except aiormq.exceptions.ChannelNotFoundEntity as exc:
        raise MessagingError(
            f"queue {queue_name!r} does not exist; declare the topology first ({exc})"
        ) from exc
    except (
        aiormq.exceptions.AMQPError,
        aiormq.exceptions.ChannelInvalidStateError,
        ConnectionError,
    ) as exc:
        raise BrokerUnavailable(f"cannot consume {queue_name!r}: {exc!r}") from exc
    types = None if accepts is None else frozenset(str(model.message_type) for model in accepts)
    consumer = Consumer(queue, handler, publisher, types, on_rejected)
    try:
        await consumer._start()
    except (
        aiormq.exceptions.AMQPError,
        aiormq.exceptions.ChannelInvalidStateError,
        ConnectionError,
    ) as exc:
        raise BrokerUnavailable(f"cannot consume {queue_name!r}: {exc!r}") from exc
    return consumer


async def reply(
    publisher: Publisher,
    incoming: IncomingMessage | Rejected,
    answer: CommandReply,
    *,
    headers: Mapping[str, HeaderValue] | None = None,
) -> bool:
    """Send ``answer`` to the command's ``reply_to``, with its ``correlation_id``.

    ``incoming`` is a handled command, or a :class:`Rejected` one (to say why it was
    refused).

    The reply goes through the default exchange, routed by queue name; if the asker's
    queue is gone the reply is dropped (not an error: the command itself was done).
    The correlation id is the command's ``correlation_id``, else its ``message_id``.

    Returns:
        Whether a reply was sent (``False`` when the command had no ``reply_to``).

    Raises:
        MessagingError: the broker did not confirm the reply.
    """
    if not incoming.reply_to:
        return False
    await publisher.publish(
        "",
        incoming.reply_to,
        answer,
        headers=headers,
        correlation_id=incoming.correlation_id or incoming.message_id,
        mandatory=False,
    )
    return True
