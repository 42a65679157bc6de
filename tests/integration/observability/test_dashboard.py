"""deploy/grafana/safepoint.json: valid, and every metric its queries use is exported."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from safepoint import metrics
from safepoint_job_executor.metrics import JobMetrics

DASHBOARD = Path(__file__).parents[3] / "deploy" / "grafana" / "safepoint.json"
METRIC = re.compile(r"safepoint_[a-z_]+")


def exported_names() -> set[str]:
    """Every sample name the services can expose (``_total``, ``_bucket``, ...)."""
    registry = CollectorRegistry()
    registry.register(metrics.IncidentsOpen(lambda: 0))
    names: set[str] = set()
    for source in (metrics.REGISTRY, JobMetrics().registry, registry):
        for family in source.collect():
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            if family.type == "counter":
                names.add(f"{family.name}_total")
            if family.type == "histogram":
                names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


def expressions(dashboard: dict[str, object]) -> list[str]:
    panels = dashboard["panels"]
    assert isinstance(panels, list)
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_dashboard_is_valid_grafana_json() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "safepoint" and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["type"] in {"timeseries", "stat"}
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        assert panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_every_metric_the_dashboard_queries_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    used = {name for expr in expressions(dashboard) for name in METRIC.findall(expr)}
    assert used, "the dashboard queries no safepoint metric"
    assert used - exported_names() == set()


def test_dashboard_covers_what_operators_watch() -> None:
    text = " ".join(expressions(json.loads(DASHBOARD.read_text())))
    for needle in (
        "rate(safepoint_job_runs_total",
        "histogram_quantile(0.5, sum by (le) (rate(safepoint_job_duration_seconds_bucket",
        "histogram_quantile(0.99, sum by (le) (rate(safepoint_job_hop_latency_seconds_bucket",
        "safepoint_dispatcher_lag_seconds_bucket",
        "rate(safepoint_process_instances_started_total",
        "rate(safepoint_process_instances_completed_total",
        "safepoint_incidents_open",
        "safepoint_messages_rejected_total",
        "safepoint_jobs_in_flight",
    ):
        assert needle in text, needle
