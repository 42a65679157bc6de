"""Declaring the topology: idempotent, and refusing a clash with what exists."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from safepoint.contract import ExternalTaskCreated
from safepoint.errors import MessagingError
from safepoint.messaging import (
    Publisher,
    Topology,
    declare_external_topic,
    declare_topology,
    open_channel,
)

if TYPE_CHECKING:
    from conftest import Probe

pytestmark = pytest.mark.anyio


async def test_declaring_twice_is_a_no_op(
    channel: AbstractChannel, topology: Topology, probe: Probe
) -> None:
    await probe.bounded(declare_topology(channel, topology))
    await probe.bounded(declare_topology(channel, topology))

    for queue in topology.queues:
        assert await probe.message_count(queue.name) == 0


async def test_a_queue_with_other_arguments_is_refused_with_its_name(
    channel: AbstractChannel,
    connection: AbstractRobustConnection,
    topology: Topology,
    probe: Probe,
) -> None:
    other = dataclasses.replace(topology, delivery_limit=topology.delivery_limit + 1)
    fresh = await probe.bounded(open_channel(connection))

    with pytest.raises(MessagingError, match=rf"queue '{topology.jobs_queue}' exists with other"):
        await probe.bounded(declare_topology(fresh, other))


async def test_an_external_topic_queue_is_declared_on_demand_and_bound_by_topic(
    channel: AbstractChannel,
    publisher: Publisher,
    topology: Topology,
    external_topics: list[str],
    probe: Probe,
) -> None:
    external_topics.append("send.invoice")
    task = ExternalTaskCreated(
        external_task_id="et-1",
        topic="send.invoice",
        process_instance_id="pi-1",
        process_definition_key="invoice",
        activity_id="SendInvoice",
    )
    with pytest.raises(MessagingError, match="returned"):
        await probe.bounded(publisher.publish(topology.external_exchange, "send.invoice", task))

    name = await probe.bounded(declare_external_topic(channel, "send.invoice", topology))
    assert name == f"{topology.prefix}.external.send.invoice"
    assert name == await probe.bounded(declare_external_topic(channel, "send.invoice", topology))
    await probe.bounded(publisher.publish(topology.external_exchange, "send.invoice", task))

    received = await probe.next_message(name)
    assert received.type == "safepoint.external-task.created.v1"
    assert received.routing_key == "send.invoice"


async def test_a_wildcard_topic_is_refused_before_reaching_the_broker(
    channel: AbstractChannel, topology: Topology
) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        await declare_external_topic(channel, "send.*", topology)
