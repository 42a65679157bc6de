"""The benchmark's output: a terminal table, the JSON file and the PNG charts."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _median(entry: dict[str, Any], field: str) -> float:
    return float(entry["summary"][field]["median"])


def _spread(entry: dict[str, Any], field: str) -> str:
    return f"±{entry['summary'][field]['spread'] * 50:.0f}%"


def table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table (medians; spread = half the range over the median)."""
    rows = ["| measurement | figure | median | spread |", "|---|---|---|---|"]

    def add(name: str, figure: str, entry: dict[str, Any], field: str, unit: str = "") -> None:
        rows.append(
            f"| {name} | {figure} | {_median(entry, field):,.1f}{unit} | {_spread(entry, field)} |"
        )

    def add_hops(name: str, entry: dict[str, Any]) -> None:
        p50, p99 = _median(entry, "hop_p50_ms"), _median(entry, "hop_p99_ms")
        spread = _spread(entry, "hop_p50_ms")
        rows.append(f"| {name} | hop p50 / p99 (ms) | {p50:,.1f} / {p99:,.1f} ms | {spread} |")

    for executors, entry in sorted(results.get("async_chain", {}).items()):
        name = f"async chain, {executors} executor(s)"
        add(name, "safe points/s", entry, "safe_points_per_second")
        add_hops(name, entry)
        cpu = entry["runs"][0]["cpu_ms_per_safe_point"]
        per = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
        rows.append(f"| {name} | CPU ms per safe point (run 1) | {per} | |")
    if "async_chain_queued" in results:
        name = "async chain, 2 executor(s), every job through the queue (follow-ups off)"
        entry = results["async_chain_queued"]
        add(name, "safe points/s", entry, "safe_points_per_second")
        add_hops(name, entry)
        cpu = entry["runs"][0]["cpu_ms_per_safe_point"]
        per = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
        rows.append(f"| {name} | CPU ms per safe point (run 1) | {per} | |")
    if "half_load" in results:
        offered = results["half_load"]["runs"][0].get("offered_safe_points_per_second", 0)
        name = f"async chain, half load (~{offered:,.0f} safe points/s), 2 executors"
        add_hops(name, results["half_load"])
    for processes, entry in sorted(results.get("floor", {}).items()):
        add(f"floor, {processes} process(es)", "safe points/s", entry, "safe_points_per_second")
        cpu = entry["runs"][0]["cpu_ms_per_safe_point"]
        per = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
        rows.append(f"| floor, {processes} process(es) | CPU ms per safe point (run 1) | {per} | |")
    if "floor_uvloop" in results:
        entry = results["floor_uvloop"]
        add("floor on uvloop, 2 process(es)", "safe points/s", entry, "safe_points_per_second")
    for label, value in results.get("ratios", {}).items():
        rows.append(f"| {label} | ratio | {value:.2f} | |")
    for key, entry in results.get("sync", {}).items():
        add(
            f"sync {key}: Safepoint (PostgreSQL)",
            "flow nodes/s",
            entry,
            "safepoint_nodes_per_second",
        )
        add(f"sync {key}: SpiffWorkflow run_all", "flow nodes/s", entry, "spiff_nodes_per_second")
        add(f"sync {key}", "Safepoint ÷ SpiffWorkflow", entry, "ratio")
    for label, entry in results.get("growth", {}).items():
        add(f"growth: {label}", "safe points/s", entry, "safe_points_per_second")
        add(f"growth: {label}", "hop p99 (ms)", entry, "hop_p99_ms", " ms")
        rows.append(f"| growth: {label} | CPU ms per safe point, all processes | {_cpu(entry)} |")
    return "\n".join(rows)


def _cpu(entry: dict[str, Any]) -> str:
    """The runs' total CPU per safe point (median, spread), then the median per process.

    The cost of a safe point, whatever the parallelism: a fork of 200 has 10 instances
    to run at once where a fork of 10 has 200, and its throughput shows that too.
    """
    runs = [run["cpu_ms_per_safe_point"] for run in entry["runs"]]
    totals = [sum(cpu.values()) for cpu in runs]
    middle = statistics.median(totals)
    spread = (max(totals) - min(totals)) / middle * 50 if middle else 0.0
    per = ", ".join(
        f"{name} {statistics.median(cpu[name] for cpu in runs):.2f}" for name in runs[0]
    )
    return f"{middle:.2f} ({per}) | ±{spread:.0f}%"


def write_json(results: dict[str, Any], folder: Path, stamp: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench-{stamp}.json"
    text = json.dumps(results, indent=2)
    path.write_text(text)
    (folder / "latest.json").write_text(text)
    return path


def charts(results: dict[str, Any], folder: Path) -> list[Path]:
    """Throughput against executors, the latency histogram and the growth curves."""
    written: list[Path] = []
    chain = results.get("async_chain", {})
    if chain:
        figure, axis = plt.subplots(figsize=(6, 4))
        executors = sorted(chain, key=int)
        axis.plot(
            [int(e) for e in executors],
            [_median(chain[e], "safe_points_per_second") for e in executors],
            "o-",
            label="Safepoint",
        )
        for processes, entry in results.get("floor", {}).items():
            axis.axhline(
                _median(entry, "safe_points_per_second"),
                linestyle="--",
                color="grey" if processes == "1" else "black",
                label=f"floor, {processes} process(es)",
            )
        axis.set_xlabel("job-executor processes")
        axis.set_ylabel("safe points / s")
        axis.set_xticks([int(e) for e in executors])
        axis.legend()
        axis.set_title("Async chain (20 asyncBefore tasks)")
        written.append(_save(figure, folder / "throughput.png"))
        figure, axis = plt.subplots(figsize=(6, 4))
        for executor in executors:
            sample = chain[executor]["runs"][0]["latency_sample_ms"]
            axis.hist(sample, bins=60, alpha=0.6, label=f"{executor} executor(s), 200 in flight")
        if "async_chain_queued" in results:
            sample = results["async_chain_queued"]["runs"][0]["latency_sample_ms"]
            axis.hist(sample, bins=60, alpha=0.6, label="2 executor(s), every job queued")
        if "half_load" in results:
            sample = results["half_load"]["runs"][0]["latency_sample_ms"]
            axis.hist(sample, bins=60, alpha=0.6, label="half load, 2 executors")
        axis.set_xlabel("safe point → next safe point of the instance (ms)")
        axis.set_ylabel("hops")
        axis.set_yscale("log")
        axis.legend()
        written.append(_save(figure, folder / "latency.png"))
    growth = results.get("growth", {})
    if growth:
        figure, axes = plt.subplots(1, 2, figsize=(10, 4))
        for axis, prefix, xlabel in (
            (axes[0], "waiting ", "waiting instances (100 active)"),
            (axes[1], "fork ", "branches of the fork"),
        ):
            points = sorted(
                (int(label.split()[1]), entry)
                for label, entry in growth.items()
                if label.startswith(prefix)
            )
            if not points:
                continue
            xs = [x for x, _ in points]
            axis.plot(xs, [_median(e, "safe_points_per_second") for _, e in points], "o-")
            axis.set_xscale("log")
            axis.set_xlabel(xlabel)
            axis.set_ylabel("safe points / s")
            twin = axis.twinx()
            twin.plot(xs, [_median(e, "hop_p99_ms") for _, e in points], "s--", color="red")
            twin.set_ylabel("hop p99 (ms)", color="red")
        written.append(_save(figure, folder / "growth.png"))
    return written


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
