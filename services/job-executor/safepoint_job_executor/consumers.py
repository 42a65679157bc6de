"""The job-executor's consumer: job messages from ``safepoint.jobs``, each run in a worker thread.

Up to ``prefetch`` messages are unacknowledged at a time (8 × the worker threads by
default), and ``concurrency`` worker threads run them. A delivered message goes to the
thread pool's queue, which a thread that finishes a job takes its next one from without
waiting for the event loop; an exclusive job whose process instance already has an
exclusive job running or queued here first waits for its turn on the event loop
(:mod:`safepoint_job_executor.turns`), rather than in a thread blocked on the instance's
row lock. A message is settled only after its job's transaction has
committed and the next jobs were published (commit → publish → ack: the worker thread
commits and returns what it committed, the event loop publishes it with confirms, then
acks): a crash at any point leaves the message unacknowledged, and RabbitMQ redelivers it
to another executor.

Stopping (:meth:`JobConsumer.stop`) cancels the consumer first, so no new message
arrives, and requeues every message that has not started, for another executor: at once
if it waits in the pool's queue (its work is cancelled there), when its turn comes if it
waits behind a running job of its instance. Then it waits for the running jobs, whose
messages are then settled. What still runs when the wait is over stays unacknowledged,
and is redelivered once the channel closes.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import logging
import threading
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aio_pika.abc import AbstractChannel

from safepoint import tracing
from safepoint.contract import ExecuteJob
from safepoint.core.entities import Job
from safepoint.core.outcome import CommandOutcome
from safepoint.errors import SafepointError
from safepoint.logs import log_context
from safepoint.messaging import (
    ACK,
    REQUEUE,
    Consumer,
    DeadLetter,
    HeaderValue,
    IncomingMessage,
    Outcome,
    Outgoing,
    Publisher,
    Topology,
    consume,
    dead_letter_headers,
)
from safepoint.messaging.outbox import OutboxRelay, job_message
from safepoint_job_executor.metrics import JobMetrics
from safepoint_job_executor.service import Decision, JobExecution, Settle
from safepoint_job_executor.turns import InstanceTurns

PREFETCH_PER_THREAD = 8
"""The default prefetch, per worker thread.

Measured with the benchmark's chain (2 executors of 8 threads, alternated runs): against
a prefetch of 8, RabbitMQ spent about a fifth less CPU per safe point and the chain ran
about 15% faster (+11% on the medians, then +5% once waiting jobs queued in the pool
itself; README, Performance); a wide fork's jobs, which take turns, no longer fill it.
"""

DEFAULT_FOLLOW_UPS = 100
"""Follow-up jobs run here per delivered message before the rest goes back to the queue.

