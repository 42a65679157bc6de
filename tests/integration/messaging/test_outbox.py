"""The outbox relay: a committed command's jobs, external tasks and events reach RabbitMQ."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from bpmn_doc import definitions, element, flow, process

from safepoint import Engine
from safepoint.messaging import Publisher, Topology
from safepoint.messaging.outbox import OutboxRelay

pytestmark = pytest.mark.anyio

PROCESS = definitions(
    process(
        "outbox",
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "work"),
        flow("fork", "mail"),
        element("serviceTask", "work", camunda__asyncBefore="true", camunda__expression="${true}"),
        element("serviceTask", "mail", camunda__type="external", camunda__topic="mail"),
        flow("work", "join"),
        flow("mail", "join"),
        element("parallelGateway", "join"),
        flow("join", "end"),
        element("endEvent", "end"),
    )
)


async def test_a_committed_start_publishes_its_job_its_external_task_and_its_event(
    database_url: str,
    publisher: Publisher,
    topology: Topology,
    probe: Any,
    external_topics: list[str],
) -> None:
    external_topics.append("mail")
    relay = OutboxRelay(publisher, asyncio.get_running_loop(), topology=topology, timeout=10)
    events = await probe.bounded(probe.channel.declare_queue(exclusive=True))
    await probe.bounded(events.bind(topology.events_exchange, "process.*"))
    with Engine(database_url, on_commit=relay, job_lease=timedelta(seconds=30)) as engine:
        engine.deploy("outbox", {"outbox.bpmn": PROCESS})
        instance = await asyncio.to_thread(
            engine.start_process_instance_by_key, "outbox", {"amount": 42}, "ORDER-7"
        )
        (job,) = engine.jobs(instance.id)

        job_message = await probe.next_message(topology.jobs_queue)
        assert job_message.type == "safepoint.job.execute.v1"
        body = json.loads(job_message.body)
        assert (body["jobId"], body["activityId"], body["configuration"]) == (
            job.id,
            "work",
            "transition-create-scope",
        )
        assert job_message.delivery_mode == 2  # persistent

        task_message = await probe.next_message(topology.external_queue("mail"))
        task = json.loads(task_message.body)
        assert task["topic"] == "mail"
        assert task["businessKey"] == "ORDER-7"
        assert task["variables"]["amount"] == {"value": 42, "type": "Integer", "valueInfo": {}}

        started = await probe.bounded(events.get(timeout=10))
        assert started.routing_key == "process.started"
        assert json.loads(started.body)["processInstanceId"] == instance.id


async def test_a_lost_publish_is_repaired_by_leasing_the_job_again(
    database_url: str, publisher: Publisher, topology: Topology, probe: Any
) -> None:
    """No relay at commit (the process died): the lease runs out, the dispatcher publishes."""
    with Engine(database_url, job_lease=timedelta(seconds=0)) as engine:
        engine.deploy("outbox", {"outbox.bpmn": PROCESS})
        instance = engine.start_process_instance_by_key("outbox")
        relay = OutboxRelay(publisher, asyncio.get_running_loop(), topology=topology)
        leased = await asyncio.to_thread(engine.lease_due_jobs)
        await relay.publish_jobs(leased)
        message = await probe.next_message(topology.jobs_queue)
        assert json.loads(message.body)["processInstanceId"] == instance.id
