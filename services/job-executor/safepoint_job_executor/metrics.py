"""The job-executor's Prometheus metrics: what happened to each job message, and how long.

``/metrics`` renders them with the metrics every service shares (:mod:`safepoint.metrics`).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram

from safepoint import metrics as shared

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""The content type of :meth:`JobMetrics.render` (Prometheus text format)."""

RUN_OUTCOMES: Final = ("executed", "failed", "retried", "dead_lettered")
"""``safepoint_job_runs_total``'s ``outcome``: committed; failed (then ``retried``, with
retries left, or ``dead_lettered``, with none)."""

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
        self.instance_waits = Counter(
            "safepoint_jobs_instance_waits",
            "Exclusive job messages that waited for another job of their process instance "
            "running in this process (one exclusive job per instance at a time).",
            registry=self.registry,
        )
        self.follow_ups = Counter(
            "safepoint_jobs_followed_up",
            "Exclusive jobs run right after the job of the same process instance that "
            "created them, in the job-executor that ran it, without a message of their own.",
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
        self.runs = Counter(
            "safepoint_job_runs",
            "Job runs by process definition key, activity and outcome (executed, failed, "
            "and each failure again as retried or dead_lettered).",
            ["process_definition_key", "activity_id", "outcome"],
            registry=self.registry,
        )
        self.hop_latency = Histogram(
            "safepoint_job_hop_latency_seconds",
            "From a job's commit (or its due time, when later) to the start of its execution.",
            buckets=shared.LATENCY_BUCKETS,
            registry=self.registry,
        )
        for reason in DROP_REASONS:
            self.duplicates_dropped.labels(reason=reason)

    def render(self) -> bytes:
        """Every metric (these and the shared ones) in the Prometheus text format."""
        return shared.render(self.registry)

    def run(self, process_definition_key: str, activity_id: str, outcome: str) -> None:
        """Count one job run's ``outcome`` (one of :data:`RUN_OUTCOMES`)."""
        self.runs.labels(
            process_definition_key=process_definition_key, activity_id=activity_id, outcome=outcome
        ).inc()
