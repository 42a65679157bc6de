"""Fixtures for the engine's messaging runtime against a real RabbitMQ and database.

The services use the fixed ``safepoint.*`` names, so every test gets a RabbitMQ virtual
host of its own (``sp_<hex>``, made with ``rabbitmqctl`` and deleted afterwards): tests
never see each other's messages, nor those of services running on the same broker.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from safepoint import Engine, ManualClock
from safepoint.contract import Topology
from safepoint_engine.messaging_runtime import (
    MessagingOptions,
    MessagingRuntime,
    start_messaging,
)

T = TypeVar("T")
WAIT = 10.0
"""The longest any single step of a test waits for the broker."""
DELIVERY_LIMIT = 3
"""The work queues' delivery limit in these tests (poison messages die quickly)."""
COMMAND_TYPES = {
    "start": "safepoint.process-instance.start.v1",
    "correlate": "safepoint.message.correlate.v1",
    "complete-task": "safepoint.task.complete.v1",
    "complete-external-task": "safepoint.external-task.complete.v1",
    "fail-external-task": "safepoint.external-task.failure.v1",
    "set-job-retries": "safepoint.job.set-retries.v1",
}


def _unavailable(reason: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere (as the root conftest does)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing tool is a failure, not a skip)")
    pytest.skip(reason)


async def bounded(awaitable: Awaitable[T], seconds: float = WAIT) -> T:
    """Await with a time limit, so a broken test fails instead of hanging."""
    return await asyncio.wait_for(awaitable, seconds)


# --------------------------------------------------------------------------------------
# A virtual host per test
# --------------------------------------------------------------------------------------


def _rabbitmqctl() -> str:
    tool = shutil.which("rabbitmqctl")
    if tool is None:
        _unavailable("rabbitmqctl is not on PATH: cannot make a virtual host per test")
    return tool


def _run(*args: str) -> None:
    completed = subprocess.run(
        [_rabbitmqctl(), *args], capture_output=True, text=True, timeout=60, check=False
    )
    if completed.returncode != 0:
        _unavailable(f"rabbitmqctl {' '.join(args)} failed: {completed.stderr.strip()}")


