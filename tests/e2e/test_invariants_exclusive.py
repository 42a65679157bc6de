"""Invariants 3 and 4 at scale: exclusive jobs, no token lost or duplicated, many executors.

Four job-executor processes compete for the jobs of 200 instances of a process that
forks into five ``asyncBefore`` branches and joins them again: five jobs per instance,
all in the queue at once, for executors that run up to 8 jobs each at a time. Exclusive
jobs (the default) never run two jobs of one instance at the same time, so the join
fires once per instance, when its last branch arrives, and nothing is retried.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from bpmn_doc import definitions, element, flow, process

from safepoint import Engine

BRANCHES = tuple(f"branch_{n}" for n in range(1, 6))

FAN_OUT = definitions(
    process(
        "fan_out",
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        *(flow("fork", branch) for branch in BRANCHES),
        *(
            element(
                "serviceTask",
                branch,
                camunda__asyncBefore="true",
                camunda__delegateExpression="${work}",
            )
            for branch in BRANCHES
        ),
        *(flow(branch, "join") for branch in BRANCHES),
        element("parallelGateway", "join"),
        flow("join", "after_join"),
        element("serviceTask", "after_join", camunda__delegateExpression="${work}"),
        flow("after_join", "end"),
        element("endEvent", "end"),
    )
)
"""``start → fork → 5 × (asyncBefore work) → join → after_join (work) → end``."""

logger = logging.getLogger(__name__)

INSTANCES = 200
EXECUTORS = 4
BUDGET = 60.0
"""Seconds the 200 instances may take, from the first start to the last end."""


def executor_metric(executors: list[Any], prefix: str) -> float:
    return sum(
        value
        for executor in executors
        for name, value in executor.metrics().items()
        if name.startswith(prefix)
    )


def test_four_executors_run_200_forking_instances_and_every_join_fires_once(
    engine: Engine,
    start_engine: Any,
    start_service: Any,
    start_executor: Any,
    http: Any,
    wait_until: Any,
    delegate_runs: Any,
) -> None:
    """Invariants 3 and 4: 4 executors, 200 instances × 5 parallel async branches.

    Every join fires exactly once (``after_join`` and ``end`` once per instance in
    history), every instance completes, every branch delegate runs once per instance,
    and no two jobs of one instance ever run at the same time (each instance's delegate
    log is start/end pairs that never interleave).
    """
    engine_service = start_engine()
    deployer = start_service("safepoint_deployer", name="deployer")
    executors = [start_executor(name=f"executor-{n + 1}", wait=False) for n in range(EXECUTORS)]
    for executor in executors:
        executor.wait_ready(path="/ready")
    deployment = http.deploy(deployer.url, "fan-out", {"fan_out.bpmn": FAN_OUT})
    assert [d["key"] for d in deployment["deployedProcessDefinitions"].values()] == ["fan_out"]

    began = time.monotonic()
    ids = http.start_instances(engine_service.url, "fan_out", INSTANCES, business_key="FAN-")
    started = time.monotonic() - began

    def ended() -> int:
        return len(engine.process_instances(process_definition_key="fan_out", active=False))

    wait_until(
        lambda: ended() == INSTANCES, timeout=BUDGET + 30, interval=0.5, what="all instances ended"
    )
    took = time.monotonic() - began
    logger.info("%d instances: started in %.1f s, all ended after %.1f s", INSTANCES, started, took)
    assert took < BUDGET, f"{INSTANCES} instances took {took:.1f} s (starts {started:.1f} s)"

    expected = {"start": 1, "fork": 1, **dict.fromkeys(BRANCHES, 1), "after_join": 1, "end": 1}
    for pid in ids:
        history = Counter(entry.activity_id for entry in engine.history(pid))
        assert {k: v for k, v in history.items() if k != "join"} == expected, (pid, history)
        assert history["join"] >= 1, (pid, history)

        runs = delegate_runs(pid)
        starts = Counter(activity for activity, _, event in runs if event == "start")
        assert starts == dict.fromkeys((*BRANCHES, "after_join"), 1), (pid, runs)
        # Exclusive: each run ends before the next one of the instance starts.
        for begin, end in zip(runs[::2], runs[1::2], strict=True):
            assert (begin[2], end[2], end[0]) == ("start", "end", begin[0]), (pid, runs)
        assert runs[-2][0] == "after_join", "the join fires after the last branch"
    assert engine.jobs() == []
    assert engine.incidents() == []
    # The exclusive lock was contested: the jobs of many instances ran in several executors.
    spread = [len({run_pid for _, run_pid, _ in delegate_runs(pid)}) for pid in ids]
    logger.info("instances whose jobs ran in several executors: %s", sum(n > 1 for n in spread))
    assert sum(n > 1 for n in spread) >= INSTANCES // 4, Counter(spread)

    wait_until(
        lambda: (
            executor_metric(executors, "safepoint_jobs_executed_total") == len(BRANCHES) * INSTANCES
        ),
        timeout=5,
        what="every job counted once by the executors",
    )
    assert executor_metric(executors, "safepoint_jobs_failed_total") == 0
    assert executor_metric(executors, "safepoint_jobs_optimistic_lock_conflicts_total") == 0
    assert all(executor.metrics()["safepoint_jobs_executed_total"] > 0 for executor in executors)
