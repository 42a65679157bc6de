"""The engine's dispatcher: publishes due jobs and external tasks that no one else will.

The outbox relay publishes what a command creates right after its commit, and every new
job or external task is leased to its creator for a while. The dispatcher publishes
what is due and leased to no one (:meth:`Engine.lease_due_jobs
<safepoint.embedded.Engine.lease_due_jobs>`):

- jobs and external tasks whose publish was lost (the lease ran out),
- jobs whose retry delay or timer has passed, and jobs whose retries an operator set
  again,
- jobs whose executor died (its lease ran out),
- external tasks whose retry timeout has passed.

Every ``prune_interval`` seconds it also forgets the processed commands older than the
command retention (:meth:`Engine.prune_processed_commands
<safepoint.embedded.Engine.prune_processed_commands>`): a command redelivered later
than that would run again.

Leasing is one transaction that marks the rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so several engine replicas can dispatch at once without publishing a row
twice in one lease period. A row leased but not published (the broker was away) is
published again once its lease runs out. A database or broker error never ends the
loop: it is logged and the round is tried again after a back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Final

from safepoint import metrics
from safepoint.core.entities import ExternalTask
from safepoint.embedded import CommandOutcome, Engine, utc_now
from safepoint.errors import NotFound
from safepoint.messaging.outbox import OutboxRelay

logger = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL: Final = 0.5
"""Seconds between rounds when the last round found less than a full batch."""

DEFAULT_BATCH: Final = 500
"""The most jobs (and, separately, external tasks) leased per round."""

DEFAULT_COMMAND_RETENTION: Final = timedelta(days=7)
"""How long a processed command is remembered (a redelivery within it does not run again)."""

DEFAULT_PRUNE_INTERVAL: Final = 60.0
"""Seconds between prunings of the processed commands."""

PRUNE_BATCH: Final = 10_000
"""The most processed commands forgotten per statement."""

PRUNE_BATCHES: Final = 10
"""The most statements per pruning (the rest waits for the next one)."""

DEFAULT_MAX_BACKOFF: Final = 30.0
"""The longest wait before a round is tried again after a failure."""


class Dispatcher:
    """Leases due jobs and external tasks and publishes them, round after round.

    Args:
        engine: leases the rows (in worker threads); its ``node_name`` holds the leases.
        relay: publishes the messages (with publisher confirms) on the event loop.
        poll_interval: seconds between rounds that found less than a full batch; a
            round that filled a batch is followed by the next at once.
        batch: the most jobs, and the most external tasks, leased per round.
        max_backoff: the longest wait after failed rounds (the wait starts at
            ``poll_interval`` and doubles per failure in a row).
        command_retention: how long processed commands are remembered.
        prune_interval: seconds between prunings of the processed commands.
    """

    def __init__(
        self,
        engine: Engine,
        relay: OutboxRelay,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        batch: int = DEFAULT_BATCH,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        command_retention: timedelta = DEFAULT_COMMAND_RETENTION,
        prune_interval: float = DEFAULT_PRUNE_INTERVAL,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval}")
        self._engine = engine
        self._relay = relay
        self._poll_interval = poll_interval
        self._batch = batch
        self._max_backoff = max(max_backoff, poll_interval)
        self._command_retention = command_retention
        self._prune_interval = prune_interval
        self._pruned_at: float | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the loop is running."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Run the loop in a task of the running event loop until :meth:`stop`."""
        if self.running:
            raise RuntimeError("the dispatcher is running already")
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self.run(), name="safepoint-dispatcher")

    async def stop(self, *, timeout: float = 10.0) -> None:
        """End the loop after its current round (cancelled if that takes over ``timeout`` s)."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            logger.warning("the dispatcher's round did not end within %s s; cancelling it", timeout)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def run(self) -> None:
        """Dispatch round after round until :meth:`stop`; failures are logged and retried."""
        failures = 0
        while not self._stopping.is_set():
            try:
                full = await self.dispatch_once()
            except Exception as exc:
                failures += 1
                delay = min(self._poll_interval * 2 ** (failures - 1), self._max_backoff)
                logger.warning(
                    "dispatching failed (%d in a row), trying again in %.1f s: %s",
                    failures,
                    delay,
                    exc,
                    exc_info=failures == 1,
                )
                await self._sleep(delay)
                continue
            if failures:
                logger.info("dispatching works again after %d failed rounds", failures)
                failures = 0
            await self._prune_when_due()
            if full:
                await asyncio.sleep(0)  # let the loop breathe between full batches
            else:
                await self._sleep(self._poll_interval)

    async def dispatch_once(self) -> bool:
        """One round: lease and publish due jobs, then due external tasks.

        Returns:
            Whether a batch was full (more may be due right away).

        Raises:
            PersistenceError: the database failed (nothing leased, or leased rows are
                published again once their lease runs out).
            MessagingError: publishing failed (the leased rows are published again
                once their lease runs out).
        """
        jobs = await asyncio.to_thread(self._engine.lease_due_jobs, self._batch)
        if jobs:
            await self._relay.publish_jobs(jobs)
            now = utc_now()
            for job in jobs:
                late = (now - (job.due_at or job.created_at)).total_seconds()
                metrics.DISPATCHER_LAG.observe(max(late, 0.0))
            metrics.DISPATCHED.labels(kind="job").inc(len(jobs))
            logger.info("dispatched %d due job(s)", len(jobs))
        tasks = await asyncio.to_thread(self._engine.lease_due_external_tasks, self._batch)
        if tasks:
            await self._publish_external_tasks(tasks)
            metrics.DISPATCHED.labels(kind="external_task").inc(len(tasks))
            logger.info("dispatched %d due external task(s)", len(tasks))
        return len(jobs) >= self._batch or len(tasks) >= self._batch

    async def prune_once(self) -> int:
        """Forget processed commands older than the retention, a few batches at most.

        Returns:
            How many were forgotten; what is left waits for the next pruning, so that
            due jobs never wait for a long pruning (after the retention was lowered).

        Raises:
            PersistenceError: the database failed (tried again at the next pruning).
        """
        forgotten = 0
        for _ in range(PRUNE_BATCHES):
            batch = await asyncio.to_thread(
                self._engine.prune_processed_commands, self._command_retention, limit=PRUNE_BATCH
            )
            forgotten += batch
            if batch < PRUNE_BATCH or self._stopping.is_set():
                break
        if forgotten:
            logger.info(
                "forgot %d command(s) processed over %s ago", forgotten, self._command_retention
            )
        return forgotten

    async def _prune_when_due(self) -> None:
        """Prune once per ``prune_interval``; a failure is logged, and dispatching goes on."""
        now = asyncio.get_running_loop().time()
        if self._pruned_at is not None and now - self._pruned_at < self._prune_interval:
            return
        self._pruned_at = now
        try:
            await self.prune_once()
        except Exception as exc:
            logger.warning(
                "forgetting processed commands failed, trying again in %g s: %s",
                self._prune_interval,
                exc,
            )

    async def _publish_external_tasks(self, tasks: list[ExternalTask]) -> None:
        """Publish tasks with their instance's variables and business key, as the relay does."""
        outcomes = await asyncio.to_thread(self._outcomes, tasks)
        results = await asyncio.gather(
            *(self._relay.publish(outcome) for outcome in outcomes), return_exceptions=True
        )
        errors = [result for result in results if isinstance(result, BaseException)]
        for error in errors:
            if not isinstance(error, Exception):
                raise error
        if errors:
            raise errors[0]

    def _outcomes(self, tasks: Iterable[ExternalTask]) -> list[CommandOutcome]:
        """One outcome per process instance, holding its tasks (read in a worker thread).

        Tasks of an instance deleted meanwhile are left out: their rows are gone too.
        """
        by_instance: dict[str, list[ExternalTask]] = {}
        for task in tasks:
            by_instance.setdefault(task.process_instance_id, []).append(task)
        outcomes = []
        for process_instance_id, instance_tasks in by_instance.items():
            try:
                instance = self._engine.process_instance(process_instance_id)
                variables = self._engine.variables(process_instance_id)
            except NotFound:
                continue
            outcomes.append(
                CommandOutcome(
                    process_instance_id=instance.id,
                    process_definition_id=instance.process_definition_id,
                    process_definition_key=instance.process_definition_key,
                    business_key=instance.business_key,
                    started_at=instance.started_at,
                    variables=variables,
                    external_tasks=tuple(instance_tasks),
                )
            )
        return outcomes

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if :meth:`stop` is called meanwhile."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass
