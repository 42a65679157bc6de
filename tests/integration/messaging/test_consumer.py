"""Consuming: ack, requeue, dead letters with reasons, poison messages, replies."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel

from safepoint.contract import (
    COMMANDS,
    CommandError,
    CommandReply,
    CompleteTask,
    ExecuteJob,
    SetJobRetries,
    decode,
)
from safepoint.errors import MessagingError
from safepoint.messaging import (
    ACK,
    DEAD_LETTER,
    REQUEUE,
    Consumer,
    IncomingMessage,
    Outcome,
    Publisher,
    Rejected,
    Topology,
    consume,
    reply,
)

if TYPE_CHECKING:
    from conftest import Probe

pytestmark = pytest.mark.anyio

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
Handler = Callable[[IncomingMessage], Awaitable[Outcome]]


@asynccontextmanager
async def consuming(
    channel: AbstractChannel,
    queue: str,
    handler: Handler,
    topology: Topology,
    **options: object,
) -> AsyncIterator[Consumer]:
    consumer = await asyncio.wait_for(
        consume(channel, queue, handler, prefetch=10, topology=topology, **options),  # type: ignore[arg-type]
        10,
    )
    try:
        yield consumer
    finally:
        await consumer.stop(timeout=5)


def collector() -> tuple[asyncio.Queue[IncomingMessage], Handler]:
    received: asyncio.Queue[IncomingMessage] = asyncio.Queue()

    async def handle(incoming: IncomingMessage) -> Outcome:
        await received.put(incoming)
        return ACK

    return received, handle


async def send_command(
    publisher: Publisher, topology: Topology, command: object, **kw: object
) -> None:
    await asyncio.wait_for(
        publisher.publish(topology.commands_exchange, topology.commands_routing_key, command, **kw),  # type: ignore[arg-type]
        10,
    )


async def publish_raw(
    channel: AbstractChannel, topology: Topology, body: bytes, **properties: object
) -> None:
    """Publish as a client in another language might, mistakes included."""
    exchange = await channel.get_exchange(topology.commands_exchange)
    message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **properties)  # type: ignore[arg-type]
    await asyncio.wait_for(exchange.publish(message, topology.commands_routing_key), 10)


async def test_a_message_is_decoded_handed_over_and_acked(
    channel: AbstractChannel, publisher: Publisher, topology: Topology, probe: Probe
) -> None:
    received, handle = collector()

    async with consuming(channel, topology.commands_queue, handle, topology):
        await send_command(
            publisher,
            topology,
            CompleteTask(task_id="task-1"),
            headers={"traceparent": TRACEPARENT},
            message_id="m-1",
        )
        incoming = await asyncio.wait_for(received.get(), 10)

    assert incoming.message == CompleteTask(task_id="task-1")
    assert incoming.message_type == "safepoint.task.complete.v1"
    assert incoming.message_id == "m-1"
    assert incoming.trace_context == {"traceparent": TRACEPARENT}
    assert incoming.queue == topology.commands_queue
    assert incoming.exchange == topology.commands_exchange
    assert incoming.delivery_count == 0
    await channel.close()  # anything left unacked would now be ready again
    assert await probe.message_count(topology.commands_queue) == 0
    assert await probe.message_count(topology.dead_letter_queue(topology.commands_queue)) == 0


async def test_a_malformed_message_is_dead_lettered_with_the_reason_and_consuming_goes_on(
    channel: AbstractChannel,
    raw_channel: AbstractChannel,
    publisher: Publisher,
    topology: Topology,
    probe: Probe,
) -> None:
    received, handle = collector()

    async with consuming(channel, topology.commands_queue, handle, topology):
        await publish_raw(
            raw_channel,
            topology,
            b'{"taskId": "task-1"',
            type="safepoint.task.complete.v1",
            message_id="bad-1",
            content_type="application/json",
            headers={"traceparent": TRACEPARENT},
        )
        await send_command(publisher, topology, CompleteTask(task_id="task-2"))
        good = await asyncio.wait_for(received.get(), 10)

    assert good.message == CompleteTask(task_id="task-2")
    dead = await probe.next_message(topology.dead_letter_queue(topology.commands_queue))
    assert dead.body == b'{"taskId": "task-1"'
    assert dead.message_id == "bad-1"
    assert dead.type == "safepoint.task.complete.v1"
    assert dead.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert str(dead.headers["x-safepoint-reason"]).startswith(
        "safepoint.task.complete.v1: Invalid JSON: "
    )
    assert dead.headers["x-safepoint-original-type"] == "safepoint.task.complete.v1"
    assert dead.headers["x-safepoint-original-queue"] == topology.commands_queue
    assert dead.headers["x-safepoint-original-exchange"] == topology.commands_exchange
    assert dead.headers["x-safepoint-original-routing-key"] == topology.commands_routing_key
    assert dead.headers["traceparent"] == TRACEPARENT
    assert received.empty()


@pytest.mark.parametrize(
    ("body", "properties", "reason"),
    [
        (b"{}", {"type": "safepoint.nonsense.v1"}, "unknown message type 'safepoint.nonsense.v1'"),
        (b"{}", {}, "the message has no AMQP type property"),
        (
            b'{"taskId": 7}',
            {"type": "safepoint.task.complete.v1"},
            "taskId: Input should be a valid string",
        ),
        (
            b'{"taskId": "t"}',
            {"type": "safepoint.task.complete.v1", "content_type": "text/plain"},
            "content type 'text/plain' is not application/json",
        ),
        (
            b'{"taskId": "t"}',
            {"type": "safepoint.task.complete.v1", "content_encoding": "gzip"},
            "content encoding 'gzip' is not supported",
        ),
        (
            json.dumps(
                {
                    "jobId": "j",
                    "processInstanceId": "p",
                    "processDefinitionKey": "k",
                    "activityId": "a",
                    "configuration": "c",
                    "retries": 1,
                }
            ).encode(),
            {"type": "safepoint.job.execute.v1"},
            "safepoint.job.execute.v1 is not accepted on",
        ),
    ],
)
async def test_every_contract_violation_is_dead_lettered_with_its_reason(
    channel: AbstractChannel,
    raw_channel: AbstractChannel,
    topology: Topology,
    probe: Probe,
    body: bytes,
    properties: dict[str, object],
    reason: str,
) -> None:
    received, handle = collector()

    async with consuming(channel, topology.commands_queue, handle, topology, accepts=COMMANDS):
        await publish_raw(raw_channel, topology, body, message_id="bad", **properties)
        dead = await probe.next_message(topology.dead_letter_queue(topology.commands_queue))

    assert reason in str(dead.headers["x-safepoint-reason"])
    assert dead.body == body
    assert received.empty()


async def test_a_rejected_command_is_told_to_the_hook_after_its_dead_letter_so_it_can_be_answered(
    channel: AbstractChannel,
    raw_channel: AbstractChannel,
    publisher: Publisher,
    topology: Topology,
    probe: Probe,
) -> None:
    received, handle = collector()
    replies = await raw_channel.declare_queue(exclusive=True, auto_delete=True)
    dead_letters = topology.dead_letter_queue(topology.commands_queue)
    told: list[tuple[Rejected, int]] = []

    async def on_rejected(rejected: Rejected) -> None:
        told.append((rejected, await probe.message_count(dead_letters)))
        if rejected.reply_to:
            error = CommandError(type="ContractViolation", message=rejected.reason)
            await reply(publisher, rejected, CommandReply(ok=False, error=error))
        else:
            raise RuntimeError("a broken hook")  # logged; consuming goes on

    async with consuming(
        channel, topology.commands_queue, handle, topology, on_rejected=on_rejected
    ):
        await publish_raw(
            raw_channel,
            topology,
            b'{"taskId": 7}',
            type="safepoint.task.complete.v1",
            content_type="application/json",
            message_id="bad-1",
            reply_to=replies.name,
            correlation_id="corr-bad",
        )
        await publish_raw(raw_channel, topology, b"{", type="safepoint.task.complete.v1")
        await send_command(publisher, topology, CompleteTask(task_id="good"))
        good = await asyncio.wait_for(received.get(), 10)
        answered = await probe.next_message(replies.name)

    assert good.message == CompleteTask(task_id="good")
    assert answered.correlation_id == "corr-bad"
    answer = decode(answered.type, answered.body)
    assert isinstance(answer, CommandReply) and answer.error is not None
    assert "taskId: Input should be a valid string" in answer.error.message
    (first, dead_then), (second, _) = told
    assert dead_then >= 1  # told once the dead letter was stored
    assert (first.message_id, first.correlation_id, first.reply_to, first.queue) == (
        "bad-1",
        "corr-bad",
        replies.name,
        topology.commands_queue,
    )
    assert first.message_type == "safepoint.task.complete.v1"
    assert "Invalid JSON" in second.reason
    dead = [await probe.next_message(dead_letters) for _ in range(2)]
    assert "bad-1" in {message.message_id for message in dead}


async def test_a_handler_may_dead_letter_a_message_with_its_own_reason(
    channel: AbstractChannel, publisher: Publisher, topology: Topology, probe: Probe
) -> None:
    async def refuse(incoming: IncomingMessage) -> Outcome:
        return DEAD_LETTER("job row job-9 belongs to no known process definition")

    job = ExecuteJob(
        job_id="job-9",
        process_instance_id="pi",
        process_definition_key="gone",
        activity_id="a",
        configuration="transition-create-scope",
        retries=1,
    )
    async with consuming(channel, topology.jobs_queue, refuse, topology):
        await publisher.publish(topology.jobs_exchange, topology.jobs_routing_key, job)
        dead = await probe.next_message(topology.dead_letter_queue(topology.jobs_queue))

    assert (
        dead.headers["x-safepoint-reason"] == "job row job-9 belongs to no known process definition"
    )
    assert decode(dead.type, dead.body) == job


async def test_a_requeued_message_comes_back_with_its_delivery_count(
    channel: AbstractChannel, publisher: Publisher, topology: Topology
) -> None:
    counts: list[int] = []
    done = asyncio.Event()

    async def second_time_lucky(incoming: IncomingMessage) -> Outcome:
        counts.append(incoming.delivery_count)
        if len(counts) == 1:
            return REQUEUE
        done.set()
        return ACK

    async with consuming(channel, topology.commands_queue, second_time_lucky, topology):
        await send_command(publisher, topology, SetJobRetries(job_id="j", retries=1))
        await asyncio.wait_for(done.wait(), 10)

    assert counts == [0, 1]


async def test_a_handler_that_always_raises_is_dead_lettered_by_the_delivery_limit(
    channel: AbstractChannel,
    publisher: Publisher,
    topology: Topology,
    probe: Probe,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts: list[int] = []

    async def broken(incoming: IncomingMessage) -> Outcome:
        attempts.append(incoming.delivery_count)
        raise RuntimeError("delegate exploded")

    with caplog.at_level(logging.ERROR, logger="safepoint.messaging.consumer"):
        async with consuming(channel, topology.commands_queue, broken, topology):
            await send_command(
                publisher, topology, CompleteTask(task_id="poison"), message_id="p-1"
            )
            dead = await probe.next_message(topology.dead_letter_queue(topology.commands_queue))

    # Delivered once plus `delivery_limit` redeliveries, then dead-lettered by the queue.
    assert attempts == list(range(topology.delivery_limit + 1))
    assert dead.message_id == "p-1"
    death = dead.headers["x-death"][0]  # type: ignore[index]
    assert death["reason"] == "delivery_limit"  # type: ignore[index]
    assert death["queue"] == topology.commands_queue  # type: ignore[index]
    assert "delegate exploded" in caplog.text


async def test_a_command_with_reply_to_is_answered_with_its_correlation_id(
    channel: AbstractChannel,
    raw_channel: AbstractChannel,
    publisher: Publisher,
    topology: Topology,
    probe: Probe,
) -> None:
    replies = await raw_channel.declare_queue(exclusive=True, auto_delete=True)

    async def answer(incoming: IncomingMessage) -> Outcome:
        assert isinstance(incoming.message, CompleteTask)
        await reply(
            publisher, incoming, CommandReply(ok=True, result={"taskId": incoming.message.task_id})
        )
        return ACK

    async with consuming(channel, topology.commands_queue, answer, topology):
        await send_command(
            publisher,
            topology,
            CompleteTask(task_id="task-1"),
            reply_to=replies.name,
            correlation_id="corr-1",
        )
        answered = await probe.next_message(replies.name)

    assert answered.correlation_id == "corr-1"
    assert answered.type == "safepoint.command.reply.v1"
    assert decode(answered.type, answered.body) == CommandReply(
        ok=True, result={"taskId": "task-1"}
    )


async def test_no_reply_without_reply_to_and_none_lost_when_the_asker_is_gone(
    channel: AbstractChannel, publisher: Publisher, topology: Topology
) -> None:
    sent: list[bool] = []
    done = asyncio.Event()

    async def answer(incoming: IncomingMessage) -> Outcome:
        sent.append(await reply(publisher, incoming, CommandReply(ok=True)))
        if len(sent) == 2:
            done.set()
        return ACK

    async with consuming(channel, topology.commands_queue, answer, topology):
        await send_command(publisher, topology, CompleteTask(task_id="a"))
        await send_command(publisher, topology, CompleteTask(task_id="b"), reply_to="amq.gen-gone")
        await asyncio.wait_for(done.wait(), 10)

    assert sorted(sent) == [False, True]


async def test_handlers_run_concurrently_up_to_the_prefetch(
    channel: AbstractChannel, publisher: Publisher, topology: Topology
) -> None:
    running = 0
    peak = 0
    finished = 0
    all_done = asyncio.Event()

    async def slow(incoming: IncomingMessage) -> Outcome:
        nonlocal running, peak, finished
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        finished += 1
        if finished == 20:
            all_done.set()
        return ACK

    async with consuming(channel, topology.commands_queue, slow, topology):
        for n in range(20):
            await send_command(publisher, topology, CompleteTask(task_id=f"t{n}"))
        await asyncio.wait_for(all_done.wait(), 10)

    assert 1 < peak <= 10


async def test_consuming_a_missing_queue_says_to_declare_the_topology(
    channel: AbstractChannel, topology: Topology
) -> None:
    _, handle = collector()

    with pytest.raises(MessagingError, match="does not exist; declare the topology first"):
        await asyncio.wait_for(consume(channel, f"{topology.prefix}.nope", handle, prefetch=1), 10)
