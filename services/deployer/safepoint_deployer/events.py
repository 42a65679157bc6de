"""Publishing ``deployment.created`` to ``safepoint.events`` after a deployment commits."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from aio_pika.abc import AbstractRobustConnection

from safepoint.contract import DeploymentCreated, Topology
from safepoint.errors import SafepointError
from safepoint.messaging import Publisher, connect, declare_topology, open_channel

logger = logging.getLogger(__name__)


class EventPublisher:
    """The deployer's publisher of events, usable from the request's worker thread."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        publisher: Publisher,
        loop: asyncio.AbstractEventLoop,
        topology: Topology,
    ) -> None:
        """Publish through ``publisher`` on ``loop``."""
        self._connection = connection
        self._publisher = publisher
        self._loop = loop
        self._topology = topology

    @classmethod
    async def connect(cls, amqp_url: str, topology: Topology | None = None) -> EventPublisher:
        """Connect (robustly), declare the topology, open a confirming channel."""
        topology = topology or Topology()
        name = f"deployer@{socket.gethostname()}:{os.getpid()}"
        connection = await connect(amqp_url, name=name)
        channel = await open_channel(connection)
        await declare_topology(channel, topology)
        publisher = Publisher(channel, topology=topology, app_id="safepoint-deployer")
        return cls(connection, publisher, asyncio.get_running_loop(), topology)

    def publish_from_thread(self, event: DeploymentCreated) -> None:
        """Publish ``event`` and wait for the confirm; a failure is logged, not raised.

        The deployment is committed already; listeners that missed the event can read
        ``GET /engine-rest/deployment``.
        """
        future = asyncio.run_coroutine_threadsafe(
            self._publisher.publish(self._topology.events_exchange, event.routing_key, event),
            self._loop,
        )
        try:
            future.result(30)
        except (SafepointError, TimeoutError, ConnectionError) as exc:
            future.cancel()
            logger.warning(
                "publishing deployment.created for %s failed: %s", event.deployment_id, exc
            )

    async def close(self) -> None:
        """Close the connection."""
        await self._connection.close()
