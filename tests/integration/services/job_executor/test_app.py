"""The HTTP server: liveness, readiness of broker and database, Prometheus metrics."""

from __future__ import annotations

import asyncio
import signal
import socket

import pytest
from fastapi.testclient import TestClient

from safepoint_job_executor import app as app_module
from safepoint_job_executor.app import HttpServer, bind, create_app, http_server
from safepoint_job_executor.metrics import JobMetrics


def checks(broker: object, database: object) -> dict[str, object]:
    async def check(result: object) -> bool:
        if isinstance(result, Exception):
            raise result
        if result == "slow":
            await asyncio.sleep(10)
        return bool(result)

    return {
        "broker": lambda: check(broker),
        "database": lambda: check(database),
    }


def client(broker: object = True, database: object = True, metrics: JobMetrics | None = None):
    return TestClient(create_app(**checks(broker, database), metrics=metrics or JobMetrics()))


def test_health_answers_while_the_process_serves_http() -> None:
    response = client(broker=False, database=False).get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "UP", "broker": None, "database": None}


@pytest.mark.parametrize("path", ["/ready", "/health/ready"])
def test_ready_when_the_broker_consumes_and_the_database_answers(path: str) -> None:
    response = client().get(path)

    assert response.status_code == 200
    assert response.json() == {"status": "UP", "broker": "UP", "database": "UP"}


@pytest.mark.parametrize(
    ("broker", "database", "expected"),
    [
        (False, True, {"status": "DOWN", "broker": "DOWN", "database": "UP"}),
        (True, ConnectionError("refused"), {"status": "DOWN", "broker": "UP", "database": "DOWN"}),
        ("slow", True, {"status": "DOWN", "broker": "DOWN", "database": "UP"}),
    ],
    ids=["broker down", "database fails", "broker check too slow"],
)
def test_not_ready_says_which_dependency_is_down(
    broker: object, database: object, expected: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "CHECK_TIMEOUT", 0.2)

    response = client(broker, database).get("/ready")

    assert response.status_code == 503
    assert response.json() == expected


def test_metrics_are_served_in_prometheus_text_format() -> None:
    metrics = JobMetrics()
    metrics.executed.inc(3)
    metrics.duplicates_dropped.labels(reason="gone").inc()

    response = client(metrics=metrics).get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "safepoint_jobs_executed_total 3.0" in lines
    assert 'safepoint_jobs_duplicates_dropped_total{reason="gone"} 1.0' in lines
    for name in (
        "safepoint_jobs_failed_total",
        "safepoint_jobs_dead_lettered_total",
        "safepoint_jobs_optimistic_lock_conflicts_total",
        "safepoint_jobs_requeued_total",
        "safepoint_jobs_in_flight",
        "safepoint_job_duration_seconds_count",
    ):
        assert any(line.startswith(name) for line in lines), name


def test_the_server_leaves_the_signals_to_the_service() -> None:
    server = http_server(client().app, log_level="INFO")  # type: ignore[arg-type]
    assert isinstance(server, HttpServer)
    before = signal.getsignal(signal.SIGTERM)

    with server.capture_signals():
        assert signal.getsignal(signal.SIGTERM) is before


def test_a_port_in_use_is_refused_when_binding() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(OSError):
            bind("127.0.0.1", port)
