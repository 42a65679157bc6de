"""The consumer on a real RabbitMQ: job messages run in worker threads and are settled."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from bpmn_doc import definitions, element, flow, process, retry_time_cycle

from safepoint import Engine, ManualClock
from safepoint.contract import ExecuteJob
from safepoint.messaging import Publisher, Topology, open_channel
from safepoint.messaging.outbox import OutboxRelay
from safepoint_job_executor.consumers import DEFAULT_FOLLOW_UPS, JobConsumer
from safepoint_job_executor.metrics import JobMetrics
from safepoint_job_executor.service import Decision, JobExecution, Settle

pytestmark = pytest.mark.anyio

WAIT = 10.0


@pytest.fixture
async def relay(publisher: Publisher, topology: Topology) -> OutboxRelay:
    """Publishes what the engine commits on the test's topology."""
    return OutboxRelay(publisher, asyncio.get_running_loop(), topology=topology, timeout=WAIT)


class Branch:
    """The ``branch`` delegate: notes how many worker threads are busy when it runs."""

    def __init__(self) -> None:
        self.consumers: list[JobConsumer] = []
        self.busy_threads: list[int] = []
        self.pause = 0.02  # long enough for the fork's other messages to arrive meanwhile

    def __call__(self, execution: Any) -> None:
        self.busy_threads.append(sum(c.busy_threads for c in self.consumers))
        time.sleep(self.pause)


@pytest.fixture
def branch() -> Branch:
    return Branch()


@pytest.fixture
def engine(
    database_url: str, clock: ManualClock, charge: Any, branch: Branch, relay: OutboxRelay
) -> Iterator[Engine]:
    """An engine whose commits are published on the test's topology (overrides conftest's)."""
    delegates = {"charge": charge, "branch": branch}
    with Engine(database_url, delegates=delegates, clock=clock, on_commit=relay) as e:
        yield e


StartConsumer = Callable[..., Awaitable[JobConsumer]]


@pytest.fixture
async def start_consumer(
    engine: Engine,
    clock: ManualClock,
    channel: AbstractChannel,
    publisher: Publisher,
    topology: Topology,
    relay: OutboxRelay,
) -> AsyncIterator[StartConsumer]:
    started: list[JobConsumer] = []

    async def start(
        concurrency: int = 4,
        follow_ups: int = DEFAULT_FOLLOW_UPS,
        execution: JobExecution | None = None,
        on: AbstractChannel | None = None,
    ) -> JobConsumer:
        consumer = JobConsumer(
            execution or JobExecution(engine, JobMetrics(), clock=clock),
            concurrency=concurrency,
            topology=topology,
            relay=relay,  # what a job commits is published by the loop, before the ack
            follow_ups=follow_ups,
        )
        await consumer.start(on or channel, publisher)
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        await consumer.stop(grace=WAIT)
        consumer.close()


async def next_message(
    channel: AbstractChannel, queue_name: str, seconds: float = WAIT
) -> AbstractIncomingMessage:
    queue = await channel.get_queue(queue_name, ensure=True)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (message := await queue.get(no_ack=True, fail=False)) is None:
        if loop.time() > deadline:
            raise AssertionError(f"no message on {queue_name} within {seconds} s")
        await asyncio.sleep(0.02)
    return message


async def eventually(check: Callable[[], bool], seconds: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await asyncio.to_thread(check):
        if loop.time() > deadline:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.05)


async def test_a_started_instance_is_continued_by_the_consumer_to_its_end(
    engine: Engine, start_consumer: StartConsumer, charge: Any, start_payment: Any
) -> None:
    pid, _ = await asyncio.to_thread(start_payment)  # its message waits in the queue
    consumer = await start_consumer()

    await eventually(lambda: engine.process_instance(pid).ended)

    assert charge.calls == 1
    assert consumer.ready
    await eventually(lambda: consumer.in_flight == 0 and consumer.busy_threads == 0)


