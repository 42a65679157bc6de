"""Running one job message: the job-executor's use case, and what to tell the broker after.

A job message only names a job row; the row, in the database, decides. For each
message :meth:`JobExecution.execute` reads the row, runs the job with the engine core
(:meth:`safepoint.Engine.execute_job`: in one transaction, read the row with its process
instance, locked for an exclusive job, check its retries and due date, run it,
continue to the next safe points, commit, publish the new jobs through the outbox
relay) and returns a :class:`Decision` for the message:

=====================================  ===============================================
what happened                          decision
=====================================  ===============================================
the job ran and committed              ack (its next jobs are published already)
the row is gone                        ack and drop: a duplicate (another executor, or
                                       an earlier delivery, ran it)
the row has no retries left            ack and drop without running: a stale copy; the
                                       job is exhausted and its incident open
the row is not due yet                 ack and drop without running: an early copy; the
                                       dispatcher publishes the job when it is due
optimistic locking conflict            ack: the failure was recorded without using up a
                                       retry and the job's lease released, so the
                                       dispatcher republishes it at once
failure, retries left                  ack: the failure is recorded (retries, exception,
                                       due date from the retry cycle); the dispatcher
                                       republishes the job when its retry delay has passed
failure, no retries left               dead-letter to ``safepoint.jobs.dlq`` with the
                                       job, instance, activity, exception type and
                                       message in ``x-safepoint-*`` headers; the
                                       ``failedJob`` incident exists in the database
the database cannot be read            requeue after a pause growing with the deliveries
=====================================  ===============================================

The dead-lettered copy is a notification for operators, not a job: the job row decides.
After ``PUT /engine-rest/job/{id}/retries`` the incident is resolved and the dispatcher
republishes the job; the copy in the dead-letter queue is then stale, which is
recognisable: the row of its ``x-safepoint-job-id`` has retries above 0, or is gone.
Never move a dead-lettered job message back to ``safepoint.jobs`` by hand: set the
job's retries instead.

Nothing here raises: whatever happens, the consumer gets a decision and goes on.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from safepoint import tracing
from safepoint.contract import ExecuteJob
from safepoint.core.entities import Job
from safepoint.embedded import Engine, JobSkip, use_trace_context, utc_now
from safepoint.errors import NotFound, OptimisticLockError, PersistenceError
from safepoint.persistence.store import Store
from safepoint_job_executor.metrics import JobMetrics

logger = logging.getLogger(__name__)

JOB_ID_HEADER: Final = "x-safepoint-job-id"
"""Dead-lettered job messages: the id of the job (its row decides whether the copy is stale)."""
PROCESS_INSTANCE_ID_HEADER: Final = "x-safepoint-process-instance-id"
"""Dead-lettered job messages: the process instance of the job."""
ACTIVITY_ID_HEADER: Final = "x-safepoint-activity-id"
"""Dead-lettered job messages: the activity the job continues from."""
FAILED_ACTIVITY_ID_HEADER: Final = "x-safepoint-failed-activity-id"
"""Dead-lettered job messages: the activity that actually failed (may lie further on)."""
EXCEPTION_TYPE_HEADER: Final = "x-safepoint-exception-type"
"""Dead-lettered job messages: the exception's class (``module.Class``, builtins bare)."""
EXCEPTION_MESSAGE_HEADER: Final = "x-safepoint-exception-message"
"""Dead-lettered job messages: the exception's message (cut to 2000 characters)."""
INCIDENT_ID_HEADER: Final = "x-safepoint-incident-id"
"""Dead-lettered job messages: the open ``failedJob`` incident of the job, when found."""

MAX_HEADER_TEXT: Final = 2000
"""Longer texts are cut short, so the headers stay well within a frame."""

DUE_TOLERANCE: Final = timedelta(seconds=2)
"""A job due this little later than the executor's clock still runs (clock skew between
the dispatcher, which published it when due by its clock, and this executor)."""

REQUEUE_BACKOFF: Final = 0.5
"""Seconds to wait before requeueing a message on its first delivery; doubled with every
redelivery, up to :data:`MAX_REQUEUE_BACKOFF`."""
MAX_REQUEUE_BACKOFF: Final = 30.0
"""The longest wait before requeueing a message."""


class Settle(enum.Enum):
    """What to do with a job message once it has been handled."""

    ACK = "ack"
    REQUEUE = "requeue"
    DEAD_LETTER = "dead-letter"


HeaderValue = str | int
"""The header values a :class:`Decision` carries."""


@dataclass(frozen=True, slots=True)
class Decision:
    """How to settle one job message, and why.

    ``delay`` is how long to wait before a requeue; ``reason`` and ``headers`` go with
    a dead-lettered copy.
    """

    settle: Settle
    reason: str = ""
    headers: Mapping[str, HeaderValue] = field(default_factory=dict, hash=False)
    delay: float = 0.0


