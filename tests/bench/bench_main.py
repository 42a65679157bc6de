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


def _alternate(
    names: list[str],
    actions: dict[str, Callable[[], dict[str, Any]]],
    runs: int,
    done: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every action once per round, ``runs`` rounds; each one's runs and summary.

    ``done`` receives each action's results as they come (a later action of a round
    can read an earlier one's).
    """
    done = {} if done is None else done
    done.update({name: [] for name in names})
    for n in range(1, runs + 1):
        for name in names:
            result = actions[name]()
            _say(f"{name} run {n}/{runs}: " + ", ".join(f"{f}={result[f]}" for f in SUMMARIZED))
            done[name].append(result)
    return {
        name: {"runs": r, "summary": {f: summary(x[f] for x in r) for f in SUMMARIZED}}
        for name, r in done.items()
    }


FLOOR_UVLOOP = "floor on uvloop, 2 process(es)"
"""The floor on the event loop the services run on (the issue's floor is on asyncio's)."""
QUEUED = "async chain, 2 executor(s), every job through the queue"
"""The chain with ``SAFEPOINT_EXECUTOR_FOLLOW_UPS=0``: a broker round trip per safe point,
as in the floor (by default, a job's follow-ups run in the job-executor that ran it)."""
HALF_LOAD = "async chain, half load, 2 executors"
HALF_LOAD_SECONDS = 10.0
"""How long the half-load run starts instances for."""


def _half_load(chain: bytes, done: dict[str, list[dict[str, Any]]], logs: Path) -> dict[str, Any]:
    """The chain at half the throughput 2 executors reached in this round (issue 5's latency).

    Instances start at a steady rate (an open load) for :data:`HALF_LOAD_SECONDS`, so
    that safe points are asked for at half the rate the saturated run just measured;
    the hop latency is then what an instance sees at that load.
    """
    full = done["async chain, 2 executor(s)"][-1]["safe_points_per_second"]
    rate = full / 2 / TASKS
    run = ChainRun(chain, "chain", TASKS, max(10, round(rate * HALF_LOAD_SECONDS)), 2, rate=rate)
    result = run_chain(run, log_dir=logs)
    result["offered_safe_points_per_second"] = round(full / 2, 1)
    return result


def _median(entry: dict[str, Any]) -> float:
    """The median safe points per second of a measurement's runs."""
    return float(entry["summary"]["safe_points_per_second"]["median"])


def _rounds_ratio(ours: dict[str, Any], floor: dict[str, Any]) -> float:
    """The median of the round-by-round ratios (the runs alternate, round by round)."""
    paired = [
        c["safe_points_per_second"] / f["safe_points_per_second"]
        for c, f in zip(ours["runs"], floor["runs"], strict=True)
    ]
    return float(summary(paired)["median"])


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
    measured_runs: dict[str, list[dict[str, Any]]] = {}
    # The figures compared (2 executors, 2 floor processes) run alternately, so that the
    # machine's drift (it slows down under sustained load) falls on both alike.
    measured: dict[str, Callable[[], dict[str, Any]]] = {}
    if "chain" in parts:
        for executors in (2, 1):
            run = ChainRun(chain, "chain", TASKS, instances, executors)
            measured[f"async chain, {executors} executor(s)"] = lambda run=run: run_chain(
                run, log_dir=logs
            )
        queued = ChainRun(chain, "chain", TASKS, instances, 2, follow_ups=0)
        measured[QUEUED] = lambda: run_chain(queued, log_dir=logs)
        measured[HALF_LOAD] = lambda: _half_load(chain, measured_runs, logs)
    if "floor" in parts:
        for processes in (2, 1):
            measured[f"floor, {processes} process(es)"] = lambda p=processes: run_floor(
                instances=instances, hops=TASKS, processes=p
            )
        measured[FLOOR_UVLOOP] = lambda: run_floor(
            instances=instances, hops=TASKS, processes=2, loop="uvloop"
        )
    order = [
        "async chain, 2 executor(s)",
        "floor, 2 process(es)",
        QUEUED,
        "async chain, 1 executor(s)",
        "floor, 1 process(es)",
        FLOOR_UVLOOP,
        HALF_LOAD,
    ]
    done = _alternate([n for n in order if n in measured], measured, args.runs, measured_runs)
    if "chain" in parts:
        results["async_chain"] = {str(n): done[f"async chain, {n} executor(s)"] for n in (1, 2)}
        results["async_chain_queued"] = done[QUEUED]
        results["half_load"] = done[HALF_LOAD]
    if "floor" in parts:
        results["floor"] = {str(n): done[f"floor, {n} process(es)"] for n in (1, 2)}
        results["floor_uvloop"] = done[FLOOR_UVLOOP]
    if "chain" in parts and "floor" in parts:
        floor = results["floor"]["2"]
        ours, queued = results["async_chain"]["2"], results["async_chain_queued"]
        on_uvloop = _median(results["floor_uvloop"])
        results["ratios"] = {
            "Safepoint (2 executors) ÷ floor (2 processes), medians": _median(ours)
            / _median(floor),
            "the same, median of the rounds' ratios": _rounds_ratio(ours, floor),
            "Safepoint ÷ the floor on uvloop (2 processes), medians": _median(ours) / on_uvloop,
            "every job through the queue (2 executors) ÷ floor, medians": _median(queued)
            / _median(floor),
            "every job through the queue ÷ floor, median of the rounds' ratios": _rounds_ratio(
                queued, floor
            ),
        }
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
        growing: dict[str, Callable[[], dict[str, Any]]] = {}
        for count in waiting_sizes:
            run = ChainRun(
                chain, "chain", TASKS, 100, 2, waiting=count, waiting_model=waiting("waiting")
            )
            growing[f"waiting {count}"] = lambda run=run: run_chain(run, log_dir=logs)
        # alternated, like the chain and the floor: the sizes are compared with each other
        results["growth"].update(_alternate(list(growing), growing, args.runs))
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
