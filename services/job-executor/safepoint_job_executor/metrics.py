"""The job-executor's Prometheus metrics: what happened to each job message, and how long."""

from __future__ import annotations

from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""The content type of :meth:`JobMetrics.render` (Prometheus text format)."""

DROP_REASONS: Final = ("gone", "exhausted", "not_due")
"""Why a job message is dropped without running: its row is gone (a duplicate), has no
retries left (a stale copy; the incident is open), or is not due yet (an early copy)."""


class JobMetrics:
    """Counters of one job-executor process, on a registry of their own.

    Thread-safe: worker threads update them while the HTTP server renders them.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.executed = Counter(
            "safepoint_jobs_executed",
            "Jobs run to their next safe points and committed.",
            registry=self.registry,
        )
        self.failed = Counter(
            "safepoint_jobs_failed",
            "Job runs that failed and were recorded (retries, exception, incident at 0).",
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "safepoint_jobs_dead_lettered",
            "Job messages sent to the dead-letter queue because the job has no retries left.",
            registry=self.registry,
        )
        self.duplicates_dropped = Counter(
            "safepoint_jobs_duplicates_dropped",
            "Job messages acknowledged without running the job, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.optimistic_lock_conflicts = Counter(
            "safepoint_jobs_optimistic_lock_conflicts",
            "Job runs that lost to a concurrent change (no retry used up; republished).",
            registry=self.registry,
        )
        self.requeued = Counter(
            "safepoint_jobs_requeued",
            "Job messages handed back to the broker because the database could not be read.",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "safepoint_jobs_in_flight",
            "Job messages being handled right now.",
            registry=self.registry,
        )
        self.duration = Histogram(
            "safepoint_job_duration_seconds",
            "Time to handle one job message, from receipt to decision.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        for reason in DROP_REASONS:
            self.duplicates_dropped.labels(reason=reason)

    def render(self) -> bytes:
        """Every metric in the Prometheus text exposition format."""
        return generate_latest(self.registry)
