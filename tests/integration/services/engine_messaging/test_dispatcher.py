"""The dispatcher publishes what is due and leased to no one, once per lease."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from bpmn_doc import (
    Failing,
    chain,
    definitions,
    element,
    message_definition,
    process,
    retry_time_cycle,
)

from safepoint import Engine, Job, ManualClock
from safepoint.contract import Topology
from safepoint.core.context import EngineConfig
from safepoint.embedded import recording_command
from safepoint.errors import BrokerUnavailable, PersistenceError
from safepoint_engine.dispatcher import Dispatcher

if TYPE_CHECKING:
    from conftest import Broker, Deployed, EngineFactory

pytestmark = pytest.mark.anyio

RETRYING = definitions(
    process(
        "retrying",
        element("startEvent", "start"),
        element(
            "serviceTask",
            "work",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${failing}",
            extensions=retry_time_cycle("R3/PT10S"),
        ),
        element("endEvent", "end"),
        *chain("start", "work", "end"),
    )
)

FAILING = definitions(
    process(
        "failing",
        element("startEvent", "start"),
        element(
            "serviceTask",
            "work",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${failing}",
        ),
        element("endEvent", "end"),
        *chain("start", "work", "end"),
    )
)

ORDER = definitions(
    process(
        "order",
        element("startEvent", "start"),
        element("intermediateCatchEvent", "paid", body=message_definition("paid")),
        element("serviceTask", "ship", camunda__type="external", camunda__topic="ship"),
        element("endEvent", "end"),
        *chain("start", "paid", "ship", "end"),
    ),
    messages=["paid"],
)

INVOICE = definitions(
    process(
        "invoice",
        element("startEvent", "start"),
        element("serviceTask", "work", camunda__asyncBefore="true", camunda__expression="${1}"),
        element("endEvent", "end"),
        *chain("start", "work", "end"),
    )
)


def job_ids(messages: list[Any]) -> list[str]:
    return [json.loads(message.body)["jobId"] for message in messages]


async def test_a_job_whose_publish_was_lost_is_published_when_its_lease_runs_out(
    start_runtime: Any,
    make_engine: EngineFactory,
    broker: Broker,
    topology: Topology,
    clock: ManualClock,
) -> None:
    # No relay: the engine committed the job, and died before publishing it.
    def factory(relay: Any) -> Engine:
        engine = make_engine(job_lease=timedelta(seconds=30))
        engine.deploy("invoice", {"invoice.bpmn": INVOICE})
        return engine

    runtime = await start_runtime(factory)
    engine: Engine = runtime.engine
    instance = engine.start_process_instance_by_key("invoice")
    (job,) = engine.jobs(instance.id)

    assert await broker.drain(topology.jobs_queue, quiet=0.3) == []  # still leased

    clock.advance(seconds=31)
    message = await broker.next_message(topology.jobs_queue)
    assert json.loads(message.body)["jobId"] == job.id
    assert await broker.drain(topology.jobs_queue, quiet=0.3) == []  # leased again: once

    clock.advance(seconds=31)  # its executor died too: published again
    assert job_ids(await broker.drain(topology.jobs_queue, quiet=0.3)) == [job.id]


async def test_a_failed_job_is_published_again_when_its_retry_delay_has_passed(
    start_runtime: Any,
    deployed: Deployed,
    broker: Broker,
    topology: Topology,
    clock: ManualClock,
) -> None:
    failing = Failing()
    runtime = await start_runtime(deployed(RETRYING, delegates={"failing": failing}))
    engine: Engine = runtime.engine
    instance = await asyncio.to_thread(engine.start_process_instance_by_key, "retrying")
    (job,) = engine.jobs(instance.id)
    assert job_ids([await broker.next_message(topology.jobs_queue)]) == [job.id]  # the relay

    with pytest.raises(RuntimeError):  # as the job executor would run it
        await asyncio.to_thread(engine.execute_job, job.id)
    assert engine.job(job.id).retries == 2
    assert await broker.drain(topology.jobs_queue, quiet=0.3) == []  # due in 10 s

    clock.advance(seconds=11)
    message = await broker.next_message(topology.jobs_queue)
    assert json.loads(message.body)["jobId"] == job.id
    assert json.loads(message.body)["retries"] == 2


async def test_a_job_is_published_again_when_an_operator_sets_its_retries(
    start_runtime: Any, deployed: Deployed, broker: Broker, topology: Topology
) -> None:
    failing = Failing()
    runtime = await start_runtime(
        deployed(
            FAILING,
            delegates={"failing": failing},
            config=EngineConfig(default_retries=1),
        )
    )
    engine: Engine = runtime.engine
    instance = await asyncio.to_thread(engine.start_process_instance_by_key, "failing")
    (job,) = engine.jobs(instance.id)
    await broker.next_message(topology.jobs_queue)
    with pytest.raises(RuntimeError):
        await asyncio.to_thread(engine.execute_job, job.id)
    (incident,) = engine.incidents(instance.id)
    assert await broker.drain(topology.jobs_queue, quiet=0.3) == []  # no retries left

    await broker.send("set-job-retries", {"jobId": job.id, "retries": 2}, correlation_id="ops")
    assert (await broker.reply())[1]["ok"] is True

    message = await broker.next_message(topology.jobs_queue)
    assert json.loads(message.body)["jobId"] == job.id
    assert engine.incidents(instance.id) == []


async def test_an_external_task_is_handed_out_again_after_its_retry_timeout(
    start_runtime: Any,
    deployed: Deployed,
    broker: Broker,
    topology: Topology,
    clock: ManualClock,
) -> None:
    runtime = await start_runtime(deployed(ORDER))
    engine: Engine = runtime.engine
    await broker.send(
        "start",
        {
            "processDefinitionKey": "order",
            "businessKey": "ORDER-9",
            "variables": {"city": {"value": "Lyon", "type": "String"}},
        },
    )
    await broker.reply()
    await broker.send("correlate", {"messageName": "paid", "businessKey": "ORDER-9"})
    await broker.reply()
    queue = topology.external_queue("ship")
    first = json.loads((await broker.next_message(queue)).body)

    await broker.send(
        "fail-external-task",
        {
            "externalTaskId": first["externalTaskId"],
            "workerId": "w",
            "errorMessage": "truck broke down",
            "retries": 2,
            "retryTimeout": 5000,
        },
    )
    assert (await broker.reply())[1]["ok"] is True
    assert await broker.drain(queue, quiet=0.3) == []  # held back 5 s

    clock.advance(seconds=6)
    again = json.loads((await broker.next_message(queue)).body)
    assert again["externalTaskId"] == first["externalTaskId"]
    assert again["retries"] == 2
    assert again["businessKey"] == "ORDER-9"
    assert again["variables"]["city"]["value"] == "Lyon"
    assert engine.external_task(first["externalTaskId"]).error_message == "truck broke down"


async def test_the_dispatcher_survives_database_and_broker_failures(
    start_runtime: Any,
    make_engine: EngineFactory,
    broker: Broker,
    topology: Topology,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = await start_runtime(None)  # connected only: the dispatcher is ours
    engine, job = _a_job_whose_publish_was_lost(make_engine, clock)

    lease = engine.lease_due_jobs
    publish = runtime.relay.publish_jobs
    failures = {"database": 2, "broker": 1}

    def flaky_lease(limit: int = 100) -> Any:
        if failures["database"]:
            failures["database"] -= 1
            raise PersistenceError("the database went away")
        return lease(limit)

    async def flaky_publish(jobs: Any) -> None:
        if failures["broker"]:
            failures["broker"] -= 1
            raise BrokerUnavailable("lost the connection to RabbitMQ")
        await publish(jobs)

    monkeypatch.setattr(engine, "lease_due_jobs", flaky_lease)
    monkeypatch.setattr(runtime.relay, "publish_jobs", flaky_publish)
    dispatcher = Dispatcher(engine, runtime.relay, poll_interval=0.01, max_backoff=0.05)
    with caplog.at_level(logging.WARNING, logger="safepoint_engine.dispatcher"):
        dispatcher.start()
        try:
            # Leased, then the publish failed: nothing until the lease runs out.
            await asyncio.wait_for(_until(lambda: failures["broker"] == 0), 10)
            assert await broker.drain(topology.jobs_queue, quiet=0.3) == []
            clock.advance(seconds=31)
            message = await broker.next_message(topology.jobs_queue)
            assert dispatcher.running
        finally:
            await asyncio.wait_for(dispatcher.stop(), 10)

    assert json.loads(message.body)["jobId"] == job.id
    assert not dispatcher.running
    assert "the database went away" in caplog.text
    assert "lost the connection to RabbitMQ" in caplog.text


async def test_the_dispatcher_forgets_processed_commands_older_than_the_retention(
    start_runtime: Any, make_engine: EngineFactory, clock: ManualClock
) -> None:
    runtime = await start_runtime(None)  # connected only: the dispatcher is ours
    engine = make_engine()
    engine.deploy("invoice", {"invoice.bpmn": INVOICE})
    with recording_command("old", "safepoint.process-instance.start.v1"):
        engine.start_process_instance_by_key("invoice")
    clock.advance(timedelta(hours=23))
    with recording_command("recent", "safepoint.process-instance.start.v1"):
        engine.start_process_instance_by_key("invoice")
    clock.advance(timedelta(hours=2))

    dispatcher = Dispatcher(
        engine,
        runtime.relay,
        poll_interval=0.01,
        command_retention=timedelta(days=1),
        prune_interval=0.01,
    )
    dispatcher.start()
    try:
        await asyncio.wait_for(_until(lambda: engine.processed_command("old") is None), 10)
    finally:
        await asyncio.wait_for(dispatcher.stop(), 10)

    assert engine.processed_command("recent") is not None


async def test_a_failed_pruning_is_logged_and_dispatching_goes_on(
    start_runtime: Any,
    make_engine: EngineFactory,
    broker: Broker,
    topology: Topology,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = await start_runtime(None)  # connected only: the dispatcher is ours
    engine, job = _a_job_whose_publish_was_lost(make_engine, clock)

    def failing_prune(older_than: timedelta, *, limit: int = 10_000) -> int:
        raise PersistenceError("processed_commands is locked")

    monkeypatch.setattr(engine, "prune_processed_commands", failing_prune)
    dispatcher = Dispatcher(engine, runtime.relay, poll_interval=0.01, prune_interval=0.01)
    with caplog.at_level(logging.WARNING, logger="safepoint_engine.dispatcher"):
        dispatcher.start()
        try:
            message = await broker.next_message(topology.jobs_queue)
            await asyncio.sleep(0.1)  # a few more rounds, each pruning in vain
        finally:
            await asyncio.wait_for(dispatcher.stop(), 10)

    assert json.loads(message.body)["jobId"] == job.id
    assert "forgetting processed commands failed" in caplog.text
    assert "dispatching failed" not in caplog.text


def _a_job_whose_publish_was_lost(
    make_engine: EngineFactory, clock: ManualClock
) -> tuple[Engine, Job]:
    """An engine with one started invoice whose job's lease ran out: due for the dispatcher."""
    engine = make_engine(job_lease=timedelta(seconds=30))
    engine.deploy("invoice", {"invoice.bpmn": INVOICE})
    instance = engine.start_process_instance_by_key("invoice")
    (job,) = engine.jobs(instance.id)
    clock.advance(seconds=31)
    return engine, job


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_dispatchers_never_publish_a_job_twice_in_one_lease_period(
    start_runtime: Any,
    make_engine: EngineFactory,
    broker: Broker,
    topology: Topology,
    clock: ManualClock,
) -> None:
    creator = make_engine(node_name="crashed-engine")
    creator.deploy("invoice", {"invoice.bpmn": INVOICE})
    instances = [creator.start_process_instance_by_key("invoice") for _ in range(100)]
    for name in ("engine-a", "engine-b"):
        await start_runtime(
            lambda relay, name=name: make_engine(on_commit=relay, node_name=name),
            dispatch_batch=3,
            dispatch_interval=0.01,
        )

    clock.advance(seconds=31)  # every publish was lost: both dispatchers race for the jobs
    messages = await broker.drain(topology.jobs_queue, quiet=1.0)

    published = job_ids(messages)
    assert sorted(published) == sorted(job.id for i in instances for job in creator.jobs(i.id))
    holders = {job.locked_by for i in instances for job in creator.jobs(i.id)}
    assert holders == {"engine-a", "engine-b"}  # both took part
