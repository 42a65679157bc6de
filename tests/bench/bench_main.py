"""``make bench``: every measurement, repeated, then the table, the JSON and the charts.

    python tests/bench/bench_main.py [--quick] [--runs 3] [--only chain,floor,sync,growth,profile]

Needs PostgreSQL (``SAFEPOINT_BENCH_POSTGRES_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) and RabbitMQ with
``rabbitmqctl`` on PATH (``SAFEPOINT_BENCH_AMQP_URL``). Every run gets a fresh database
and vhost, dropped afterwards. Results go to ``results/`` (``--out``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_async import REPO_DIR, ChainRun, run_chain
from bench_floor import run_floor
from bench_infra import load_average, summary
from bench_models import async_chain, async_fork, waiting
from bench_profile import profile_execute_job
from bench_report import charts, table, write_json
from bench_sync import run_sync

TASKS = 20
SUMMARIZED = ("safe_points_per_second", "hop_p50_ms", "hop_p99_ms")


def _say(text: str) -> None:
    sys.stdout.write(f"[bench {time.strftime('%H:%M:%S')}] {text}\n")
    sys.stdout.flush()


def _repeat(
    what: str, runs: int, action: Callable[[], dict[str, Any]], fields: tuple[str, ...]
) -> dict[str, Any]:
    done = []
    for n in range(1, runs + 1):
        result = action()
        _say(f"{what} run {n}/{runs}: " + ", ".join(f"{f}={result[f]}" for f in fields))
        done.append(result)
    return {"runs": done, "summary": {f: summary(r[f] for r in done) for f in fields}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a first pass")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (≥ 3)")
    parser.add_argument("--only", default="chain,floor,sync,growth,profile")
    parser.add_argument("--out", type=Path, default=REPO_DIR / "results")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    instances = 100 if args.quick else 200
    logs = args.out / "logs"
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "load_average_at_start": load_average(),
    }
    chain = async_chain("chain", TASKS)
    if "chain" in parts:
        results["async_chain"] = {}
        for executors in (1, 2):
            run = ChainRun(chain, "chain", TASKS, instances, executors)
            results["async_chain"][str(executors)] = _repeat(
                f"async chain, {executors} executor(s)",
                args.runs,
                lambda run=run: run_chain(run, log_dir=logs),
                SUMMARIZED,
            )
        light = ChainRun(chain, "chain", TASKS, 4, 2)
        results["light_load"] = _repeat(
            "async chain, 4 instances, 2 executors",
            args.runs,
            lambda: run_chain(light, log_dir=logs),
            SUMMARIZED,
        )
    if "floor" in parts:
        results["floor"] = {}
        for processes in (1, 2):
            results["floor"][str(processes)] = _repeat(
                f"floor, {processes} process(es)",
                args.runs,
                lambda p=processes: run_floor(instances=instances, hops=TASKS, processes=p),
                SUMMARIZED,
            )
    if "chain" in parts and "floor" in parts:
        ours = results["async_chain"]["2"]["summary"]["safe_points_per_second"]["median"]
        floor = results["floor"]["2"]["summary"]["safe_points_per_second"]["median"]
        results["ratios"] = {"Safepoint (2 executors) ÷ floor (2 processes)": ours / floor}
    if "sync" in parts:
        results["sync"] = {}
        repeat = 10 if args.quick else 30
        runs = [run_sync(repeat=repeat) for _ in range(args.runs)]
        for key in ("linear", "parallel"):
            fields = ("safepoint_nodes_per_second", "spiff_nodes_per_second", "ratio")
            entries = [r[key] for r in runs]
            results["sync"][key] = {
                "runs": [
                    {**e, "load_average": r["load_average"]}
                    for e, r in zip(entries, runs, strict=True)
                ],
                "summary": {f: summary(e[f] for e in entries) for f in fields},
            }
            _say(
                f"sync {key}: "
                + ", ".join(f"{f}={results['sync'][key]['summary'][f]['median']}" for f in fields)
            )
    if "growth" in parts:
        results["growth"] = {}
        waiting_sizes = (200, 2_000) if args.quick else (200, 2_000, 20_000)
        for count in waiting_sizes:
            run = ChainRun(
                chain, "chain", TASKS, 100, 2, waiting=count, waiting_model=waiting("waiting")
            )
            results["growth"][f"waiting {count}"] = _repeat(
                f"growth, {count} waiting",
                args.runs,
                lambda run=run: run_chain(run, log_dir=logs),
                SUMMARIZED,
            )
        for branches in (10, 50) if args.quick else (10, 50, 200):
            run = ChainRun(
                async_fork("forks", branches), "forks", branches, max(10, 2_000 // branches), 2
            )
            results["growth"][f"fork {branches}"] = _repeat(
                f"growth, fork of {branches}",
                args.runs,
                lambda run=run: run_chain(run, log_dir=logs),
                SUMMARIZED,
            )
    if "profile" in parts:
        _say("profiling Engine.execute_job in process")
        profile = profile_execute_job()
        (args.out / "profile.txt").parent.mkdir(parents=True, exist_ok=True)
        (args.out / "profile.txt").write_text(
            profile.pop("cprofile_cumulative") + "\n" + profile.pop("cprofile_tottime")
        )
        results["profile"] = profile
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = write_json(results, args.out, stamp)
    pictures = charts(results, args.out)
    sys.stdout.write("\n" + table(results) + "\n\n")
    _say(f"JSON: {path}; charts: {', '.join(str(p) for p in pictures)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