def chain(steps: list[str], *, failing: str | None = None, cycle: str | None = None) -> bytes:
    """start → one asyncBefore task per step (``charge`` at ``failing``) → end."""
    elements = [element("startEvent", "start"), flow("start", steps[0])]
    for step, following in zip(steps, [*steps[1:], "end"], strict=True):
        work = (
            {"camunda__delegateExpression": "${charge}"}
            if failing in (None, step)
            else {"camunda__expression": "${true}"}
        )
        elements.append(
            element(
                "serviceTask",
                step,
                extensions=retry_time_cycle(cycle) if cycle and step == failing else "",
                camunda__asyncBefore="true",
                **work,
            )
        )
        elements.append(flow(step, following))
    elements.append(element("endEvent", "end"))
    return definitions(process("chain", *elements))


def followed_up(consumer: JobConsumer) -> float:
    return consumer.metrics.registry.get_sample_value("safepoint_jobs_followed_up_total") or 0.0


async def test_the_jobs_a_job_creates_are_published_and_run_in_turn(
    engine: Engine, start_consumer: StartConsumer, charge: Any
) -> None:
    steps = [f"step{n}" for n in range(1, 6)]
    await asyncio.to_thread(engine.deploy, "chain", {"chain.bpmn": chain(steps)})
    consumer = await start_consumer(follow_ups=0)  # every job through the queue

    instance = await asyncio.to_thread(engine.start_process_instance_by_key, "chain")

    await eventually(lambda: engine.process_instance(instance.id).ended)
    assert charge.calls == len(steps)
    history = await asyncio.to_thread(engine.history, instance.id)
    assert [a.activity_id for a in history if a.activity_id in steps] == steps
    assert followed_up(consumer) == 0
    await eventually(lambda: consumer.in_flight == 0 and consumer.busy_threads == 0)


async def test_an_exclusive_job_s_follow_ups_run_right_after_it_without_messages(
    engine: Engine,
    start_consumer: StartConsumer,
    charge: Any,
    plain_channel: AbstractChannel,
    topology: Topology,
) -> None:
    """Camunda's exclusive follow-up jobs: one message, then each job its own transaction."""
    steps = [f"step{n}" for n in range(1, 6)]
    await asyncio.to_thread(engine.deploy, "chain", {"chain.bpmn": chain(steps)})
    consumer = await start_consumer()

    instance = await asyncio.to_thread(engine.start_process_instance_by_key, "chain")

    await eventually(lambda: engine.process_instance(instance.id).ended)
    history = await asyncio.to_thread(engine.history, instance.id)
    assert [a.activity_id for a in history if a.activity_id in steps] == steps
    assert charge.calls == len(steps)
    assert followed_up(consumer) == len(steps) - 1  # all but the started one's
    log = await asyncio.to_thread(engine.job_log, process_instance_id=instance.id)
    successful = [entry.activity_id for entry in log if entry.event == "successful"]
    assert successful == steps  # a safe point (a committed job) per step, as before
    await eventually(lambda: consumer.in_flight == 0 and consumer.busy_threads == 0)
    queue = await plain_channel.get_queue(topology.jobs_queue)
    assert await queue.get(fail=False) is None  # nothing was left to publish


async def test_follow_ups_stop_at_the_limit_and_the_next_job_goes_through_the_queue(
    engine: Engine, start_consumer: StartConsumer, charge: Any
) -> None:
    steps = [f"step{n}" for n in range(1, 6)]
    await asyncio.to_thread(engine.deploy, "chain", {"chain.bpmn": chain(steps)})
    consumer = await start_consumer(follow_ups=2)

    instance = await asyncio.to_thread(engine.start_process_instance_by_key, "chain")

    await eventually(lambda: engine.process_instance(instance.id).ended)
    assert charge.calls == len(steps)
    # step1's message runs step2 and step3 after it, publishes step4; step4's runs step5.
    assert followed_up(consumer) == 3


