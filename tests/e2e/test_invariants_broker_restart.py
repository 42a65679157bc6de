"""Invariant 3 under a RabbitMQ restart: no token lost or duplicated, the services recover.

The engine service and two job-executors run ~100 instances of a three-step async
chain; while they are in flight, the machine's RabbitMQ is stopped (``rabbitmqctl
stop_app``) for a few seconds and started again. The services must reconnect by
themselves: the executors' readiness recovers, and every instance completes with each
activity once in history. Publishes lost while the broker was away are repaired by the
engine's dispatcher once their lease runs out (short leases here: 8 s).

This restarts the shared broker: other tests' vhosts survive ``stop_app``/``start_app``
and the downtime is kept short; the broker is started again whatever happens.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from bpmn_doc import definitions, element, flow, process

from safepoint import Engine

logger = logging.getLogger(__name__)

STEPS = ("pick", "pack", "ship")

CHAIN = definitions(
    process(
        "fulfil",
        element("startEvent", "start"),
        flow("start", "pick"),
        *(
            element(
                "serviceTask",
                step,
                camunda__asyncBefore="true",
                camunda__delegateExpression="${work}",
            )
            for step in STEPS
        ),
        flow("pick", "pack"),
        flow("pack", "ship"),
        flow("ship", "end"),
        element("endEvent", "end"),
    )
)
"""``start → pick → pack → ship → end``, each step ``asyncBefore`` and running ``work``."""

INSTANCES = 100
DOWNTIME = 3.0
"""Seconds RabbitMQ stays stopped."""
LEASE_SECONDS = 8
"""The job lease of the engine and the executors: how soon a lost publish is repaired."""
STEP_SECONDS = 0.1
"""How long each step's delegate works, so that the instances are still in flight."""


def rabbitmqctl(*args: str, timeout: float = 60) -> None:
    command = shutil.which("rabbitmqctl")
    assert command is not None, "rabbitmqctl is not on PATH"
    result = subprocess.run(
        [command, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"rabbitmqctl {' '.join(args)}: {result.stderr or result.stdout}"


@pytest.fixture
def restart_broker() -> Iterator[Any]:
    """``restart_broker()``: stop RabbitMQ, wait :data:`DOWNTIME`, start it again.

    The broker is started again at teardown too, should the test fail in between.
    """
    stopped = False

    def restart() -> None:
        nonlocal stopped
        stopped = True
        rabbitmqctl("stop_app")
        try:
            time.sleep(DOWNTIME)  # the downtime itself is what is tested
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
            stopped = False

    yield restart
    if stopped:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")


def test_a_rabbitmq_restart_under_load_loses_no_instance_and_runs_each_activity_once(
    database_url: str,
    start_engine: Any,
    start_executor: Any,
    restart_broker: Any,
    http: Any,
    wait_until: Any,
    delegate_runs: Any,
) -> None:
    """Invariant 3: RabbitMQ restarted with ~100 instances in flight; every one completes once.

    The services reconnect by themselves (engine ``/health/ready``, executors
    ``/ready``), each instance runs each activity once in history, nothing is left
    behind (no job, no incident), and the engine starts and completes new instances
    after the restart.
    """
    lease = {
        "SAFEPOINT_MESSAGING_JOB_LEASE": str(LEASE_SECONDS),
        "SAFEPOINT_EXECUTOR_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    with Engine(database_url, node_name="e2e-observer") as observer:
        observer.deploy("fulfil", {"fulfil.bpmn": CHAIN})
        engine_service = start_engine(lease)
        executors = [start_executor(lease, name=f"executor-{n}", wait=False) for n in (1, 2)]
        for executor in executors:
            executor.wait_ready(path="/ready")

        variables = {"sleep": {"value": STEP_SECONDS, "type": "Double"}}
        ids = http.start_instances(
            engine_service.url, "fulfil", INSTANCES, variables=variables, business_key="ORDER-"
        )

        def ended(instance_ids: list[str]) -> int:
            return sum(observer.process_instance(pid).ended for pid in instance_ids)

        def steps_done() -> int:
            return sum(event == "end" for pid in ids for _, _, event in delegate_runs(pid))

        # Stop the broker in the middle of the work: executors busy, jobs queued.
        wait_until(lambda: steps_done() >= INSTANCES // 2, timeout=30, what="work under way")
        done, before = steps_done(), ended(ids)
        assert done < len(STEPS) * INSTANCES, "the instances must still be in flight"
        restarted_at = time.monotonic()
        restart_broker()
        logger.info(
            "RabbitMQ stopped after %d of %d steps; %d instances had ended",
            done,
            len(STEPS) * INSTANCES,
            before,
        )

        # The services reconnect by themselves.
        for executor in executors:
            executor.wait_ready(path="/ready", timeout=60)
        engine_service.wait_ready(path="/health/ready", timeout=60)
        assert all(service.running for service in [engine_service, *executors])

        wait_until(
            lambda: ended(ids) == INSTANCES,
            timeout=LEASE_SECONDS + 60,
            interval=0.5,
            what="every instance ended after the restart",
        )
        logger.info("all ended %.1f s after the restart began", time.monotonic() - restarted_at)

        for pid in ids:
            counts = Counter(entry.activity_id for entry in observer.history(pid))
            assert counts == {"start": 1, **dict.fromkeys(STEPS, 1), "end": 1}, (pid, counts)
            # At least once: a delegate may run again only if its job was cut off.
            ran = Counter(activity for activity, _, event in delegate_runs(pid) if event == "end")
            assert set(ran) == set(STEPS), (pid, ran)
        assert observer.jobs() == []
        assert observer.incidents() == []

        # The engine's own connection is back: new instances start and complete.
        more = http.start_instances(engine_service.url, "fulfil", 10, business_key="AFTER-")
        wait_until(
            lambda: ended(more) == len(more),
            timeout=LEASE_SECONDS + 30,
            what="instances started after the restart ended",
        )