@pytest.fixture(scope="session")
def vhost_deletions() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Virtual hosts being deleted in the background while the next tests run."""
    deletions: list[subprocess.Popen[bytes]] = []
    yield deletions
    failed = [process.args for process in deletions if process.wait(timeout=60) != 0]
    assert not failed, f"could not delete test virtual hosts: {failed}"


@pytest.fixture
def vhost_url(amqp_url: str, vhost_deletions: list[subprocess.Popen[bytes]]) -> Iterator[str]:
    """The AMQP URL of a new, empty virtual host on the test broker (deleted afterwards)."""
    name = f"sp_{secrets.token_hex(6)}"
    parts = urlsplit(amqp_url)
    _run("add_vhost", name)
    try:
        _run("set_permissions", "-p", name, parts.username or "guest", ".*", ".*", ".*")
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        deletion = subprocess.Popen(
            [_rabbitmqctl(), "delete_vhost", name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        vhost_deletions.append(deletion)


@pytest.fixture
def topology() -> Topology:
    """The production names (the vhost isolates them), with a small delivery limit."""
    return Topology(delivery_limit=DELIVERY_LIMIT)


# --------------------------------------------------------------------------------------
# Engine and runtime
# --------------------------------------------------------------------------------------


EngineFactory = Callable[..., Engine]


@pytest.fixture
def make_engine(database_url: str, clock: ManualClock) -> Iterator[EngineFactory]:
    """Makes engines on the test database (closed after the test); kwargs go to Engine."""
    engines: list[Engine] = []

    def make(**kwargs: Any) -> Engine:
        options: dict[str, Any] = {
            "clock": clock,
            "job_lease": timedelta(seconds=30),
            "node_name": "engine-1",
        }
        options.update(kwargs)
        engine = Engine(database_url, **options)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


Deployed = Callable[..., Callable[[Any], Engine]]


@pytest.fixture
def deployed(make_engine: EngineFactory) -> Deployed:
    """``deployed(*documents, **engine_kwargs)``: an engine factory for ``start_runtime``.

    The engine it makes has the relay as its ``on_commit`` and ``documents`` deployed.
    """

    def engine_factory(*documents: bytes, **kwargs: Any) -> Callable[[Any], Engine]:
        def factory(relay: Any) -> Engine:
            engine = make_engine(on_commit=relay, **kwargs)
            for number, document in enumerate(documents):
                engine.deploy(f"d{number}", {f"d{number}.bpmn": document})
            return engine

        return factory

    return engine_factory


@pytest.fixture
async def start_runtime(
    vhost_url: str, topology: Topology, make_engine: EngineFactory
) -> AsyncIterator[Callable[..., Awaitable[MessagingRuntime]]]:
    """Starts messaging runtimes on the test vhost (stopped after the test).

    Runtimes stop before the engines close (this fixture depends on ``make_engine``).

    ``await start_runtime(engine_factory, **options)``: ``engine_factory`` gets the
    relay; options override :class:`MessagingOptions` (fast polling by default). With
    ``None`` as the factory the runtime is connected only (no consumer, no dispatcher).
    """
    runtimes: list[MessagingRuntime] = []

    async def start(factory: Callable[[Any], Engine] | None, **overrides: Any) -> MessagingRuntime:
        options: dict[str, Any] = {
            "amqp_url": vhost_url,
            "connection_name": f"engine-test-{uuid.uuid4().hex[:6]}",
            "commands_prefetch": 4,
            "dispatch_interval": 0.05,
            "confirm_timeout": WAIT,
            "requeue_backoff": 0.0,
            "topology": topology,
        }
        options.update(overrides)
        if factory is None:
            runtime = await bounded(MessagingRuntime.connect(MessagingOptions(**options)))
        else:
            runtime = await bounded(start_messaging(factory, MessagingOptions(**options)), 60)
        runtimes.append(runtime)
        return runtime

    yield start
    for runtime in runtimes:
        await bounded(runtime.stop(timeout=5))


# --------------------------------------------------------------------------------------
# The broker, seen from another language
# --------------------------------------------------------------------------------------


class Broker:
    """A plain AMQP client on the test vhost: publishes raw commands, reads queues."""

    def __init__(self, channel: AbstractChannel, replies: AbstractQueue, topology: Topology):
        self.channel = channel
        self.replies = replies
        self.topology = topology

    async def send(
        self,
        kind: str,
        body: Mapping[str, object] | bytes,
        *,
        correlation_id: str | None = None,
        reply: bool = True,
        message_type: str | None = None,
        content_type: str = "application/json",
        message_id: str | None = None,
    ) -> None:
        """Publish a command as a worker in any language would: JSON bytes and properties.

        ``message_id`` is a new UUID unless given (the same one again: a redelivery).
        """
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        message = aio_pika.Message(
            payload,
            content_type=content_type,
            type=message_type or COMMAND_TYPES.get(kind, kind),
            reply_to=self.replies.name if reply else None,
            correlation_id=correlation_id,
            message_id=message_id or str(uuid.uuid4()),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        exchange = await bounded(self.channel.get_exchange(self.topology.commands_exchange))
        await bounded(exchange.publish(message, self.topology.commands_routing_key))

    async def next_message(self, queue_name: str, seconds: float = WAIT) -> AbstractIncomingMessage:
        """Take the next message of a queue (acked), waiting up to ``seconds``."""
        queue = await bounded(self.channel.get_queue(queue_name, ensure=True))
        return await self._next(queue, seconds)

    async def reply(self, seconds: float = WAIT) -> tuple[str | None, dict[str, Any]]:
        """The next reply: its correlation id and decoded body."""
        message = await self._next(self.replies, seconds)
        assert message.type == "safepoint.command.reply.v1"
        return message.correlation_id, json.loads(message.body)

    async def _next(self, queue: AbstractQueue, seconds: float) -> AbstractIncomingMessage:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            message = await bounded(queue.get(no_ack=True, fail=False))
            if message is not None:
                return message
            if loop.time() > deadline:
                raise AssertionError(f"no message arrived on {queue.name} within {seconds} s")
            await asyncio.sleep(0.02)

    async def drain(self, queue_name: str, quiet: float = 0.5) -> list[AbstractIncomingMessage]:
        """Every message of a queue until none came for ``quiet`` seconds."""
        queue = await bounded(self.channel.get_queue(queue_name, ensure=True))
        messages = []
        loop = asyncio.get_running_loop()
        last = loop.time()
        while loop.time() - last < quiet:
            message = await bounded(queue.get(no_ack=True, fail=False))
            if message is None:
                await asyncio.sleep(0.02)
                continue
            messages.append(message)
            last = loop.time()
        return messages


@pytest.fixture
async def broker(vhost_url: str, topology: Topology) -> AsyncIterator[Broker]:
    connection = await bounded(aio_pika.connect(vhost_url))
    try:
        channel = await bounded(connection.channel())
        replies = await bounded(channel.declare_queue(exclusive=True, auto_delete=True))
        yield Broker(channel, replies, topology)
    finally:
        await bounded(connection.close())