ACK: Final = Decision(Settle.ACK)


def requeue_delay(delivery_count: int) -> float:
    """Seconds to wait before requeueing a message delivered ``delivery_count`` times before."""
    return min(MAX_REQUEUE_BACKOFF, REQUEUE_BACKOFF * (1 << min(max(delivery_count, 0), 16)))


def exception_type(exc: BaseException) -> str:
    """``module.Class`` of ``exc``'s class; builtins by their bare name."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _text(value: str) -> str:
    return value[:MAX_HEADER_TEXT]


class JobExecution:
    """Runs job messages with the engine core and decides how to settle each.

    Synchronous and thread-safe: call :meth:`execute` from worker threads, one message
    per thread at a time (the engine's ``on_commit`` relay publishes the next jobs from
    that thread before it returns).

    Args:
        engine: the engine core on the shared database, with the outbox relay as its
            ``on_commit`` and ``job_lease`` set.
        metrics: the counters to update.
        clock: the current aware time (the engine's clock).
    """

    def __init__(
        self,
        engine: Engine,
        metrics: JobMetrics,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        self._clock = clock

    @property
    def metrics(self) -> JobMetrics:
        """The counters this execution updates."""
        return self._metrics

    def now(self) -> datetime:
        """The current aware time, by the engine's clock."""
        return self._clock()

    def execute(self, message: ExecuteJob, *, delivery_count: int = 0) -> Decision:
        """Run the job ``message`` names, if its row says so; never raises.

        Args:
            message: the job message.
            delivery_count: how often the broker delivered it before (for the pause
                before a requeue).
        """
        metrics = self._metrics
        metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            with tracing.job_span(
                job_id=message.job_id,
                process_instance_id=message.process_instance_id,
                process_definition_key=message.process_definition_key,
                activity_id=message.activity_id,
                configuration=message.configuration,
                retries=message.retries,
            ) as span:
                decision = self._execute(message, delivery_count, span)
                if decision.settle is Settle.DEAD_LETTER:
                    tracing.mark_failed(span, reason=decision.reason)
                return decision
        except BaseException as exc:  # a delegate's SystemExit, a bug here: never crash
            logger.exception(
                "job %s at %s: unexpected %s; requeueing the message",
                message.job_id,
                message.activity_id,
                exception_type(exc),
            )
            metrics.requeued.inc()
            return Decision(Settle.REQUEUE, delay=requeue_delay(delivery_count))
        finally:
            metrics.in_flight.dec()
            metrics.duration.observe(time.perf_counter() - started)

    def _execute(
        self, message: ExecuteJob, delivery_count: int, span: tracing.Span | None = None
    ) -> Decision:
        job_id = message.job_id
        started = self._clock()
        try:
            # One transaction reads the row with its instance (locked when exclusive),
            # checks retries and due date, runs the job and commits. The jobs this run
            # creates are children of its span (when tracing is on).
            with use_trace_context(tracing.current_headers()):
                run = self._engine.execute_job(
                    job_id,
                    process_instance_id=message.process_instance_id,
                    exclusive=message.exclusive,
                    runnable_at=started + DUE_TOLERANCE,
                    on_start=self._hop_latency,
                )
        except NotFound as exc:
            if (exc.entity, exc.entity_id) in (
                ("job", job_id),
                ("process instance", message.process_instance_id),
            ):
                return self._drop(message, "gone", "its row is gone (a duplicate)")
            tracing.mark_failed(span, exc)
            return self._failed(message, exc, delivery_count)
        except OptimisticLockError as exc:
            tracing.mark_failed(span, exc)
            self._metrics.optimistic_lock_conflicts.inc()
            logger.info(
                "job %s at %s lost to a concurrent change (%s); no retry used, "
                "the dispatcher republishes it",
                job_id,
                message.activity_id,
                exc,
            )
            return ACK
        except PersistenceError as exc:
            # Whether it ran is unknown until the database answers: the row decides then.
            tracing.mark_failed(span, exc)
            return self._database_unavailable(job_id, message.activity_id, exc, delivery_count)
        except Exception as exc:  # the engine recorded it on the row; the row decides
            tracing.mark_failed(span, exc)
            return self._failed(message, exc, delivery_count)
        job = run.job
        if run.skipped is JobSkip.EXHAUSTED:
            return self._drop(
                message, "exhausted", "it has no retries left (a stale copy; its incident is open)"
            )
        if run.skipped is JobSkip.NOT_DUE:
            due = job.due_at.isoformat() if job.due_at is not None else "later"
            return self._drop(message, "not_due", f"it is not due before {due} (early copy)")
        self._metrics.executed.inc()
        self._metrics.run(job.process_definition_key, job.activity_id, "executed")
        logger.debug("job %s at %s executed", job_id, job.activity_id)
        return ACK

    def _hop_latency(self, job: Job) -> None:
        """Observe the time from the job's commit (or due date) to the start of its run."""
        committed = max(job.created_at, job.due_at or job.created_at)
        self._metrics.hop_latency.observe(max((self._clock() - committed).total_seconds(), 0.0))

    def _drop(self, message: ExecuteJob, reason: str, why: str) -> Decision:
        self._metrics.duplicates_dropped.labels(reason=reason).inc()
        log = logger.info if reason == "exhausted" else logger.debug
        log("job message for %s at %s dropped: %s", message.job_id, message.activity_id, why)
        return ACK

    def _database_unavailable(
        self, job_id: str, activity_id: str, exc: Exception, delivery_count: int
    ) -> Decision:
        delay = requeue_delay(delivery_count)
        self._metrics.requeued.inc()
        logger.warning(
            "job %s at %s: the database cannot be read (%s); requeueing the message in %.1f s",
            job_id,
            activity_id,
            exc,
            delay,
        )
        return Decision(Settle.REQUEUE, delay=delay)

    def _failed(self, message: ExecuteJob, exc: Exception, delivery_count: int) -> Decision:
        """The job failed and the engine recorded it: the row says what comes next."""
        self._metrics.failed.inc()
        self._metrics.run(message.process_definition_key, message.activity_id, "failed")
        try:
            row = self._engine.job(message.job_id)
        except NotFound:
            logger.warning(
                "job %s at %s failed (%s: %s) and its row is gone meanwhile",
                message.job_id,
                message.activity_id,
                exception_type(exc),
                exc,
            )
            return ACK
        except PersistenceError as error:
            # Whether the failure was recorded is unknown: run it again when the
            # database answers; the row then decides (retries, due date).
            return self._database_unavailable(
                message.job_id, message.activity_id, error, delivery_count
            )
        if row.retries > 0:
            due = f", due {row.due_at.isoformat()}" if row.due_at is not None else ""
            logger.warning(
                "job %s at %s failed (%d retries left%s): %s: %s",
                message.job_id,
                message.activity_id,
                row.retries,
                due,
                exception_type(exc),
                exc,
            )
            self._metrics.run(message.process_definition_key, message.activity_id, "retried")
            return ACK
        return self._dead_letter(row, exc)

    def _dead_letter(self, row: Job, exc: Exception) -> Decision:
        self._metrics.dead_lettered.inc()
        self._metrics.run(row.process_definition_key, row.activity_id, "dead_lettered")
        kind = exception_type(exc)
        text = str(exc) or kind
        headers: dict[str, HeaderValue] = {
            JOB_ID_HEADER: row.id,
            PROCESS_INSTANCE_ID_HEADER: row.process_instance_id,
            ACTIVITY_ID_HEADER: row.activity_id,
            EXCEPTION_TYPE_HEADER: kind,
            EXCEPTION_MESSAGE_HEADER: _text(text),
        }
        if row.failed_activity_id is not None:
            headers[FAILED_ACTIVITY_ID_HEADER] = row.failed_activity_id
        incident_id = self._incident_id(row)
        if incident_id is not None:
            headers[INCIDENT_ID_HEADER] = incident_id
        logger.error(
            "job %s at %s of process instance %s failed with no retries left: %s: %s; "
            "failedJob incident %s open, message dead-lettered",
            row.id,
            row.activity_id,
            row.process_instance_id,
            kind,
            text,
            incident_id or "(not found)",
        )
        reason = _text(f"job {row.id} at {row.activity_id} has no retries left: {kind}: {text}")
        return Decision(Settle.DEAD_LETTER, reason=reason, headers=headers)

    def _incident_id(self, row: Job) -> str | None:
        try:
            incidents = self._engine.incidents(row.process_instance_id)
        except PersistenceError:
            return None
        for incident in incidents:
            if incident.configuration == row.id:
                return incident.id
        return None


class DatabaseProbe:
    """Says whether the database answers (for ``/ready``), on a connection of its own.

    Args:
        database_url: the database the engine uses.
    """

    def __init__(self, database_url: str) -> None:
        self._store = Store(database_url, pool_size=1)

    def reachable(self) -> bool:
        """Whether ``SELECT 1`` succeeds; blocking (call it from a worker thread).

        It runs on the driver's connection, outside SQLAlchemy's transactions, so that
        on SQLite it takes no write lock (Safepoint begins SQLite transactions with
        ``BEGIN IMMEDIATE``).
        """
        try:
            connection = self._store.engine.raw_connection()
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute("SELECT 1")
                    cursor.fetchall()
                finally:
                    cursor.close()
            finally:
                connection.close()  # back to the pool, rolled back
        except Exception as exc:  # any failure means "not ready", whatever its kind
            logger.warning("database readiness check failed: %s", exc)
            return False
        return True

    def close(self) -> None:
        """Release the probe's connection."""
        self._store.dispose()
