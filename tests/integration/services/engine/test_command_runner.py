"""The HTTP layer's command runner: commands in a worker thread, their publishing on the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Iterator
from typing import cast

import pytest
from bpmn_doc import chain, definitions, element, process

from safepoint import Engine, ManualClock, ProcessInstance
from safepoint.core.outcome import CommandOutcome
from safepoint.messaging.outbox import OutboxRelay
from safepoint.messaging.publisher import Publisher
from safepoint_engine.api.common import CommandRunner

pytestmark = pytest.mark.anyio

ORDER = definitions(
    process(
        "order",
        element("startEvent", "start"),
        element("serviceTask", "ship", camunda__asyncBefore="true", camunda__expression="${true}"),
        element("endEvent", "end"),
        *chain("start", "ship", "end"),
    )
)
"""Runs to its first safe point: a start commits the instance and a job to publish."""


class RecordingRelay(OutboxRelay):
    """The outbox relay, recording what it publishes and on which thread, not publishing."""

    def __init__(self) -> None:
        super().__init__(cast(Publisher, None), asyncio.get_running_loop())
        self.published: list[tuple[str, int]] = []
        self.events: list[str] = []

    async def publish(self, outcome: CommandOutcome, *, held: Collection[str] = ()) -> None:
        self.published.append((outcome.process_instance_id, threading.get_ident()))
        self.events.append("published")


class Hook:
    """An ``on_commit`` hook that forwards to whatever relay the test sets."""

    def __init__(self) -> None:
        self.relay: OutboxRelay | None = None
        self.threads: list[int] = []

    def __call__(self, outcome: CommandOutcome) -> None:
        self.threads.append(threading.get_ident())
        if self.relay is not None:
            self.relay(outcome)


@pytest.fixture
def hook() -> Hook:
    return Hook()


@pytest.fixture
def engine(database_url: str, clock: ManualClock, hook: Hook) -> Iterator[Engine]:
    with Engine(database_url, clock=clock, on_commit=hook) as engine:
        engine.deploy("test", {"order.bpmn": ORDER})
        yield engine


async def test_the_loop_publishes_what_the_command_committed_once_its_thread_returns(
    engine: Engine, hook: Hook
) -> None:
    relay = hook.relay = RecordingRelay()

    def start() -> ProcessInstance:
        instance = engine.start_process_instance_by_key("order")
        relay.events.append("returned")
        return instance

    instance = await CommandRunner(relay)(start)

    assert relay.events == ["returned", "published"]  # the thread did not wait for it
    loop_thread = threading.get_ident()
    assert relay.published == [(instance.id, loop_thread)]  # once, from the event loop
    assert hook.threads and loop_thread not in hook.threads  # the engine ran in a worker


async def test_what_committed_is_published_when_the_command_fails_afterwards(
    engine: Engine, hook: Hook
) -> None:
    relay = hook.relay = RecordingRelay()
    started: list[str] = []

    def start_then_fail() -> None:
        started.append(engine.start_process_instance_by_key("order").id)
        raise LookupError("the second step of the command failed")

    with pytest.raises(LookupError, match="second step"):
        await CommandRunner(relay)(start_then_fail)

    assert [instance for instance, _thread in relay.published] == started


async def test_without_messaging_the_hook_runs_in_the_worker_thread_as_it_is(
    engine: Engine, hook: Hook
) -> None:
    instance = await CommandRunner(None)(engine.start_process_instance_by_key, "order")

    assert instance.process_definition_key == "order"
    assert len(hook.threads) == 1 and hook.threads[0] != threading.get_ident()


async def test_what_commits_after_the_caller_is_cancelled_is_published_once_it_is_done(
    engine: Engine, hook: Hook
) -> None:
    """A channel closing cancels the handler; the command's thread goes on and commits."""
    relay = hook.relay = RecordingRelay()
    release = threading.Event()
    started: list[str] = []

    def start_then_wait() -> None:
        release.wait(10)
        started.append(engine.start_process_instance_by_key("order").id)

    waiting = asyncio.ensure_future(CommandRunner(relay)(start_then_wait))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()

    for _ in range(200):
        if relay.published:
            break
        await asyncio.sleep(0.02)
    assert [instance for instance, _thread in relay.published] == started
