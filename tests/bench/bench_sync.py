"""Point 3: the synchronous path, Safepoint's embedded engine against SpiffWorkflow 3.

The same BPMN (a linear process of plain tasks; a parallel fork/join) runs to its end
through ``Engine.start_process_instance_by_key`` on PostgreSQL, whose state and history
are committed in the start's transaction, and through SpiffWorkflow in memory
(``run_all`` without halting on the plain tasks, which it treats as manual).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench_infra import fresh_database, load_average
from bench_models import flow_nodes_linear, flow_nodes_parallel, linear, parallel
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser

from safepoint import Engine

MODELS: dict[str, tuple[Callable[[str, int], bytes], int, Callable[[int], int]]] = {
    "linear": (linear, 100, flow_nodes_linear),
    "parallel": (parallel, 50, flow_nodes_parallel),
}


def _timed(action: Callable[[], None], repeat: int) -> float:
    """Seconds per call of ``action`` over ``repeat`` calls (after one warm-up call)."""
    action()
    started = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - started) / repeat


def _spiff(xml: bytes, key: str) -> Callable[[], None]:
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(xml))
    spec = parser.get_spec(key)

    def run() -> None:
        workflow = BpmnWorkflow(spec)
        workflow.run_all(halt_on_manual=False)
        assert workflow.completed

    return run


def _safepoint(engine: Engine, key: str) -> Callable[[], None]:
    def run() -> None:
        instance = engine.start_process_instance_by_key(key)
        assert instance.ended_at is not None, "the synchronous model must end in one go"

    return run


def run_sync(*, repeat: int) -> dict[str, Any]:
    """One run of both models on both engines: ms per instance, flow nodes per second."""
    results: dict[str, Any] = {"load_average": load_average()}
    with fresh_database() as url, Engine(url) as engine:
        for key, (build, size, nodes_of) in MODELS.items():
            xml = build(key, size)
            engine.deploy(key, {f"{key}.bpmn": xml})
            nodes = nodes_of(size)
            ours = _timed(_safepoint(engine, key), repeat)
            theirs = _timed(_spiff(xml, key), repeat)
            results[key] = {
                "size": size,
                "flow_nodes": nodes,
                "safepoint_ms_per_instance": round(ours * 1000, 3),
                "spiff_ms_per_instance": round(theirs * 1000, 3),
                "safepoint_nodes_per_second": round(nodes / ours, 1),
                "spiff_nodes_per_second": round(nodes / theirs, 1),
                "ratio": round(theirs / ours, 3),
            }
    return results


if __name__ == "__main__":
    import json
    import sys

    sys.stdout.write(json.dumps(run_sync(repeat=10), indent=2) + "\n")
