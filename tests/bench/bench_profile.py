"""Where the time of one safe point goes: the job-executor's hot path, in process.

On a fresh PostgreSQL database, instances of the 20-task async chain are started, then
their jobs are run one by one exactly as a job-executor does per message
(``Engine.execute_job`` with what the job message says), with the outbox relay
replaced by nothing. Reported per safe point: wall time, the SQL statements (counted
by a ``before_cursor_execute`` listener, by kind, with their driver time) and the top
functions of a cProfile run grouped by layer (SQLAlchemy, psycopg, pydantic/JSON,
the engine core, the persistence mapping).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import re
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from bench_delegates import noop
from bench_infra import fresh_database, load_average
from bench_models import async_chain

from safepoint import Engine

LAYERS = (
    ("sqlalchemy", "/sqlalchemy/"),
    ("psycopg", "/psycopg"),
    ("pydantic", "/pydantic"),
    ("json", "/json/"),
    ("safepoint.persistence", "/safepoint/persistence/"),
    ("safepoint.core", "/safepoint/core/"),
    ("safepoint.embedded", "/safepoint/embedded/"),
    ("safepoint.el/parser/model", "/safepoint/"),
    ("uuid/datetime/logging/other stdlib", "/lib/python3"),
)


class StatementCounter:
    """Counts statements and their driver time on an engine, by kind (``INSERT jobs``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.kinds: Counter[str] = Counter()
        self.seconds = 0.0
        self._started: dict[int, float] = {}
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.kinds[_kind(statement)] += 1
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, *args: Any) -> None:
        started = self._started.pop(id(cursor), None)
        if started is not None:
            self.seconds += time.perf_counter() - started

    def reset(self) -> None:
        self.kinds.clear()
        self.seconds = 0.0


def _kind(statement: str) -> str:
    text = " ".join(statement.split())
    match = re.match(r"(\w+)\s+(?:.*?\b(?:FROM|INTO|UPDATE)\s+)?(\w+)?", text, re.IGNORECASE)
    if not match:
        return text[:30]
    verb = match.group(1).upper()
    if verb == "UPDATE":
        table = text.split()[1]
    else:
        table = match.group(2) or ""
    lock = " FOR UPDATE" if "FOR UPDATE" in text.upper() else ""
    return f"{verb} {table}{lock}".strip()


def _prepare(engine: Engine, instances: int, tasks: int) -> None:
    engine.deploy("bench", {"chain.bpmn": async_chain("chain", tasks)})
    for _ in range(instances):
        engine.start_process_instance_by_key("chain")


def _run_jobs(engine: Engine, limit: int) -> int:
    """Run up to ``limit`` jobs the way a job-executor does; return how many ran."""
    ran = 0
    while ran < limit:
        jobs = engine.jobs()
        if not jobs:
            break
        for job in jobs[: limit - ran]:
            # What a job message tells the executor, and its check of retries and due date
            engine.execute_job(
                job.id,
                process_instance_id=job.process_instance_id,
                exclusive=job.exclusive,
                runnable_at=job.created_at,
            )
            ran += 1
    return ran


def _layers(stats: pstats.Stats) -> dict[str, float]:
    """Own (tottime) seconds per layer."""
    spent: Counter[str] = Counter()
    for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        for layer, marker in LAYERS:
            if marker in filename:
                spent[layer] += own
                break
        else:
            spent["builtins/C"] += own
    return dict(spent)


def profile_execute_job(*, instances: int = 50, tasks: int = 20, top: int = 25) -> dict[str, Any]:
    """Measure and profile the job-executor's per-message work in this process."""
    with fresh_database() as url:
        engine = Engine(url, delegates={"noop": noop}, job_lease=timedelta(seconds=60))
        try:
            _prepare(engine, instances, tasks)
            _run_jobs(engine, instances)  # warm-up: definition cache, prepared statements
            # 1. plain timing, nothing listening (statement listeners change the path:
            #    the PostgreSQL hot path goes through SQLAlchemy only when observed)
            load = load_average()
            started = time.perf_counter()
            cpu_started = time.process_time()
            ran = _run_jobs(engine, instances * 5)
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            # 2. the same under cProfile
            profiler = cProfile.Profile()
            profiler.enable()
            profiled = _run_jobs(engine, instances * 5)
            profiler.disable()
            # 3. statement counts (through SQLAlchemy's events)
            counter = StatementCounter(engine.store.engine)
            counted = _run_jobs(engine, instances * 3)
            statements = {k: v * ran / counted for k, v in counter.kinds.most_common()}
            driver_seconds = counter.seconds * ran / counted
        finally:
            engine.close()
    stats = pstats.Stats(profiler)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    own = io.StringIO()
    pstats.Stats(profiler, stream=own).sort_stats("tottime").print_stats(top)
    total_statements = sum(statements.values())
    layers = _layers(stats)
    profiled_total = sum(layers.values())
    return {
        "load_average": load,
        "jobs": ran,
        "ms_per_safe_point": round(wall / ran * 1000, 3),
        "cpu_ms_per_safe_point": round(cpu / ran * 1000, 3),
        "statements_per_safe_point": round(total_statements / ran, 2),
        "statements_by_kind_per_safe_point": {
            kind: round(count / ran, 2) for kind, count in statements.items()
        },
        "driver_ms_per_safe_point": round(driver_seconds / ran * 1000, 3),
        "profiled_jobs": profiled,
        "layer_share": {
            layer: round(seconds / profiled_total, 3)
            for layer, seconds in sorted(layers.items(), key=lambda item: -item[1])
        },
        "cprofile_cumulative": text.getvalue(),
        "cprofile_tottime": own.getvalue(),
    }


if __name__ == "__main__":
    import json
    import sys

    result = profile_execute_job()
    sys.stdout.write(result.pop("cprofile_cumulative") + "\n")
    sys.stdout.write(result.pop("cprofile_tottime") + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
