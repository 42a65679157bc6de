"""Publishing with confirms: what arrives, and what is refused."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection

from safepoint.contract import CompleteTask, ExecuteJob, ProcessInstanceStarted, decode
from safepoint.errors import MessagingError
from safepoint.messaging import Outgoing, Publisher, Topology

if TYPE_CHECKING:
    from conftest import Probe

pytestmark = pytest.mark.anyio

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def job(number: int = 1) -> ExecuteJob:
    return ExecuteJob(
        job_id=f"job-{number}",
        process_instance_id="pi-1",
        process_definition_key="invoice",
        activity_id="SendInvoice",
        configuration="transition-create-scope",
        retries=3,
    )


async def test_a_published_message_arrives_persistent_typed_and_with_its_headers(
    publisher: Publisher, topology: Topology, probe: Probe
) -> None:
    message_id = await probe.bounded(
        publisher.publish(
            topology.jobs_exchange,
            topology.jobs_routing_key,
            job(),
            headers={"traceparent": TRACEPARENT, "tracestate": "vendor=1"},
            message_id="m-1",
            correlation_id="c-1",
        )
    )

    received = await probe.next_message(topology.jobs_queue)
    assert message_id == "m-1"
    assert received.message_id == "m-1"
    assert received.correlation_id == "c-1"
    assert received.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert received.content_type == "application/json"
    assert received.type == "safepoint.job.execute.v1"
    assert received.app_id == "safepoint-tests"
    assert received.timestamp is not None
    assert received.headers["traceparent"] == TRACEPARENT
    assert received.headers["tracestate"] == "vendor=1"
    assert decode(received.type, received.body) == job()


async def test_every_message_gets_a_unique_id_by_default(
    publisher: Publisher, topology: Topology, probe: Probe
) -> None:
    first = await probe.bounded(
        publisher.publish(topology.jobs_exchange, topology.jobs_routing_key, job())
    )
    second = await probe.bounded(
        publisher.publish(topology.jobs_exchange, topology.jobs_routing_key, job())
    )

    assert first != second
    assert {(await probe.next_message(topology.jobs_queue)).message_id for _ in range(2)} == {
        first,
        second,
    }


async def test_an_unroutable_job_or_command_is_an_error(
    publisher: Publisher, topology: Topology
) -> None:
    with pytest.raises(MessagingError, match="returned by the broker .*no queue is bound"):
        await publisher.publish(topology.jobs_exchange, "nowhere", job())
    with pytest.raises(MessagingError, match="returned by the broker"):
        await publisher.publish(topology.commands_exchange, "nowhere", CompleteTask(task_id="t"))

    # The channel is still usable afterwards.
    await publisher.publish(topology.jobs_exchange, topology.jobs_routing_key, job())


async def test_an_event_nobody_listens_to_is_dropped_without_error(
    publisher: Publisher, topology: Topology
) -> None:
    event = ProcessInstanceStarted(
        process_instance_id="pi-1",
        process_definition_id="invoice:1:x",
        process_definition_key="invoice",
        started_at="2026-01-01T10:00:00Z",
    )

    await publisher.publish(topology.events_exchange, event.routing_key, event)


async def test_publishing_to_a_missing_exchange_is_an_error_and_the_channel_recovers(
    publisher: Publisher, topology: Topology, probe: Probe
) -> None:
    with pytest.raises(MessagingError, match="declare the topology first"):
        await probe.bounded(publisher.publish(f"{topology.prefix}.missing", "x", job()))

    await probe.bounded(publisher.publish(topology.jobs_exchange, topology.jobs_routing_key, job()))
    assert (await probe.next_message(topology.jobs_queue)).type == "safepoint.job.execute.v1"


async def test_publish_many_confirms_a_whole_batch(
    publisher: Publisher, topology: Topology, probe: Probe
) -> None:
    batch = [
        Outgoing(topology.jobs_exchange, topology.jobs_routing_key, job(n)) for n in range(300)
    ]

    ids = await probe.bounded(publisher.publish_many(batch))

    assert len(set(ids)) == 300
    assert await probe.message_count(topology.jobs_queue) == 300


async def test_publish_many_reports_the_messages_that_failed(
    publisher: Publisher, topology: Topology, probe: Probe
) -> None:
    batch = [
        Outgoing(topology.jobs_exchange, topology.jobs_routing_key, job(1), message_id="ok-1"),
        Outgoing(topology.jobs_exchange, "nowhere", job(2), message_id="lost-2"),
        Outgoing(topology.jobs_exchange, topology.jobs_routing_key, job(3), message_id="ok-3"),
    ]

    with pytest.raises(MessagingError, match=r"1 of 3 messages were not confirmed \(lost-2\)"):
        await probe.bounded(publisher.publish_many(batch))

    assert await probe.message_count(topology.jobs_queue) == 2


async def test_a_publisher_needs_confirms(connection: AbstractRobustConnection) -> None:
    no_confirms = await connection.channel(publisher_confirms=False)

    with pytest.raises(ValueError, match="publisher_confirms"):
        Publisher(no_confirms)


async def test_unroutable_is_an_error_even_on_a_channel_that_does_not_raise_returns(
    connection: AbstractRobustConnection, topology: Topology, channel: object
) -> None:
    lenient = await connection.channel(publisher_confirms=True, on_return_raises=False)
    publisher = Publisher(lenient, topology=topology)

    with pytest.raises(MessagingError, match="returned by the broker"):
        await asyncio.wait_for(publisher.publish(topology.jobs_exchange, "nowhere", job()), 10)
