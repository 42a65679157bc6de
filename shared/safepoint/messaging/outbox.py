"""The transactional outbox's relay: publish what a committed command created.

The database is the source of truth: jobs and external tasks are rows committed with
the state that created them, each leased to its creator. Right after the commit the
relay publishes one message per job (``safepoint.jobs``), per external task (its
topic on ``safepoint.external``) and the events (``safepoint.events``), with publisher
confirms. If that publish is lost (the process dies, the broker is away), the lease
runs out and the engine's dispatcher publishes the row again: a message may arrive
twice, a job is never lost.

The engine is synchronous and runs in worker threads; the relay's ``__call__`` is
the engine's ``on_commit`` hook, run in such a thread, which hands the publishing to
the event loop and waits for the confirms. A caller on the event loop that runs the
engine in a worker thread and awaits it (the job-executor, per message) can save those
two thread hand-offs: under :meth:`OutboxRelay.deferred` the hook only collects the
committed outcomes, and the caller publishes them with
:meth:`OutboxRelay.publish_committed` once the thread returns, still before it
acknowledges the message (or answers the request) that caused them;
:meth:`OutboxRelay.run_deferred` does both around one call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from safepoint import metrics, tracing
from safepoint.contract import (
    ExecuteJob,
    ExternalTaskCreated,
    IncidentCreated,
    ProcessInstanceCompleted,
    ProcessInstanceStarted,
)
from safepoint.contract.channels import Topology
from safepoint.contract.envelope import TRACEPARENT_HEADER, TRACESTATE_HEADER
from safepoint.contract.variables import to_typed
from safepoint.core.entities import ExternalTask, Job
from safepoint.core.outcome import CommandOutcome
from safepoint.errors import SafepointError
from safepoint.messaging.publisher import Outgoing, Publisher
from safepoint.messaging.topology import declare_external_topic

logger = logging.getLogger(__name__)

T = TypeVar("T")


def trace_headers(context: dict[str, str]) -> dict[str, str]:
    """The W3C trace headers stored with a job or external task."""
    return {
        name: context[name] for name in (TRACEPARENT_HEADER, TRACESTATE_HEADER) if name in context
    }


def job_message(job: Job, topology: Topology) -> Outgoing:
    """The message that asks a job executor to run ``job``."""
    return Outgoing(
        exchange=topology.jobs_exchange,
        routing_key=topology.jobs_routing_key,
        message=ExecuteJob(
            job_id=job.id,
            process_instance_id=job.process_instance_id,
            process_definition_key=job.process_definition_key,
            activity_id=job.activity_id,
            configuration=job.configuration,
            exclusive=job.exclusive,
            retries=job.retries,
        ),
        headers=trace_headers(job.trace_context),
    )


def external_task_message(
    task: ExternalTask,
    topology: Topology,
    *,
    business_key: str | None = None,
    variables: dict[str, object] | None = None,
) -> Outgoing:
    """The message that hands ``task`` to the workers of its topic."""
    return Outgoing(
        exchange=topology.external_exchange,
        routing_key=task.topic,
        message=ExternalTaskCreated(
            external_task_id=task.id,
            topic=task.topic,
            process_instance_id=task.process_instance_id,
            process_definition_key=task.process_definition_key,
            activity_id=task.activity_id,
            business_key=business_key,
            variables=to_typed(variables or {}),
            retries=task.retries,
            priority=task.priority,
        ),
        headers=trace_headers(task.trace_context),
    )


def event_messages(outcome: CommandOutcome, topology: Topology) -> list[Outgoing]:
    """The events of one outcome: instance started and completed, incidents opened."""
    events: list[Outgoing] = []

    def add(message: ProcessInstanceStarted | ProcessInstanceCompleted | IncidentCreated) -> None:
        events.append(Outgoing(topology.events_exchange, message.routing_key, message))

    if outcome.started:
        add(
            ProcessInstanceStarted(
                process_instance_id=outcome.process_instance_id,
                process_definition_id=outcome.process_definition_id,
                process_definition_key=outcome.process_definition_key,
                business_key=outcome.business_key,
                started_at=outcome.started_at,
            )
        )
    for incident in outcome.incidents:
        add(
            IncidentCreated(
                incident_id=incident.id,
                incident_type=incident.incident_type,
                process_instance_id=incident.process_instance_id,
                process_definition_id=incident.process_definition_id,
                activity_id=incident.activity_id,
                message=incident.message,
                configuration=incident.configuration,
                created_at=incident.created_at,
            )
        )
    if outcome.ended and outcome.ended_at is not None:
        add(
            ProcessInstanceCompleted(
                process_instance_id=outcome.process_instance_id,
                process_definition_id=outcome.process_definition_id,
                process_definition_key=outcome.process_definition_key,
                business_key=outcome.business_key,
                ended_at=outcome.ended_at,
            )
        )
    return events


_DEFERRED: ContextVar[list[CommandOutcome] | None] = ContextVar(
    "safepoint_outbox_deferred", default=None
)
"""Where committed outcomes go instead of being published, inside ``deferred()``."""


class OutboxRelay:
    """Publishes committed outcomes; the engine's ``on_commit`` hook.

    Args:
        publisher: a publisher on a channel with confirms, owned by ``loop``.
        loop: the event loop the publisher lives on.
        topology: the exchange and queue names.
        timeout: seconds a worker thread waits for the confirms.
    """

    def __init__(
        self,
        publisher: Publisher,
        loop: asyncio.AbstractEventLoop,
        *,
        topology: Topology | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Relay through ``publisher`` on ``loop``."""
        self._publisher = publisher
        self._loop = loop
        self._topology = topology or Topology()
        self._timeout = timeout
        self._topics: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()

    def __call__(self, outcome: CommandOutcome) -> None:
        """Publish ``outcome`` from a worker thread; a failure is logged, not raised.

        The state is committed already: a lost publish is the dispatcher's to repair.
        """
        metrics.record_outcome(outcome)
        deferred = _DEFERRED.get()
        if deferred is not None:
            deferred.append(outcome)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("call the engine from a worker thread, not from the event loop")
        future = asyncio.run_coroutine_threadsafe(
            tracing.carry_context(self.publish(outcome)), self._loop
        )
        try:
            future.result(self._timeout)
        except (SafepointError, TimeoutError, ConnectionError) as exc:
            future.cancel()
            logger.warning(
                "publishing after commit failed for process instance %s (%r); "
                "the dispatcher will publish its jobs when their lease runs out",
                outcome.process_instance_id,
                exc,
            )

    @staticmethod
    @contextmanager
    def deferred() -> Iterator[list[CommandOutcome]]:
        """Collect what commits in this block (this thread's context) instead of publishing it.

        Yields the list the committed outcomes are appended to; publish them with
        :meth:`publish_committed` from the event loop before acknowledging whatever
        caused them.
        """
        outcomes: list[CommandOutcome] = []
        token = _DEFERRED.set(outcomes)
        try:
            yield outcomes
        finally:
            _DEFERRED.reset(token)

    async def run_deferred(
        self,
        in_thread: Callable[[Callable[[], T]], Awaitable[T]],
        command: Callable[[], T],
    ) -> T:
        """Run ``command`` in a worker thread, then publish what it committed from the loop.

        ``in_thread`` runs it there (``asyncio.to_thread``...), under :meth:`deferred`.
        What committed is published even when ``command`` fails afterwards, and when the
        caller is cancelled meanwhile (a channel closing): the thread goes on, and what
        it commits is published once it is done.
        """
        committed: list[CommandOutcome] = []

        def collecting() -> T:
            with self.deferred() as outcomes:
                try:
                    return command()
                finally:
                    committed.extend(outcomes)

        work = asyncio.ensure_future(in_thread(collecting))
        handed_off = False
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            handed_off = True
            work.add_done_callback(lambda _: self._after_cancel(work, committed))
            raise
        finally:
            if committed and not handed_off:
                await self.publish_committed(committed)

    def _after_cancel(self, work: asyncio.Future[Any], committed: list[CommandOutcome]) -> None:
        if not work.cancelled():
            work.exception()  # the caller is gone: a failure was logged by the engine
        if committed:
            self.in_background(self.publish_committed(committed))

    def in_background(self, publishing: Coroutine[Any, Any, None]) -> None:
        """Run ``publishing`` on the loop without a caller to wait for it (one cancelled).

        Its failures are logged by the publishing itself; the task is kept until done.
        """
        task = self._loop.create_task(publishing)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def publish_committed(
        self, outcomes: Iterable[CommandOutcome], *, held: Collection[str] = ()
    ) -> None:
        """Publish outcomes collected under :meth:`deferred`; a failure is logged, not raised.

        As for the hook: the state is committed already, so a lost publish is the
        dispatcher's to repair. The jobs named in ``held`` are not published: the caller
        runs them itself (a job-executor's follow-up jobs).
        """
        for outcome in outcomes:
            try:
                async with asyncio.timeout(self._timeout):
                    await self.publish(outcome, held=held)
            except (SafepointError, TimeoutError, ConnectionError) as exc:
                logger.warning(
                    "publishing after commit failed for process instance %s (%r); "
                    "the dispatcher will publish its jobs when their lease runs out",
                    outcome.process_instance_id,
                    exc,
                )

    async def publish(self, outcome: CommandOutcome, *, held: Collection[str] = ()) -> None:
        """Publish the jobs, external tasks and events of ``outcome``; await the confirms.

        The jobs named in ``held`` are left out.
        """
        outgoing = [job_message(job, self._topology) for job in outcome.jobs if job.id not in held]
        for task in outcome.external_tasks:
            await self.ensure_topic(task.topic)
            outgoing.append(
                external_task_message(
                    task,
                    self._topology,
                    business_key=outcome.business_key,
                    variables=dict(outcome.variables),
                )
            )
        outgoing.extend(event_messages(outcome, self._topology))
        if outgoing:
            await self._publisher.publish_many(outgoing)

    async def publish_jobs(self, jobs: Iterable[Job]) -> None:
        """Publish job messages (the dispatcher's republishing)."""
        outgoing = [job_message(job, self._topology) for job in jobs]
        if outgoing:
            await self._publisher.publish_many(outgoing)

    async def ensure_topic(self, topic: str) -> None:
        """Declare the durable queue of an external-task topic once per process."""
        if topic in self._topics:
            return
        await declare_external_topic(self._publisher.channel, topic, self._topology)
        self._topics.add(topic)