async def test_a_follow_up_out_of_retries_is_dead_lettered_like_a_delivered_job(
    engine: Engine,
    start_consumer: StartConsumer,
    charge: Any,
    plain_channel: AbstractChannel,
    topology: Topology,
) -> None:
    charge.mode = "fail"
    steps = ["prepare", "charge"]
    model = chain(steps, failing="charge", cycle="R1/PT0S")
    await asyncio.to_thread(engine.deploy, "chain", {"chain.bpmn": model})
    consumer = await start_consumer()

    instance = await asyncio.to_thread(engine.start_process_instance_by_key, "chain")
    dead = await next_message(plain_channel, topology.dead_letter_queue(topology.jobs_queue))

    (incident,) = await asyncio.to_thread(engine.incidents, instance.id)
    (job,) = await asyncio.to_thread(engine.jobs, instance.id)
    assert (job.activity_id, job.retries) == ("charge", 0)
    assert followed_up(consumer) == 1  # charge ran right after prepare, without a message
    headers = dict(dead.headers or {})
    assert json.loads(dead.body)["jobId"] == job.id
    assert dead.type == "safepoint.job.execute.v1"
    assert headers["x-safepoint-job-id"] == job.id
    assert headers["x-safepoint-activity-id"] == "charge"
    assert headers["x-safepoint-exception-type"] == "ValueError"
    assert headers["x-safepoint-incident-id"] == incident.id
    assert headers["x-safepoint-original-queue"] == topology.jobs_queue
    assert "no retries left" in str(headers["x-safepoint-reason"])


async def test_a_job_out_of_retries_is_dead_lettered_with_its_headers_and_the_reason(
    engine: Engine,
    start_consumer: StartConsumer,
    charge: Any,
    start_payment: Any,
    plain_channel: AbstractChannel,
    topology: Topology,
) -> None:
    charge.mode = "fail"
    pid, job = await asyncio.to_thread(start_payment)  # its message waits in the queue
    await asyncio.to_thread(engine.set_job_retries, job.id, 1)  # its last try

    await start_consumer()
    dead = await next_message(plain_channel, topology.dead_letter_queue(topology.jobs_queue))

    (incident,) = await asyncio.to_thread(engine.incidents, pid)
    headers = dict(dead.headers or {})
    assert json.loads(dead.body)["jobId"] == job.id
    assert dead.type == "safepoint.job.execute.v1"
    assert headers["x-safepoint-job-id"] == job.id
    assert headers["x-safepoint-process-instance-id"] == pid
    assert headers["x-safepoint-activity-id"] == "charge"
    assert headers["x-safepoint-exception-type"] == "ValueError"
    assert headers["x-safepoint-exception-message"] == "card declined for ORDER-7"
    assert headers["x-safepoint-incident-id"] == incident.id
    assert headers["x-safepoint-original-queue"] == topology.jobs_queue
    assert "no retries left" in str(headers["x-safepoint-reason"])


async def test_a_stopped_consumer_takes_no_new_message(
    engine: Engine, start_consumer: StartConsumer, charge: Any, start_payment: Any
) -> None:
    consumer = await start_consumer()
    await consumer.stop(grace=WAIT)
    assert not consumer.ready

    pid, _ = await asyncio.to_thread(start_payment)  # published after the stop
    await asyncio.sleep(0.3)

    assert charge.calls == 0
    assert not (await asyncio.to_thread(engine.process_instance, pid)).ended


def fork(width: int, *, exclusive: bool, async_fork: bool = False) -> bytes:
    """start → a parallel fork of ``width`` asyncBefore ``branch`` tasks → join → end.

    With ``async_fork`` the fork itself is ``asyncBefore``: a job's run makes the branches.
    """
    gateway = {"camunda__asyncBefore": "true"} if async_fork else {}
    elements = [
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork", **gateway),
        element("parallelGateway", "join"),
        flow("join", "end"),
        element("endEvent", "end"),
    ]
    for n in range(width):
        elements.append(
            element(
                "serviceTask",
                f"b{n}",
                camunda__asyncBefore="true",
                camunda__exclusive=str(exclusive).lower(),
                camunda__delegateExpression="${branch}",
            )
        )
        elements += [flow("fork", f"b{n}"), flow(f"b{n}", "join")]
    return definitions(process("branches", *elements))


async def test_the_exclusive_jobs_of_one_instance_take_turns_without_holding_threads(
    engine: Engine, start_consumer: StartConsumer, branch: Branch
) -> None:
    """Jobs of one fork wait for their turn on the event loop, not on the row lock."""
    await asyncio.to_thread(engine.deploy, "fork", {"fork.bpmn": fork(8, exclusive=True)})
    instance = await asyncio.to_thread(engine.start_process_instance_by_key, "branches")
    consumer = await start_consumer()  # 4 threads; the 8 messages wait in the queue
    branch.consumers.append(consumer)

    await eventually(lambda: engine.process_instance(instance.id).ended)

    assert len(branch.busy_threads) == 8
    assert set(branch.busy_threads) == {1}  # the one running; none blocked on the lock
    assert consumer._metrics.instance_waits._value.get() >= 3
    history = await asyncio.to_thread(engine.history, instance.id)
    assert sum(1 for a in history if a.activity_id.startswith("b") and a.ended_at) == 8


