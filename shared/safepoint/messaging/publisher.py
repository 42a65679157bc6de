"""Publishing contract messages with publisher confirms: a publish returns once stored.

Every message is persistent JSON with its contract ``type``, a unique ``message_id`` and
a ``timestamp``. A publish waits for the broker's confirm; a nack, a return (a message
to an exchange that must route it found no queue: ``mandatory``) or no answer in time
raises :class:`~safepoint.errors.MessagingError`. Throughput comes from having many
publishes in flight at once (:meth:`Publisher.publish_many`), not from skipping confirms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import aio_pika
import aiormq.abc
import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractMessage, AbstractRobustChannel

from safepoint import tracing
from safepoint.contract.base import Message
from safepoint.contract.channels import Topology
from safepoint.contract.envelope import CONTENT_TYPE, encode
from safepoint.errors import BrokerUnavailable, MessagingError
from safepoint.ids import new_id

HeaderValue = str | int | float | bool | bytes | None
"""What a header may hold here (a subset of AMQP field values)."""

DEFAULT_CONFIRM_TIMEOUT: Final = 30.0
"""Seconds a publish waits for the broker's confirm (or for a lost connection to return)."""
_REOPEN_POLL = 0.02


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish with :meth:`Publisher.publish_many` (same meaning as there)."""

    exchange: str
    routing_key: str
    message: Message
    headers: Mapping[str, HeaderValue] | None = None
    message_id: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    mandatory: bool | None = None


class Publisher:
    """Publishes contract messages on a channel opened with publisher confirms.

    Args:
        channel: a channel with publisher confirms (see
            :func:`~safepoint.messaging.connection.open_channel`).
        topology: decides which exchanges must route (``mandatory``); default names.
        app_id: the AMQP ``app_id`` of every message (e.g. the service's name).
        confirm_timeout: seconds to wait for each confirm.
    """

    def __init__(
        self,
        channel: AbstractChannel,
        *,
        topology: Topology | None = None,
        app_id: str | None = None,
        confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT,
    ) -> None:
        if not channel.publisher_confirms:
            raise ValueError("a Publisher needs a channel opened with publisher_confirms=True")
        self._channel = channel
        self._topology = topology or Topology()
        self._app_id = app_id
        self._confirm_timeout = confirm_timeout
        self._robust_channel = channel if isinstance(channel, AbstractRobustChannel) else None

    @property
    def topology(self) -> Topology:
        """The names this publisher routes by."""
        return self._topology

    @property
    def channel(self) -> AbstractChannel:
        """The channel this publisher publishes on."""
        return self._channel

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        message: Message,
        *,
        headers: Mapping[str, HeaderValue] | None = None,
        message_id: str | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        mandatory: bool | None = None,
    ) -> str:
        """Publish ``message`` and wait until the broker has it; return its ``message_id``.

        Args:
            exchange: the exchange's name (``""``: the default exchange, by queue name).
            routing_key: the routing key.
            message: the contract message; its ``type`` and JSON body come from it.
            headers: AMQP headers, e.g. ``traceparent`` and ``tracestate``.
            message_id: a unique id; a new UUID when not given.
            correlation_id: to relate a reply to its command.
            reply_to: where the consumer should send a reply.
            mandatory: whether an unroutable message is an error; by default it is
                for the jobs, commands, external and dead-letter exchanges.

        Raises:
            MessagingError: the message was returned unroutable, nacked, or not
                confirmed in time.
            BrokerUnavailable: the connection was lost.
        """
        body, type_name = encode(message)
        message_id = message_id or new_id()
        amqp_headers: dict[str, Any] = dict(headers) if headers else {}
        with tracing.producer_span(
            exchange,
            routing_key,
            amqp_headers,
            message_id=message_id,
            message_type=type_name,
            correlation_id=correlation_id,
            body_size=len(body),
        ):
            # The properties aio-pika's Message would build, without building the Message.
            properties = aiormq.spec.Basic.Properties(
                app_id=self._app_id,
                content_type=CONTENT_TYPE,
                correlation_id=correlation_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers=amqp_headers,
                message_id=message_id,
                message_type=type_name,
                priority=0,
                reply_to=reply_to,
                timestamp=datetime.now(UTC),
            )
            await self._confirmed(exchange, routing_key, body, properties, mandatory)
        return message_id

    async def publish_many(self, messages: Iterable[Outgoing]) -> list[str]:
        """Publish a batch concurrently and wait for every confirm; return the message ids.

        Every message is attempted even when some fail; messages confirmed are in the
        broker whatever happens to the others.

        Raises:
            MessagingError: at least one message failed; the error lists their ids and
                the first reason. Publishing the whole batch again is safe (consumers
                deduplicate), publishing only the failed ones is cheaper.
        """
        batch = [(item, item.message_id or new_id()) for item in messages]
        if len(batch) == 1:
            # The common case (one job message): awaited here, without a task of its own.
            results = [await self._attempt(*batch[0])]
        else:
            results = await asyncio.gather(*(self._attempt(*entry) for entry in batch))
        failures = [
            (message_id, result)
            for (_, message_id), result in zip(batch, results, strict=True)
            if result is not None
        ]
        if failures:
            ids = ", ".join(message_id for message_id, _ in failures)
            raise MessagingError(
                f"{len(failures)} of {len(batch)} messages were not confirmed ({ids}); "
                f"first reason: {failures[0][1]}"
            ) from failures[0][1]
        return [message_id for _, message_id in batch]

    async def _attempt(self, item: Outgoing, message_id: str) -> Exception | None:
        """Publish one message of a batch; what failed it, or ``None`` once it is confirmed."""
        try:
            await self.publish(
                item.exchange,
                item.routing_key,
                item.message,
                headers=item.headers,
                message_id=message_id,
                correlation_id=item.correlation_id,
                reply_to=item.reply_to,
                mandatory=item.mandatory,
            )
        except Exception as exc:  # reported with the batch's other failures
            return exc
        return None

    async def send(
        self,
        exchange: str,
        routing_key: str,
        message: AbstractMessage,
        *,
        mandatory: bool | None = None,
    ) -> None:
        """Publish an AMQP message as it is (e.g. a copy of a delivery) and wait for its confirm.

        ``message`` must have a ``message_id``: the broker returns unroutable messages by
        it. Same errors as :meth:`publish`.
        """
        if message.message_id is None:
            raise ValueError("a message to publish needs a message_id")
        await self._confirmed(exchange, routing_key, message.body, message.properties, mandatory)

    async def _confirmed(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: aiormq.spec.Basic.Properties,
        mandatory: bool | None,
    ) -> None:
        """Publish and wait for the confirm; the broker's answers as our errors."""
        if mandatory is None:
            mandatory = self._topology.must_route(exchange)
        try:
            # asyncio.timeout, not wait_for: no task of its own per message
            async with asyncio.timeout(self._confirm_timeout):
                await self._publish(exchange, routing_key, body, properties, mandatory)
        except aiormq.exceptions.PublishError as exc:
            raise MessagingError(
                f"{_what(exchange, routing_key, properties)} was returned by the broker "
                f"({exc.args[0] if exc.args else exc}): no queue is bound for it; declare the "
                "topology (or the external topic) first"
            ) from exc
        except aiormq.exceptions.DeliveryError as exc:
            raise MessagingError(
                f"the broker refused (nacked) {_what(exchange, routing_key, properties)}: {exc}"
            ) from exc
        except aiormq.exceptions.ChannelNotFoundEntity as exc:
            raise MessagingError(
                f"cannot publish {_what(exchange, routing_key, properties)}: {exc}; "
                "declare the topology first"
            ) from exc
        except TimeoutError as exc:
            raise MessagingError(
                f"no confirm for {_what(exchange, routing_key, properties)} within "
                f"{self._confirm_timeout} s; it may or may not be stored, publish it again"
            ) from exc
        except (
            aiormq.exceptions.AMQPError,
            aiormq.exceptions.ChannelInvalidStateError,
            ConnectionError,
        ) as exc:
            raise BrokerUnavailable(
                "lost the connection to RabbitMQ publishing "
                f"{_what(exchange, routing_key, properties)}: {exc!r}"
            ) from exc

    async def _publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: aiormq.spec.Basic.Properties,
        mandatory: bool,
    ) -> None:
        channel = self._channel
        robust = self._robust_channel
        if robust is not None:
            # The broker closed the channel (e.g. after a publish to a missing exchange)
            # or the connection is being restored: wait until aio-pika has reopened it.
            # (The caller bounds the wait.)
            while robust.is_closed:
                await robust.ready()
                if robust.is_closed:
                    await asyncio.sleep(_REOPEN_POLL)
        elif channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError(f"{channel!r} is closed")
        # Straight to aiormq's channel, as aio-pika's Exchange.publish does in the end:
        # a contract message needs no Message object nor Exchange object of its own.
        underlay = await channel.get_underlay_channel()
        result = await underlay.basic_publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            properties=properties,
            mandatory=mandatory,
        )
        if isinstance(result, aiormq.abc.DeliveredMessage):
            # Returned on a channel without on_return_raises: unroutable all the same.
            raise aiormq.exceptions.PublishError(result, result.delivery)


def _what(exchange: str, routing_key: str, properties: aiormq.spec.Basic.Properties) -> str:
    """The message an error is about, in words."""
    return (
        f"message {properties.message_id} ({properties.message_type}) to exchange "
        f"{exchange!r} with routing key {routing_key!r}"
    )
