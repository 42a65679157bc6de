"""The engine service's RabbitMQ side, started and stopped by the app's lifespan.

It connects (a robust connection, which reconnects by itself), declares the topology,
and holds the publisher and the outbox relay, which the Engine needs as its
``on_commit`` hook. Once the Engine exists it starts the consumer of
``safepoint.commands`` and the dispatcher::

    runtime = await MessagingRuntime.connect(options)
    engine = Engine(url, on_commit=runtime.relay, job_lease=..., node_name=...)
    await runtime.start(engine)
    ...
    await runtime.stop()
    engine.close()

or, in one step, ``runtime = await start_messaging(make_engine, options)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from safepoint.contract import Topology
from safepoint.embedded import Engine
from safepoint.messaging import (
    Consumer,
    Publisher,
    connect,
    declare_topology,
    open_channel,
    redact,
)
from safepoint.messaging.outbox import OutboxRelay
from safepoint_engine.consumers import (
    DEFAULT_CONFLICT_ATTEMPTS,
    DEFAULT_REQUEUE_BACKOFF,
    CommandHandler,
    consume_commands,
)
from safepoint_engine.dispatcher import (
    DEFAULT_BATCH,
    DEFAULT_COMMAND_RETENTION,
    DEFAULT_POLL_INTERVAL,
    Dispatcher,
)

logger = logging.getLogger(__name__)

DEFAULT_CONNECTION_NAME: Final = "safepoint-engine"
"""The connection's name in RabbitMQ's management UI."""

DEFAULT_COMMANDS_PREFETCH: Final = 16
"""Commands handled at once (each in a worker thread)."""


@dataclass(frozen=True, slots=True)
class MessagingOptions:
    """How the engine service uses RabbitMQ.

    Args:
        amqp_url: ``amqp://user:password@host:port/vhost``.
        connection_name: the connection's name in RabbitMQ (e.g. with the host name).
        commands_prefetch: the most commands handled at once.
        dispatch_interval: seconds between dispatcher rounds that found little to do.
        dispatch_batch: the most jobs (and external tasks) the dispatcher leases a round.
        confirm_timeout: seconds a publish waits for the broker's confirm.
        conflict_attempts: runs of a command that keeps meeting optimistic locking
            conflicts before it is dead-lettered.
        requeue_backoff: seconds a command that failed unexpectedly is held before it
            is requeued (doubled per redelivery).
        topology: exchange and queue names (``safepoint.*``) and the delivery limit.
        command_retention: how long processed commands are remembered (a command
            redelivered within it is answered, not run again).
    """

    amqp_url: str
    connection_name: str = DEFAULT_CONNECTION_NAME
    commands_prefetch: int = DEFAULT_COMMANDS_PREFETCH
    dispatch_interval: float = DEFAULT_POLL_INTERVAL
    dispatch_batch: int = DEFAULT_BATCH
    confirm_timeout: float = 30.0
    conflict_attempts: int = DEFAULT_CONFLICT_ATTEMPTS
    requeue_backoff: float = DEFAULT_REQUEUE_BACKOFF
    topology: Topology = field(default_factory=Topology)
    command_retention: timedelta = DEFAULT_COMMAND_RETENTION


class MessagingRuntime:
    """A connection to RabbitMQ with the engine's publisher, relay, consumer and dispatcher.

    Make one with :meth:`connect` (in the event loop that serves the app), hand
    :attr:`relay` to the Engine as ``on_commit``, then :meth:`start` with the Engine and
    :meth:`stop` at shutdown. The runtime never closes the Engine.
    """

    def __init__(
        self,
        options: MessagingOptions,
        connection: AbstractRobustConnection,
        channel: AbstractRobustChannel,
        publisher: Publisher,
        relay: OutboxRelay,
    ) -> None:
        """Use :meth:`connect` instead."""
        self._options = options
        self._connection = connection
        self._channel = channel
        self._publisher = publisher
        self._relay = relay
        self._consumer: Consumer | None = None
        self._dispatcher: Dispatcher | None = None
        self._engine: Engine | None = None

    @classmethod
    async def connect(cls, options: MessagingOptions) -> MessagingRuntime:
        """Connect, declare the topology and make the publisher and the outbox relay.

        Raises:
            BrokerUnavailable: RabbitMQ cannot be reached or refused the login.
            MessagingError: the topology exists with other arguments.
        """
        topology = options.topology
        connection = await connect(options.amqp_url, name=options.connection_name)
        try:
            channel = await open_channel(connection)
            await declare_topology(channel, topology)
            publisher = Publisher(
                channel,
                topology=topology,
                app_id=options.connection_name,
                confirm_timeout=options.confirm_timeout,
            )
            relay = OutboxRelay(
                publisher,
                asyncio.get_running_loop(),
                topology=topology,
                timeout=options.confirm_timeout,
            )
        except BaseException:
            await connection.close()
            raise
        logger.info("connected to RabbitMQ at %s", redact(options.amqp_url))
        return cls(options, connection, channel, publisher, relay)

    @property
    def relay(self) -> OutboxRelay:
        """The Engine's ``on_commit`` hook: publishes what each committed command created."""
        return self._relay

    @property
    def publisher(self) -> Publisher:
        """The publisher (with confirms) the relay, the dispatcher and replies use."""
        return self._publisher

    @property
    def engine(self) -> Engine | None:
        """The Engine given to :meth:`start` (``None`` before)."""
        return self._engine

    @property
    def connected(self) -> bool:
        """Whether the connection to RabbitMQ is open right now (for a readiness probe)."""
        return not self._connection.is_closed

    async def start(self, engine: Engine) -> None:
        """Start consuming ``safepoint.commands`` and dispatching due jobs with ``engine``.

        ``engine`` should have been made with ``on_commit=runtime.relay`` and a
        ``job_lease``, so that its new jobs are published once, by the relay.

        Raises:
            BrokerUnavailable: the connection is lost.
        """
        if self._engine is not None:
            raise RuntimeError("the messaging runtime is started already")
        options = self._options
        consumer_channel = await open_channel(self._connection)
        handler = CommandHandler(
            engine,
            self._publisher,
            relay=self._relay,
            topology=options.topology,
            conflict_attempts=options.conflict_attempts,
            requeue_backoff=options.requeue_backoff,
        )
        self._consumer = await consume_commands(
            consumer_channel,
            handler,
            prefetch=options.commands_prefetch,
            publisher=self._publisher,
            topology=options.topology,
        )
        self._dispatcher = Dispatcher(
            engine,
            self._relay,
            poll_interval=options.dispatch_interval,
            batch=options.dispatch_batch,
            command_retention=options.command_retention,
        )
        self._dispatcher.start()
        self._engine = engine
        logger.info(
            "consuming %s (prefetch %d) and dispatching as %s",
            options.topology.commands_queue,
            options.commands_prefetch,
            engine.node_name,
        )

    async def stop(self, *, timeout: float = 20.0) -> None:
        """Stop consuming (waiting for commands in hand), stop dispatching, disconnect.

        Idempotent, and bounded by ``timeout`` in all, whatever the broker does (it may
        be gone, with the connection trying to come back): a service must stop within
        its orchestrator's grace period. Commands not settled by then are redelivered.
        Call it before closing the Engine.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def left() -> float:
            return max(0.1, deadline - loop.time())

        consumer, self._consumer = self._consumer, None
        dispatcher, self._dispatcher = self._dispatcher, None
        if consumer is not None:
            await consumer.stop(timeout=left())
        if dispatcher is not None:
            await dispatcher.stop(timeout=left())
        if not self._connection.is_closed:
            try:
                await asyncio.wait_for(self._connection.close(), left())
                logger.info("disconnected from RabbitMQ")
            except (TimeoutError, OSError) as exc:
                logger.warning("RabbitMQ connection not closed cleanly: %r", exc)


async def start_messaging(
    engine_factory: Callable[[OutboxRelay], Engine], options: MessagingOptions
) -> MessagingRuntime:
    """Connect, make the Engine with the relay as its hook, then consume and dispatch.

    Args:
        engine_factory: makes the Engine from the relay (its ``on_commit``); it runs in
            a worker thread (migrating the database may take a while).
        options: how to use RabbitMQ.

    Returns:
        The started runtime; its :attr:`~MessagingRuntime.engine` is the Engine made.
        Stop the runtime, then close the Engine.

    Raises:
        BrokerUnavailable: RabbitMQ cannot be reached.
    """
    runtime = await MessagingRuntime.connect(options)
    engine: Engine | None = None
    try:
        engine = await asyncio.to_thread(engine_factory, runtime.relay)
        await runtime.start(engine)
    except BaseException:
        await runtime.stop()
        if engine is not None:
            engine.close()
        raise
    return runtime
