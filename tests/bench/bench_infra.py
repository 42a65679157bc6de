"""What every measurement needs: a fresh database and vhost, CPU per process, statistics."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

import psutil
import sqlalchemy as sa

POSTGRES_URL = os.environ.get(
    "SAFEPOINT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("SAFEPOINT_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    server = sa.make_url(POSTGRES_URL)
    name = f"sp_bench_{secrets.token_hex(6)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _rabbitmqctl(*args: str) -> None:
    """Run rabbitmqctl, retrying: it fails now and then on a busy broker (exit 64)."""
    command = shutil.which("rabbitmqctl") or "rabbitmqctl"
    for attempt in range(1, 6):
        result = subprocess.run([command, *args], capture_output=True, timeout=120, check=False)
        if result.returncode == 0:
            return
        if attempt == 5:
            result.check_returncode()
        time.sleep(attempt)


@contextlib.contextmanager
def fresh_vhost() -> Iterator[str]:
    """A new RabbitMQ virtual host (its AMQP URL), deleted afterwards."""
    name = f"sp_bench_{secrets.token_hex(6)}"
    user = urlsplit(AMQP_URL).username or "guest"
    _rabbitmqctl("add_vhost", name)
    try:
        _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        yield urlunsplit(urlsplit(AMQP_URL)._replace(path="/" + quote(name, safe="")))
    finally:
        _rabbitmqctl("delete_vhost", name)


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL (for asyncpg)."""
    url = sa.make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


# --------------------------------------------------------------------------------------
# CPU per process group
# --------------------------------------------------------------------------------------


def server_processes() -> dict[str, list[psutil.Process]]:
    """PostgreSQL's processes (postmaster and backends) and RabbitMQ's (beam.smp and kids)."""
    groups: dict[str, list[psutil.Process]] = {"postgresql": [], "rabbitmq": []}
    for process in psutil.process_iter(["name", "cmdline"]):
        name = process.info["name"] or ""
        if name.startswith("postgres") or name.startswith("postmaster"):
            groups["postgresql"].append(process)
        elif name.startswith("beam") or "rabbitmq" in " ".join(process.info["cmdline"] or [])[:300]:
            groups["rabbitmq"].append(process)
    return groups


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0
    return times.user + times.system


@dataclass
class CpuMeter:
    """CPU seconds spent by named groups of processes between :meth:`start` and :meth:`stop`.

    PostgreSQL backends come and go: the server group is re-listed at both ends and a
    backend that exists only at one end counts from zero (or is lost if it ended).
    """

    groups: dict[str, list[int]]
    include_servers: bool = True
    _before: dict[str, dict[int, float]] = field(default_factory=dict)

    def _snapshot(self) -> dict[str, dict[int, float]]:
        found: dict[str, list[psutil.Process]] = {
            name: [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]
            for name, pids in self.groups.items()
        }
        if self.include_servers:
            found.update(server_processes())
        return {name: {p.pid: _cpu_seconds(p) for p in procs} for name, procs in found.items()}

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        spent: dict[str, float] = {}
        for name, pids in after.items():
            before = self._before.get(name, {})
            spent[name] = round(sum(cpu - before.get(pid, 0.0) for pid, cpu in pids.items()), 3)
        return spent


# --------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Iterable[float]) -> dict[str, float]:
    """Median, min, max and the spread ((max - min) / median) of repeated runs."""
    data = [float(v) for v in values]
    if not data:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "spread": 0.0}
    median = statistics.median(data)
    spread = (max(data) - min(data)) / median if median else 0.0
    return {
        "median": round(median, 3),
        "min": round(min(data), 3),
        "max": round(max(data), 3),
        "spread": round(spread, 3),
        "runs": len(data),
    }


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started