async def test_non_exclusive_jobs_of_one_instance_run_at_once(
    engine: Engine, start_consumer: StartConsumer, branch: Branch
) -> None:
    await asyncio.to_thread(engine.deploy, "fork", {"fork.bpmn": fork(4, exclusive=False)})
    await asyncio.to_thread(engine.start_process_instance_by_key, "branches")
    branch.pause = 0.2
    consumer = await start_consumer()
    branch.consumers.append(consumer)

    await eventually(lambda: len(branch.busy_threads) == 4)

    assert max(branch.busy_threads) > 1  # they overlap (and conflict: not this test's point)
    assert consumer._metrics.instance_waits._value.get() == 0


async def test_a_stopping_consumer_requeues_the_messages_waiting_for_their_turn(
    engine: Engine,
    start_consumer: StartConsumer,
    branch: Branch,
    plain_channel: AbstractChannel,
    topology: Topology,
) -> None:
    await asyncio.to_thread(engine.deploy, "fork", {"fork.bpmn": fork(4, exclusive=True)})
    instance = await asyncio.to_thread(engine.start_process_instance_by_key, "branches")
    branch.pause = 0.2
    consumer = await start_consumer()
    branch.consumers.append(consumer)
    await eventually(lambda: len(branch.busy_threads) >= 1)

    await consumer.stop(grace=WAIT)

    await eventually(lambda: consumer.in_flight == 0)
    ran = len(branch.busy_threads)
    assert ran < 4  # the ones waiting did not run while stopping
    # The others are back in the queue, unacknowledged by nobody: a new consumer gets them.
    left = []
    for _ in range(4 - ran):
        message = await next_message(plain_channel, topology.jobs_queue)
        left.append(json.loads(message.body)["jobId"])
    jobs = {job.id for job in await asyncio.to_thread(engine.jobs, instance.id)}
    assert set(left) == jobs


async def test_messages_beyond_the_threads_wait_for_one_and_a_stop_requeues_them_at_once(
    engine: Engine,
    start_consumer: StartConsumer,
    branch: Branch,
    plain_channel: AbstractChannel,
    topology: Topology,
) -> None:
    """The prefetch exceeds the threads: what has not started goes back on a stop."""
    await asyncio.to_thread(engine.deploy, "fork", {"fork.bpmn": fork(1, exclusive=True)})
    for _ in range(3):
        await asyncio.to_thread(engine.start_process_instance_by_key, "branches")
    branch.pause = 1.0
    consumer = await start_consumer(concurrency=1)  # prefetch 8: all 3 are delivered
    branch.consumers.append(consumer)
    await eventually(lambda: len(branch.busy_threads) == 1 and consumer.in_flight == 3)

    stopping = asyncio.create_task(consumer.stop(grace=WAIT))
    # The 2 waiting for the thread are back in the queue while the first still runs.
    left = [await next_message(plain_channel, topology.jobs_queue, 0.8) for _ in range(2)]
    assert len(branch.busy_threads) == 1
    assert not stopping.done()

    await stopping
    jobs = {job.id for job in await asyncio.to_thread(engine.jobs)}
    assert {json.loads(message.body)["jobId"] for message in left} == jobs
    assert len(jobs) == 2  # the first ran and committed


async def test_the_branches_of_a_fork_run_one_after_another_as_follow_ups(
    engine: Engine, start_consumer: StartConsumer, branch: Branch
) -> None:
    """Exclusive: the fork's job runs its branches' jobs itself, never two at once."""
    model = fork(6, exclusive=True, async_fork=True)
    await asyncio.to_thread(engine.deploy, "fork", {"fork.bpmn": model})
    consumer = await start_consumer()
    branch.consumers.append(consumer)

    instance = await asyncio.to_thread(engine.start_process_instance_by_key, "branches")

    await eventually(lambda: engine.process_instance(instance.id).ended)
    assert branch.busy_threads == [1] * 6  # each branch alone in its worker thread
    assert followed_up(consumer) == 6  # one message, the fork's job; the branches followed


