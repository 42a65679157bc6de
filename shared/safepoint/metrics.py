"""Prometheus metrics every service shares: instances, incidents, rejected messages, dispatching.

One registry per process (:data:`REGISTRY`), rendered by each service's ``GET /metrics``
(:func:`render`). What a service counts depends on what it runs: instances started and
completed and incidents opened are counted where the command committed them (the engine
for HTTP and command-queue starts, the job-executor for what jobs complete), so sum
them over the services. The job-executor adds its own job metrics
(``safepoint_job_executor.metrics``).

``safepoint_incidents_open`` is a gauge read from the database at scrape time
(:class:`IncidentsOpen`); only the engine exports it (:func:`track_incidents_open`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from safepoint.core.outcome import CommandOutcome

logger = logging.getLogger(__name__)

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
COMMANDS_REPEATED: Final = Counter(
    "safepoint_commands_repeated",
    "Commands delivered again after they were carried out: answered, not run again.",
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

INCIDENTS_OPEN_NAME: Final = "safepoint_incidents_open"
"""The gauge :class:`IncidentsOpen` exports."""

INCIDENTS_OPEN_MAX_AGE: Final = 2.0
"""Seconds a count of open incidents is reused before the database is asked again."""


class IncidentsOpen(Collector):
    """``safepoint_incidents_open``: incidents not resolved, counted at scrape time.

    The count comes from ``count`` (a ``SELECT count(*)`` in the engine), at most once
    per ``max_age`` seconds however often ``/metrics`` is scraped. When the count
    fails (the database is down), the gauge is left out of the scrape and a warning
    is logged.

    Args:
        count: returns the number of open incidents.
        max_age: seconds a count is reused.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        count: Callable[[], int],
        *,
        max_age: float = INCIDENTS_OPEN_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count = count
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, int] | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The gauge without a sample (registering does not query the database)."""
        yield self._family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauge with the (cached) count; nothing when the count fails."""
        value = self.value()
        if value is None:
            return
        family = self._family()
        family.add_metric([], value)
        yield family

    def value(self) -> int | None:
        """The number of open incidents, at most ``max_age`` seconds old; ``None`` on error."""
        with self._lock:
            now = self._clock()
            if self._cached is not None and now - self._cached[0] < self._max_age:
                return self._cached[1]
            try:
                value = self._count()
            except Exception as exc:  # a scrape must not fail because the database did
                logger.warning("cannot count the open incidents: %s", exc)
                return None
            self._cached = (now, value)
            return value

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(INCIDENTS_OPEN_NAME, "Incidents not resolved yet (database).")


def track_incidents_open(
    count: Callable[[], int], *, max_age: float = INCIDENTS_OPEN_MAX_AGE
) -> IncidentsOpen:
    """Export ``safepoint_incidents_open`` on :data:`REGISTRY`; undo with :func:`untrack`.

    Args:
        count: returns the number of open incidents (called from the scraping thread).
        max_age: seconds a count is reused.
    """
    collector = IncidentsOpen(count, max_age=max_age)
    REGISTRY.register(collector)
    return collector


def untrack(collector: Collector) -> None:
    """Take ``collector`` off :data:`REGISTRY` (no-op if it is not there)."""
    try:
        REGISTRY.unregister(collector)
    except KeyError:
        pass


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
