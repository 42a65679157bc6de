"""Fixtures for the job-executor's tests: an engine with a scriptable delegate, a broker.

The RabbitMQ tests use a :class:`Topology` with a unique prefix (``test<hex>``), deleted
afterwards, so they never touch the ``safepoint.*`` names services and other tests use.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from bpmn_doc import definitions, element, flow, process, retry_time_cycle

from safepoint import Engine, Job, ManualClock
from safepoint.errors import NotFound, OptimisticLockError
from safepoint.messaging import Publisher, Topology, connect, declare_topology, open_channel

T = TypeVar("T")
WAIT = 10.0


def payment(cycle: str | None = None) -> bytes:
    """start → ``charge`` (asyncBefore, delegate ``charge``) → ``end``."""
    return definitions(
        process(
            "payment",
            element("startEvent", "start"),
            flow("start", "charge"),
            element(
                "serviceTask",
                "charge",
                extensions=retry_time_cycle(cycle) if cycle else "",
                camunda__asyncBefore="true",
                camunda__delegateExpression="${charge}",
            ),
            flow("charge", "end"),
            element("endEvent", "end"),
        )
    )


class Charge:
    """The ``charge`` delegate: succeeds, or raises what ``mode`` says."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.calls = 0
        self.hook: Callable[[Any], None] | None = None  # runs first (to hold a run, say)

    def __call__(self, execution: Any) -> None:
        self.calls += 1
        if self.hook is not None:
            self.hook(execution)
        if self.mode == "fail":
            raise ValueError(f"card declined for {execution.business_key}")
        if self.mode == "conflict":
            raise OptimisticLockError("process instance was updated by another transaction")
        if self.mode == "not-found":
            raise NotFound("customer", "C-1")
        if self.mode == "exit":
            raise SystemExit(3)


@pytest.fixture
def charge() -> Charge:
    return Charge()


@pytest.fixture
def engine(database_url: str, clock: ManualClock, charge: Charge) -> Iterator[Engine]:
    """An engine on a fresh database (SQLite and PostgreSQL) whose ``charge`` is scripted."""
    with Engine(database_url, delegates={"charge": charge}, clock=clock) as instance:
        yield instance


StartPayment = Callable[..., tuple[str, Job]]


@pytest.fixture
def start_payment(engine: Engine) -> StartPayment:
    """``start_payment(cycle=None)``: deploy ``payment``, start it; (instance id, its job)."""

    def start(cycle: str | None = None) -> tuple[str, Job]:
        engine.deploy("payment", {"payment.bpmn": payment(cycle)})
        instance = engine.start_process_instance_by_key("payment", business_key="ORDER-7")
        (job,) = engine.jobs(instance.id)
        return instance.id, job

    return start


# --------------------------------------------------------------------------------------
# RabbitMQ
# --------------------------------------------------------------------------------------


async def bounded(awaitable: Awaitable[T], seconds: float = WAIT) -> T:
    """Await with a time limit, so a broken test fails instead of hanging."""
    return await asyncio.wait_for(awaitable, seconds)


@pytest.fixture
def topology() -> Topology:
    return Topology(prefix=f"test{uuid.uuid4().hex[:8]}", delivery_limit=3)


@pytest.fixture
async def connection(amqp_url: str, topology: Topology) -> AsyncIterator[AbstractRobustConnection]:
    connection = await bounded(connect(amqp_url, name=f"test-{topology.prefix}"))
    try:
        yield connection
    finally:
        await bounded(connection.close())
        await bounded(delete_topology(amqp_url, topology))


async def delete_topology(url: str, topology: Topology) -> None:
    admin = await aio_pika.connect(url)
    try:
        channel = await admin.channel()
        for queue in topology.queues:
            await channel.queue_delete(queue.name)
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
    return Publisher(channel, topology=topology, app_id="test", confirm_timeout=WAIT)


@pytest.fixture
async def plain_channel(amqp_url: str) -> AsyncIterator[AbstractChannel]:
    """A channel on a plain connection, to look at queues as an operator would."""
    connection = await aio_pika.connect(amqp_url)
    try:
        yield await connection.channel()
    finally:
        await connection.close()
