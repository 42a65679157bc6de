"""Fixtures for messaging tests against a real RabbitMQ, each test on names of its own.

Every test gets a :class:`Topology` with a unique prefix (``test<hex>``), so it never
touches the ``safepoint.*`` topology that services or other tests use; its queues and
exchanges are deleted afterwards. The delivery limit is 3, to see poison messages
dead-lettered quickly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from safepoint.messaging import Publisher, Topology, connect, declare_topology, open_channel

T = TypeVar("T")
WAIT = 10.0
"""The longest any single step of a test may wait for the broker."""


@pytest.fixture
def topology() -> Topology:
    return Topology(prefix=f"test{uuid.uuid4().hex[:8]}", delivery_limit=3)


@pytest.fixture
def external_topics() -> list[str]:
    """Topics a test declared queues for; their queues are deleted after the test."""
    return []


async def bounded(awaitable: Awaitable[T], seconds: float = WAIT) -> T:
    """Await with a time limit, so a broken test fails instead of hanging."""
    return await asyncio.wait_for(awaitable, seconds)


@pytest.fixture
async def connection(
    amqp_url: str, topology: Topology, external_topics: list[str]
) -> AsyncIterator[AbstractRobustConnection]:
    connection = await bounded(
        connect(amqp_url, name=f"safepoint-test-{topology.prefix}", reconnect_interval=0.5)
    )
    try:
        yield connection
    finally:
        await bounded(connection.close())
        await bounded(_delete_topology(amqp_url, topology, external_topics))


async def _delete_topology(url: str, topology: Topology, topics: list[str]) -> None:
    admin = await aio_pika.connect(url)
    try:
        channel = await admin.channel()
        names = [q.name for q in topology.queues]
        names += [topology.external_queue(topic) for topic in topics]
        for name in names:
            await channel.queue_delete(name)
        for exchange in topology.exchanges:
            await channel.exchange_delete(exchange.name)
    finally:
        await admin.close()


@pytest.fixture
async def channel(connection: AbstractRobustConnection, topology: Topology) -> AbstractChannel:
    channel = await bounded(open_channel(connection))
    await bounded(declare_topology(channel, topology))
    return channel


@pytest.fixture
def publisher(channel: AbstractChannel, topology: Topology) -> Publisher:
    return Publisher(channel, topology=topology, app_id="safepoint-tests", confirm_timeout=WAIT)


@pytest.fixture
async def raw_channel(connection: AbstractRobustConnection) -> AbstractChannel:
    """A plain channel to look at queues (and publish as another language would)."""
    return await bounded(connection.channel())


class Probe:
    """Looks at the broker the way an operator would, with every wait bounded."""

    def __init__(self, channel: AbstractChannel) -> None:
        self.channel = channel

    @staticmethod
    async def bounded(awaitable: Awaitable[T], seconds: float = WAIT) -> T:
        """Await with a time limit, so a broken test fails instead of hanging."""
        return await bounded(awaitable, seconds)

    async def next_message(self, queue_name: str, seconds: float = WAIT) -> AbstractIncomingMessage:
        """Take the next message from a queue (acked), waiting up to ``seconds`` for one."""
        queue = await bounded(self.channel.get_queue(queue_name, ensure=True))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            message = await bounded(queue.get(no_ack=True, fail=False))
            if message is not None:
                return message
            if loop.time() > deadline:
                raise AssertionError(f"no message arrived on {queue_name} within {seconds} s")
            await asyncio.sleep(0.02)

    async def message_count(self, queue_name: str) -> int:
        """How many messages are ready in a queue."""
        queue = await bounded(self.channel.declare_queue(queue_name, passive=True))
        count = queue.declaration_result.message_count
        assert count is not None
        return count


@pytest.fixture
def probe(raw_channel: AbstractChannel) -> Probe:
    return Probe(raw_channel)
