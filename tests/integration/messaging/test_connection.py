"""Connecting: a clear error when the broker is not there, and recovery after a cut."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import pytest
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from safepoint.contract import CompleteTask
from safepoint.errors import BrokerUnavailable
from safepoint.messaging import (
    ACK,
    IncomingMessage,
    Outcome,
    Publisher,
    Topology,
    connect,
    consume,
    redact,
)

if TYPE_CHECKING:
    from conftest import Probe

pytestmark = pytest.mark.anyio


async def test_a_closed_port_gives_broker_unavailable_with_a_hint_and_no_password() -> None:
    url = "amqp://safepoint:s3cr3t-Pa55@127.0.0.1:5999/"

    with pytest.raises(BrokerUnavailable) as caught:
        await asyncio.wait_for(connect(url, name="test", timeout=5), 15)

    message = str(caught.value)
    assert message.startswith("cannot reach RabbitMQ at amqp://127.0.0.1:5999/ (")
    assert "Start it with `rabbitmq-server -detached` or set SAFEPOINT_AMQP_URL" in message
    chain = [caught.value, caught.value.__cause__]
    assert all("s3cr3t-Pa55" not in f"{error} {error!r}" for error in chain)


async def test_wrong_credentials_are_named_as_such_without_the_password(amqp_url: str) -> None:
    parts = urlsplit(amqp_url)
    url = urlunsplit(
        parts._replace(netloc=f"nobody:wr0ng-Pa55@{parts.hostname}:{parts.port or 5672}")
    )

    with pytest.raises(BrokerUnavailable) as caught:
        await asyncio.wait_for(connect(url, name="test", timeout=5), 15)

    assert "refused the login" in str(caught.value)
    assert "check the user and password in SAFEPOINT_AMQP_URL" in str(caught.value)
    assert all("wr0ng-Pa55" not in f"{e} {e!r}" for e in (caught.value, caught.value.__cause__))


def test_redact_keeps_where_and_drops_who() -> None:
    assert redact("amqp://guest:guest@rabbit:5673/prod") == "amqp://rabbit:5673/prod"
    assert redact("amqps://u:p@rabbit") == "amqps://rabbit:5671/"
    assert redact("amqp://localhost") == "amqp://localhost:5672/"


def _rabbitmqctl(*args: str) -> str:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not on PATH: cannot cut a connection from the broker side")
    try:
        done = subprocess.run(
            ["rabbitmqctl", *args], capture_output=True, text=True, timeout=30, check=True
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"rabbitmqctl cannot manage the broker here: {exc}")
    return done.stdout


def _close_connection_named(name: str) -> None:
    """Close, from the broker's side, the connections named ``name`` (and only those)."""
    listing = _rabbitmqctl(
        "list_connections", "-q", "--no-table-headers", "pid", "client_properties"
    )
    marker = f'{{"connection_name","{name}"}}'
    pids = [line.split("\t", 1)[0] for line in listing.splitlines() if marker in line]
    if not pids:
        pytest.skip(f"rabbitmqctl does not list the connection {name!r} (another broker?)")
    for pid in pids:
        _rabbitmqctl("close_connection", pid, "test: broker-side cut")


async def test_after_a_broker_side_cut_the_connection_recovers_publishing_and_consuming(
    connection: AbstractRobustConnection,
    channel: AbstractChannel,
    publisher: Publisher,
    topology: Topology,
    probe: Probe,
) -> None:
    received: asyncio.Queue[IncomingMessage] = asyncio.Queue()

    async def handle(incoming: IncomingMessage) -> Outcome:
        await received.put(incoming)
        return ACK

    consumer = await asyncio.wait_for(
        consume(channel, topology.commands_queue, handle, prefetch=5, topology=topology), 10
    )
    await asyncio.to_thread(_close_connection_named, f"safepoint-test-{topology.prefix}")

    # The publish waits for the reconnection (bounded by the confirm timeout).
    await probe.bounded(
        publisher.publish(
            topology.commands_exchange, topology.commands_routing_key, CompleteTask(task_id="after")
        ),
        20,
    )
    incoming = await asyncio.wait_for(received.get(), 20)
    await consumer.stop(timeout=5)

    assert incoming.message == CompleteTask(task_id="after")
