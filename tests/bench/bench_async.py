"""Points 1 and 4: the async chain through the real services (engine + job-executors).

One run: a fresh database and vhost; the model deployed (and, for growth, waiting
instances created) with an embedded engine; the engine service and ``executors``
job-executors started as processes; ``instances`` instances started at once over HTTP;
the clock stops when the last one has ended. The no-op delegate writes a timestamp
per safe point, from which the latency between consecutive safe points of an
instance is taken; psutil measures the CPU of every process involved.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench_infra import CpuMeter, fresh_database, fresh_vhost, load_average, percentile

from safepoint import Engine
from safepoint.devstack import ServiceSpec, Stack

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parents[1]
BASE_PORT = int(os.environ.get("SAFEPOINT_BENCH_PORT", "18180"))
CONCURRENCY = int(os.environ.get("SAFEPOINT_BENCH_CONCURRENCY", "8"))
"""Jobs in flight per job-executor (its prefetch and worker threads), as in the floor."""


@dataclass(frozen=True)
class ChainRun:
    """What one run starts: a model, how many instances, on how many executors."""

    model: bytes
    key: str
    safe_points_per_instance: int
    instances: int
    executors: int
    waiting: int = 0
    waiting_model: bytes | None = None
    otlp_endpoint: str | None = None
    """When set, the services trace, exporting over OTLP/HTTP there; otherwise tracing is off."""
    rate: float | None = None
    """Instances started per second, evenly spread (an open load: the latency at a chosen
    throughput); ``None`` starts them all at once."""
    follow_ups: int | None = None
    """``SAFEPOINT_EXECUTOR_FOLLOW_UPS`` of the job-executors (``0``: every job through the
    queue); ``None`` leaves their default."""


def _services(executors: int) -> list[ServiceSpec]:
    services = [ServiceSpec("engine", "safepoint_engine", BASE_PORT)]
    services += [
        ServiceSpec(f"job-executor-{n}", "safepoint_job_executor", BASE_PORT + n)
        for n in range(1, executors + 1)
    ]
    return services


def _env(
    database_url: str,
    amqp_url: str,
    times_dir: Path,
    otlp_endpoint: str | None = None,
    follow_ups: int | None = None,
) -> dict[str, str]:
    paths = [str(BENCH_DIR), os.environ.get("PYTHONPATH", "")]
    tracing = (
        {
            "OTEL_SDK_DISABLED": "false",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        }
        if otlp_endpoint
        else {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
    )
    return {
        "SAFEPOINT_DATABASE_URL": database_url,
        "SAFEPOINT_DATABASE_MIGRATE": "false",
        "SAFEPOINT_DATABASE_POOL_SIZE": str(CONCURRENCY + 2),
        "SAFEPOINT_AMQP_URL": amqp_url,
        "SAFEPOINT_DELEGATES_MODULE": "bench_delegates",
        "SAFEPOINT_LOG_LEVEL": "WARNING",
        "SAFEPOINT_EXECUTOR_CONCURRENCY": str(CONCURRENCY),
        "SAFEPOINT_BENCH_TIMES_DIR": str(times_dir),
        **tracing,
        **({} if follow_ups is None else {"SAFEPOINT_EXECUTOR_FOLLOW_UPS": str(follow_ups)}),
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
    }


def _prepare(database_url: str, run: ChainRun) -> None:
    with Engine(database_url) as engine:  # migrates the fresh database
        engine.deploy("bench", {f"{run.key}.bpmn": run.model})
        if run.waiting and run.waiting_model is not None:
            engine.deploy("waiting", {"waiting.bpmn": run.waiting_model})
            for _ in range(run.waiting):
                engine.start_process_instance_by_key("waiting")
    # As a database in service would be: vacuumed and analysed. Otherwise autovacuum
    # takes on the rows just inserted (20,000 waiting instances) during the measurement.
    vacuum = sa.create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with vacuum.connect() as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")
    finally:
        vacuum.dispose()


def _start_instances(engine_url: str, key: str, count: int, rate: float | None = None) -> None:
    url = f"{engine_url}/engine-rest/process-definition/key/{key}/start"
    began = time.perf_counter()

    def start(n: int) -> None:
        if rate is not None:  # instance n starts n / rate seconds in
            time.sleep(max(0.0, began + n / rate - time.perf_counter()))
        request = urllib.request.Request(
            url, b'{"variables": {}}', {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            assert response.status == 200, response.read()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(start, range(count)))


def _wait_for_end(database_url: str, key: str, count: int, timeout: float) -> float:
    """Poll until ``count`` instances of ``key`` have ended; return the time it happened."""
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    query = sa.text(
        "SELECT count(*) FROM process_instances "
        "WHERE process_definition_key = :key AND ended_at IS NOT NULL"
    )
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as connection:
            while True:
                ended = connection.execute(query, {"key": key}).scalar_one()
                connection.rollback()
                if ended >= count:
                    return time.perf_counter()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only {ended} of {count} instances ended in {timeout} s")
                time.sleep(0.02)
    finally:
        engine.dispose()


def hop_latencies(times_dir: Path) -> list[float]:
    """Seconds between consecutive safe points (delegate runs) of each instance."""
    runs: dict[str, list[float]] = defaultdict(list)
    for path in times_dir.glob("*.times"):
        for line in path.read_text().splitlines():
            instance, _activity, stamp = line.split()
            runs[instance].append(float(stamp))
    latencies: list[float] = []
    for stamps in runs.values():
        stamps.sort()
        latencies += [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return latencies


def run_chain(run: ChainRun, *, log_dir: Path, timeout: float = 600.0) -> dict[str, Any]:
    """One measured run of ``run``; returns throughput, latency and CPU figures."""
    with (
        fresh_database() as database_url,
        fresh_vhost() as amqp_url,
        tempfile.TemporaryDirectory(prefix="sp-bench-") as scratch,
    ):
        times_dir = Path(scratch)
        _prepare(database_url, run)
        stack = Stack(
            _env(database_url, amqp_url, times_dir, run.otlp_endpoint, run.follow_ups),
            services=_services(run.executors),
            log_dir=log_dir,
            echo=False,
        )
        with stack.running(timeout=120):
            pids = {p.spec.name: p.process.pid for p in stack.processes}
            meter = CpuMeter(
                {
                    "engine": [pids["engine"]],
                    "executors": [pid for name, pid in pids.items() if name != "engine"],
                }
            )
            load = load_average()
            meter.start()
            started = time.perf_counter()
            _start_instances(stack.url("engine"), run.key, run.instances, run.rate)
            started_all = time.perf_counter()
            ended = _wait_for_end(database_url, run.key, run.instances, timeout)
            cpu = meter.stop()
        latencies = hop_latencies(times_dir)
    safe_points = run.instances * run.safe_points_per_instance
    seconds = ended - started
    return {
        "load_average": load,
        "instances": run.instances,
        "executors": run.executors,
        "waiting": run.waiting,
        "safe_points": safe_points,
        "seconds": round(seconds, 3),
        "start_seconds": round(started_all - started, 3),
        "safe_points_per_second": round(safe_points / seconds, 1),
        "hop_p50_ms": round(percentile(latencies, 0.5) * 1000, 3),
        "hop_p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "hops_measured": len(latencies),
        "latency_sample_ms": [
            round(v * 1000, 3) for v in latencies[:: max(1, len(latencies) // 2000)]
        ],
        "cpu_seconds": cpu,
        "cpu_ms_per_safe_point": {
            name: round(seconds_ * 1000 / safe_points, 3) for name, seconds_ in cpu.items()
        },
    }


if __name__ == "__main__":
    import sys

    from bench_models import async_chain

    result = run_chain(
        ChainRun(async_chain("chain", 20), "chain", 20, int(sys.argv[1]), int(sys.argv[2])),
        log_dir=REPO_DIR / "results" / "logs",
    )
    result.pop("latency_sample_ms")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