Camunda runs an exclusive job's follow-ups in the same thread for as long as they come;
the bound keeps one long-running instance from holding a worker thread and its
delivered message indefinitely: past it, the next job is published like any other.
"""

logger = logging.getLogger(__name__)


class JobConsumer:
    """Consumes job messages and runs each with :class:`JobExecution` in a worker thread.

    Args:
        execution: decides what happens to each message.
        concurrency: how many jobs run at once (the worker threads).
        prefetch: how many messages are unacknowledged at a time, at least
            ``concurrency`` (``PREFETCH_PER_THREAD`` × ``concurrency`` by default).
        topology: the queue names (``safepoint.*`` by default).
        relay: the engine's ``on_commit`` relay: what a job commits is published by
            the event loop after its thread returns (saving two thread hand-offs per
            message). Without it, the relay publishes from the worker thread.
        follow_ups: how many follow-up jobs run here per delivered message (see
            :meth:`handle`); 0 publishes every job. Needs ``relay``.
    """

    def __init__(
        self,
        execution: JobExecution,
        *,
        concurrency: int,
        prefetch: int | None = None,
        topology: Topology | None = None,
        relay: OutboxRelay | None = None,
        follow_ups: int = DEFAULT_FOLLOW_UPS,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if prefetch is None:
            prefetch = PREFETCH_PER_THREAD * concurrency
        if prefetch < concurrency:
            raise ValueError(
                f"prefetch ({prefetch}) must be at least the concurrency ({concurrency})"
            )
        if follow_ups < 0:
            raise ValueError(f"follow_ups must be at least 0, not {follow_ups}")
        self._execution = execution
        self._relay = relay
        self._follow_up_limit = follow_ups if relay is not None else 0
        self._publisher: Publisher | None = None
        self._concurrency = concurrency
        self._prefetch = prefetch
        self._topology = topology or Topology()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="job")
        self._busy_threads = 0
        self._busy_lock = threading.Lock()
        self._consumer: Consumer | None = None
        self._channel: AbstractChannel | None = None
        self._stopping = asyncio.Event()
        self._turns = InstanceTurns()
        self._metrics = execution.metrics  # the waits for an instance's turn too

    @property
    def metrics(self) -> JobMetrics:
        """The counters of the jobs this consumer runs."""
        return self._metrics

    @property
    def in_flight(self) -> int:
        """How many messages are being handled right now."""
        return 0 if self._consumer is None else self._consumer.in_flight

    @property
    def busy_threads(self) -> int:
        """How many worker threads are running a job (they outlive a cut-short stop)."""
        return self._busy_threads

    @property
    def ready(self) -> bool:
        """Whether messages are being consumed: started, not stopping, channel open."""
        return (
            self._consumer is not None
            and not self._stopping.is_set()
            and self._channel is not None
            and not self._channel.is_closed
        )

    async def start(self, channel: AbstractChannel, publisher: Publisher) -> None:
        """Start consuming the jobs queue on ``channel`` (its prefetch is set here).

        Args:
            channel: a channel with publisher confirms, for this consumer.
            publisher: publishes dead-lettered copies (confirmed).

        Raises:
            MessagingError: the queue does not exist (declare the topology first).
            BrokerUnavailable: the connection is lost.
        """
        self._channel = channel
        self._publisher = publisher
        self._consumer = await consume(
            channel,
            self._topology.jobs_queue,
            self.handle,
            prefetch=self._prefetch,
            topology=self._topology,
            accepts=(ExecuteJob,),
            publisher=publisher,
        )
        logger.info(
            "consuming %s with %d worker threads, prefetch %d",
            self._topology.jobs_queue,
            self._concurrency,
            self._prefetch,
        )

    async def handle(self, incoming: IncomingMessage) -> Outcome:
        """Run one job message in a worker thread and translate the decision.

        An exclusive job's follow-ups run here, right after it, as in Camunda (its
        ``JobManager.hintJobExecutor``): the exclusive, due jobs of the same process
        instance that its run committed are not published but run next, each in a
        transaction of its own, still in this instance's turn, then theirs, up to
        ``follow_ups`` per message. A follow-up's row is leased to this executor from
        its creation: if this process dies first, the lease runs out and the engine's
        dispatcher publishes it. The message is acknowledged once they have run.
        """
        message = incoming.message
        if not isinstance(message, ExecuteJob):  # the consumer accepts nothing else
            return DeadLetter(f"{incoming.message_type} is not a job message")
        with log_context(process_instance_id=message.process_instance_id, job_id=message.job_id):
            if not message.exclusive:
                ran = await self._in_thread(message, incoming.delivery_count)
            else:
                instance_id = message.process_instance_id
                waits = self._turns.busy(instance_id)
                async with self._turns.turn(instance_id):
                    if waits:
                        self._metrics.instance_waits.inc()
                    ran = await self._in_thread(message, incoming.delivery_count)
                    if ran is not None:
                        ran = ran[0], await self._follow(message, *ran)
            if ran is None:  # stopping before it started: another executor runs it
                return REQUEUE
            decision, committed = ran
            await self._publish(committed)
            return await self._outcome(decision)

    def _follow_ups_of(
        self, message: ExecuteJob, decision: Decision, committed: list[CommandOutcome]
    ) -> list[Job]:
        """The jobs ``message``'s run committed that run here next, in creation order."""
        if decision.settle is not Settle.ACK or not message.exclusive:
            return []
        now = self._execution.now()
        return [
            job
            for outcome in committed
            for job in outcome.jobs
            if job.exclusive
            and job.process_instance_id == message.process_instance_id
            and job.retries > 0
            and (job.due_at is None or job.due_at <= now)
        ]

    async def _follow(
        self, message: ExecuteJob, decision: Decision, committed: list[CommandOutcome]
    ) -> list[CommandOutcome]:
        """Run the follow-ups of ``message``'s run; return what is still to publish.

        What is not run here goes through the queue: past the budget, once stopping, once
        a follow-up's lease is half gone (its row is leased to this executor from its
        creation: past the lease the dispatcher would publish it while it waits here), and
        after a follow-up whose run is in doubt (requeued: the database is away). If the
        handler is cancelled (its channel closes), what waits is published in the
        background.
        """
        if not self._follow_up_limit:
            return committed
        waiting = collections.deque(self._follow_ups_of(message, decision, committed))
        if not waiting:
            return committed
        await self._publish(committed, held={job.id for job in waiting})
        budget = self._follow_up_limit
        try:
            while waiting:
                job = waiting[0]
                if not budget or self._stopping.is_set() or self._lease_half_gone(job):
                    break
                budget -= 1
                with log_context(job_id=job.id):
                    ran = await self._follow_up(job, waiting)
                if not ran:
                    break
                waiting.popleft()
        except asyncio.CancelledError:
            if self._relay is not None and waiting:
                self._relay.in_background(self._publish_jobs(list(waiting)))
            raise
        if waiting:  # for any executor, through the queue
            await self._publish_jobs(list(waiting))
        return []

    async def _follow_up(self, job: Job, waiting: collections.deque[Job]) -> bool:
        """Run ``job``, the first of ``waiting``, and queue its own follow-ups behind.

        Returns whether it ran to a decision that needs nothing more of the queue.
        """
        follow = job_message(job, self._topology)
        assert isinstance(follow.message, ExecuteJob)
        ran = await self._in_thread(follow.message, 0, follow.headers)
        if ran is None:  # stopping: it goes through the queue with the rest
            return False
        self._metrics.follow_ups.inc()
        followed, outcomes = ran
        following = self._follow_ups_of(follow.message, followed, outcomes)
        await self._publish(outcomes, held={job.id for job in following})
        waiting.extend(following)
        if followed.settle is Settle.REQUEUE:  # its run is in doubt: the queue retries it
            return False
        if followed.settle is Settle.DEAD_LETTER:
            await self._dead_letter(follow, followed)
        return True

    def _lease_half_gone(self, job: Job) -> bool:
        if job.lock_expires_at is None:
            return False
        lease = job.lock_expires_at - job.created_at
        return self._execution.now() >= job.created_at + lease / 2

    async def _publish(
        self, committed: list[CommandOutcome], *, held: Collection[str] = ()
    ) -> None:
        if committed and self._relay is not None:
            await self._relay.publish_committed(committed, held=held)

    async def _publish_jobs(self, jobs: list[Job]) -> None:
        assert self._relay is not None  # follow-ups need it
        try:
            await self._relay.publish_jobs(jobs)
        except (SafepointError, TimeoutError, ConnectionError) as exc:  # republished later
            logger.warning(
                "could not publish %d job(s) of process instance %s (%r); the dispatcher "
                "publishes them when their lease runs out",
                len(jobs),
                jobs[0].process_instance_id,
                exc,
            )

    async def _dead_letter(self, follow: Outgoing, decision: Decision) -> None:
        """Put a copy of a follow-up that used its last retry on the dead-letter queue.

        What the consumer does with the message of such a job; a follow-up has none.
        """
        assert self._publisher is not None  # started
        topology = self._topology
        headers: dict[str, HeaderValue] = dict(follow.headers or {})
        headers.update(decision.headers)
        headers.update(
            dead_letter_headers(
                decision.reason,
                message_type=str(follow.message.message_type),
                queue=topology.jobs_queue,
                exchange=follow.exchange,
                routing_key=follow.routing_key,
            )
        )
        assert isinstance(follow.message, ExecuteJob)
        job_id = follow.message.job_id
        copy = Outgoing(
            topology.dead_letter_exchange,
            topology.dead_letter_queue(topology.jobs_queue),
            follow.message,
            headers=headers,
            mandatory=True,
        )
        try:
            await self._publisher.publish_many([copy])
        except (SafepointError, TimeoutError, ConnectionError) as exc:
            logger.error(
                "could not dead-letter follow-up job %s (%r); its incident is open",
                job_id,
                exc,
            )

    async def _in_thread(
        self,
        message: ExecuteJob,
        delivery_count: int,
        trace: Mapping[str, HeaderValue] | None = None,
    ) -> tuple[Decision, list[CommandOutcome]] | None:
        """Run the job in a worker thread; ``None`` if the consumer stops before it starts.

        ``trace`` is a follow-up's stored trace context: its run continues that trace.
        """
        if self._stopping.is_set():
            return None
        # The worker thread runs under this task's context (the consumer span's, and the
        # job's ids for its log lines).
        context = contextvars.copy_context()
        work = self._pool.submit(context.run, self._run, message, delivery_count, trace)
        try:
            return await asyncio.wrap_future(work)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._stopping.is_set() and task is not None and not task.cancelling():
                return None  # taken off the pool's queue by stop() before it started
            # A handler cancelled when its channel closes cancels its job if the job
            # still waits in the pool's queue; a running one goes on in its thread while
            # the handler gives its instance's turn up (waiting for it would hold a stop
            # past its grace period): a redelivered job of the instance may then wait for
            # the row lock. What that run commits is published once it is done.
            if not work.cancel():
                loop = asyncio.get_running_loop()

                def hand_back(done: concurrent.futures.Future[Any]) -> None:
                    with contextlib.suppress(RuntimeError):  # the loop is closed: the lease
                        loop.call_soon_threadsafe(self._publish_orphaned, done)

                work.add_done_callback(hand_back)
            raise

    def _publish_orphaned(
        self, done: concurrent.futures.Future[tuple[Decision, list[CommandOutcome]]]
    ) -> None:
        """Publish what a run whose handler was cancelled committed (on the event loop)."""
        if done.cancelled() or done.exception() is not None or self._relay is None:
            return
        _decision, committed = done.result()
        if committed:
            self._relay.in_background(self._relay.publish_committed(committed))

    def _run(
        self,
        message: ExecuteJob,
        delivery_count: int,
        trace: Mapping[str, HeaderValue] | None = None,
    ) -> tuple[Decision, list[CommandOutcome]]:
        with self._busy_lock:
            self._busy_threads += 1
        try:
            if self._relay is None:
                return self._execution.execute(message, delivery_count=delivery_count), []
            with self._relay.deferred() as committed, tracing.continuing(trace or {}):
                decision = self._execution.execute(message, delivery_count=delivery_count)
            return decision, committed
        finally:
            with self._busy_lock:
                self._busy_threads -= 1

    async def _outcome(self, decision: Decision) -> Outcome:
        if decision.settle is Settle.ACK:
            return ACK
        if decision.settle is Settle.DEAD_LETTER:
            return DeadLetter(decision.reason, headers=dict(decision.headers))
        if decision.delay > 0 and not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), decision.delay)
            except TimeoutError:
                pass
        return REQUEUE

    async def stop(self, grace: float) -> None:
        """Stop taking messages, then wait up to ``grace`` seconds for running jobs.

        Messages of jobs that finish in time are settled; the others stay
        unacknowledged and are redelivered when the channel closes.
        """
        self._stopping.set()
        # What waits in the pool's queue is cancelled there, and requeued now.
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._consumer is not None:
            await self._consumer.stop(timeout=grace)

    def close(self) -> None:
        """Release the worker threads; a job still running goes on until it ends."""
        self._pool.shutdown(wait=False, cancel_futures=True)
