"""Prometheus metrics every service shares: instances, incidents, rejected messages, dispatching.

One registry per process (:data:`REGISTRY`), rendered by each service's ``GET /metrics``
(:func:`render`). What a service counts depends on what it runs: instances started and
completed and incidents opened are counted where the command committed them (the engine
for HTTP and command-queue starts, the job-executor for what jobs complete), so sum
them over the services. The job-executor adds its own job metrics
(``safepoint_job_executor.metrics``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import generate_latest

if TYPE_CHECKING:
    from safepoint.core.outcome import CommandOutcome

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""The content type of :func:`render` (Prometheus text format)."""

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
"""Seconds, for the latency histograms here and in the job-executor."""

REGISTRY: Final = CollectorRegistry(auto_describe=True)
"""This process's shared metrics (with the process's CPU, memory and file descriptors)."""

ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

INSTANCES_STARTED: Final = Counter(
    "safepoint_process_instances_started",
    "Process instances started (committed), by process definition key.",
    ["process_definition_key"],
    registry=REGISTRY,
)
INSTANCES_COMPLETED: Final = Counter(
    "safepoint_process_instances_completed",
    "Process instances that ended (committed), by process definition key.",
    ["process_definition_key"],
    registry=REGISTRY,
)
INCIDENTS_CREATED: Final = Counter(
    "safepoint_incidents_created",
    "Incidents opened (committed), by process definition key and incident type.",
    ["process_definition_key", "incident_type"],
    registry=REGISTRY,
)
MESSAGES_REJECTED: Final = Counter(
    "safepoint_messages_rejected",
    "Messages dead-lettered before their handler because they broke the contract, by queue.",
    ["queue"],
    registry=REGISTRY,
)
DISPATCHED: Final = Counter(
    "safepoint_dispatcher_published",
    "Jobs and external tasks the dispatcher published (late: retries, timers, lost publishes).",
    ["kind"],
    registry=REGISTRY,
)
DISPATCHER_LAG: Final = Histogram(
    "safepoint_dispatcher_lag_seconds",
    "How late the dispatcher published a job: from its due time (or creation) to the publish.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


def record_outcome(outcome: CommandOutcome) -> None:
    """Count what one committed command did: an instance started or ended, incidents."""
    key = outcome.process_definition_key
    if outcome.started:
        INSTANCES_STARTED.labels(process_definition_key=key).inc()
    if outcome.ended:
        INSTANCES_COMPLETED.labels(process_definition_key=key).inc()
    for incident in outcome.incidents:
        INCIDENTS_CREATED.labels(
            process_definition_key=key, incident_type=incident.incident_type
        ).inc()


def render(*extra: CollectorRegistry) -> bytes:
    """:data:`REGISTRY` and the ``extra`` registries in the Prometheus text format."""
    return b"".join(generate_latest(registry) for registry in (REGISTRY, *extra))