class FirstRunInDoubt(JobExecution):
    """A job execution whose first run of activity ``b1`` ends in doubt (the database away)."""

    doubted = False

    def execute(self, message: ExecuteJob, *, delivery_count: int = 0) -> Decision:
        if message.activity_id == "b1" and not self.doubted:
            self.doubted = True
            return Decision(Settle.REQUEUE)
        return super().execute(message, delivery_count=delivery_count)


async def test_after_a_follow_up_in_doubt_it_and_the_rest_go_through_the_queue(
    engine: Engine, start_consumer: StartConsumer, clock: ManualClock, branch: Branch
) -> None:
    await asyncio.to_thread(
        engine.deploy, "fork", {"fork.bpmn": fork(3, exclusive=True, async_fork=True)}
    )
    execution = FirstRunInDoubt(engine, JobMetrics(), clock=clock)
    consumer = await start_consumer(concurrency=2, execution=execution)

    instance = await asyncio.to_thread(engine.start_process_instance_by_key, "branches")

    await eventually(lambda: engine.process_instance(instance.id).ended)
    assert execution.doubted
    assert len(branch.busy_threads) == 3  # b1 once, from its message: no delegate twice
    assert followed_up(consumer) == 2  # b0, then b1 (in doubt); b1 and b2 were queued


async def test_a_follow_up_whose_lease_is_half_gone_goes_through_the_queue(
    engine: Engine,
    database_url: str,
    clock: ManualClock,
    channel: AbstractChannel,
    publisher: Publisher,
    topology: Topology,
    relay: OutboxRelay,
) -> None:
    """Held branches wait for those before them; past half their lease the queue takes them."""
    runs: list[str] = []

    def slow(execution: Any) -> None:
        runs.append(execution.activity_id)
        if len(runs) == 1:
            clock.advance(seconds=40)  # the first branch takes 40 of the 60 s lease

    model = fork(3, exclusive=True, async_fork=True)
    delegates = {"branch": slow}
    lease = timedelta(seconds=60)
    with Engine(
        database_url, delegates=delegates, clock=clock, on_commit=relay, job_lease=lease
    ) as leased:
        await asyncio.to_thread(leased.deploy, "fork", {"fork.bpmn": model})
        consumer = JobConsumer(
            JobExecution(leased, JobMetrics(), clock=clock),
            concurrency=2,
            topology=topology,
            relay=relay,
        )
        await consumer.start(channel, publisher)
        try:
            instance = await asyncio.to_thread(leased.start_process_instance_by_key, "branches")

            await eventually(lambda: leased.process_instance(instance.id).ended)
            assert sorted(runs) == ["b0", "b1", "b2"]
            assert followed_up(consumer) == 1  # b0; b1 and b2 came back through the queue
        finally:
            await consumer.stop(grace=WAIT)
            consumer.close()


async def test_what_a_job_commits_after_its_channel_closed_is_published_all_the_same(
    engine: Engine,
    start_consumer: StartConsumer,
    connection: AbstractRobustConnection,
    plain_channel: AbstractChannel,
    topology: Topology,
    charge: Any,
) -> None:
    """The handler is cancelled with its channel; the job's thread goes on and commits."""
    release = threading.Event()
    running = threading.Event()

    def hold(execution: Any) -> None:
        running.set()
        release.wait(WAIT)

    steps = ["held", "next"]
    model = chain(steps, failing="held")  # "held" runs charge, "next" an expression
    await asyncio.to_thread(engine.deploy, "chain", {"chain.bpmn": model})
    charge.hook = hold
    consume_channel = await open_channel(connection)
    await start_consumer(concurrency=2, on=consume_channel)
    try:
        instance = await asyncio.to_thread(engine.start_process_instance_by_key, "chain")
        await asyncio.to_thread(running.wait, WAIT)
        await consume_channel.close()  # cancels the handler; the job's thread runs on
        release.set()

        # The held job's message comes back (unacked); the next job's is published.
        seen = {
            json.loads((await next_message(plain_channel, topology.jobs_queue)).body)["activityId"]
            for _ in range(2)
        }
        assert seen == {"held", "next"}
        (job,) = await asyncio.to_thread(engine.jobs, instance.id)
        assert job.activity_id == "next"  # the held job committed once
    finally:
        release.set()
