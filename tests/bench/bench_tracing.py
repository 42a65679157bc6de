"""Tracing overhead: the async chain with tracing off and on, alternated.

    python tests/bench/bench_tracing.py --endpoint http://127.0.0.1:14318 [--pairs 3]
        [--instances 100] [--executors 2] [--out results]

Needs an OTLP/HTTP receiver at ``--endpoint`` that accepts and discards, e.g.
``rotel-agent start --exporter blackhole --otlp-http-endpoint 127.0.0.1:14318`` (PyPI
``rotel``) in a throwaway venv. Runs go off, on, off, on, ... so machine noise falls on
both alike; the overhead is ``1 - on / off`` of the median safe points per second.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench_async import REPO_DIR, ChainRun, run_chain
from bench_infra import load_average, summary
from bench_models import async_chain

TASKS = 20
FIELDS = ("safe_points_per_second", "hop_p50_ms", "hop_p99_ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint", required=True, help="OTLP/HTTP base URL (no /v1/traces)")
    parser.add_argument("--pairs", type=int, default=3, help="off/on pairs (≥ 3)")
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--executors", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO_DIR / "results")
    args = parser.parse_args(argv)
    off = ChainRun(async_chain("chain", TASKS), "chain", TASKS, args.instances, args.executors)
    on = dataclasses.replace(off, otlp_endpoint=args.endpoint)
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    for pair in range(1, args.pairs + 1):
        for label, run in (("off", off), ("on", on)):
            result = run_chain(run, log_dir=args.out / "logs")
            result.pop("latency_sample_ms")
            runs[label].append(result)
            sys.stdout.write(
                f"[tracing {time.strftime('%H:%M:%S')}] pair {pair} {label}: "
                + ", ".join(f"{f}={result[f]}" for f in FIELDS)
                + f", load={result['load_average']}\n"
            )
            sys.stdout.flush()
    summaries = {k: {f: summary(r[f] for r in v) for f in FIELDS} for k, v in runs.items()}
    off_median = summaries["off"]["safe_points_per_second"]["median"]
    on_median = summaries["on"]["safe_points_per_second"]["median"]
    results = {
        "instances": args.instances,
        "executors": args.executors,
        "endpoint": args.endpoint,
        "runs": runs,
        "summary": summaries,
        "overhead": round(1 - on_median / off_median, 4),
        "load_average_at_end": load_average(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"tracing-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    for label in ("off", "on"):
        s = summaries[label]["safe_points_per_second"]
        sys.stdout.write(
            f"tracing {label}: {s['median']} safe points/s (min {s['min']}, max {s['max']}, "
            f"spread {s['spread']:.1%})\n"
        )
    sys.stdout.write(f"overhead 1 - on/off = {results['overhead']:.1%}; JSON: {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
