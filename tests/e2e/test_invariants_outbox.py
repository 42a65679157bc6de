"""Invariant 1, the transactional outbox: a job is a committed row; its message may be lost.

"Kill the publisher between commit and publish: the instance still completes." An
embedded engine in the test process stands in for that publisher: it commits instances
and their first jobs on the shared PostgreSQL database and publishes nothing (no
``on_commit`` relay), as if it died right after each commit. The real engine service's
dispatcher finds the rows and publishes them; real job-executors continue the
instances to their end, each activity once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bpmn_doc import definitions, element, flow, process

from safepoint import Engine

CHAIN = definitions(
    process(
        "chain",
        element("startEvent", "start"),
        flow("start", "reserve"),
        element(
            "serviceTask",
            "reserve",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${work}",
        ),
        flow("reserve", "ship"),
        element(
            "serviceTask",
            "ship",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${work}",
        ),
        flow("ship", "end"),
        element("endEvent", "end"),
    )
)
"""Two safe points per instance (before ``reserve`` and ``ship``), both running ``work``."""

TASKS = ("reserve", "ship")

INSTANCES = 30

LEASE = timedelta(seconds=3)
"""The lease of the dead creator's jobs: short, so that the dispatcher takes over soon."""


def all_ended(engine: Engine, instance_ids: list[str]) -> bool:
    return all(engine.process_instance(pid).ended for pid in instance_ids)


def assert_completed_once(
    engine: Engine, instance_ids: list[str], delegate_runs: Callable[[str], Any]
) -> None:
    """Every instance ran each activity once (history) and each delegate once (its log)."""
    for pid in instance_ids:
        counts = Counter(entry.activity_id for entry in engine.history(pid))
        assert counts == {"start": 1, "reserve": 1, "ship": 1, "end": 1}, pid
        runs = [(activity, event) for activity, _, event in delegate_runs(pid)]
        assert runs == [(task, event) for task in TASKS for event in ("start", "end")], pid
    assert engine.jobs() == []
    assert engine.incidents() == []


def test_jobs_committed_but_never_published_are_dispatched_and_every_instance_completes(
    database_url: str,
    start_engine: Any,
    start_executor: Any,
    wait_until: Any,
    delegate_runs: Any,
) -> None:
    """Invariant 1: a job whose publish was lost after its commit is published by the dispatcher.

    The creator holds no lease on its jobs, so the engine's dispatcher publishes them at
    its next round.
    """
    with Engine(database_url, node_name="publisher-killed-after-commit") as silent:
        silent.deploy("chain", {"chain.bpmn": CHAIN})
        engine_service = start_engine()
        executor = start_executor()

        ids = [
            silent.start_process_instance_by_key("chain", business_key=f"LOST-{n}").id
            for n in range(INSTANCES)
        ]

        wait_until(lambda: all_ended(silent, ids), timeout=30, what="every instance ended")

        assert_completed_once(silent, ids, delegate_runs)
        # The first jobs reached the queue through the engine's dispatcher only.
        assert "dispatched" in engine_service.output()
        wait_until(
            lambda: executor.metrics()["safepoint_jobs_executed_total"] == len(TASKS) * INSTANCES,
            timeout=5,
            what="every job counted once by the executor",
        )


def test_a_job_leased_by_a_creator_that_died_is_dispatched_once_its_lease_runs_out(
    database_url: str,
    start_engine: Any,
    start_executor: Any,
    wait_until: Any,
    delegate_runs: Any,
) -> None:
    """Invariant 1: a job leased to a creator that died unpublished runs after the lease ends.

    Each new job is leased to its creator (``job_lease``), so that the dispatcher does
    not publish it a second time while the creator's own publish is on its way. The
    creator here dies between commit and publish: the dispatcher must leave the job
    alone until the lease runs out, then publish it.
    """
    with Engine(database_url, job_lease=LEASE, node_name="creator-died") as dead:
        dead.deploy("chain", {"chain.bpmn": CHAIN})
        start_engine()
        start_executor()

        ids, first_jobs = [], []
        for n in range(10):
            pid = dead.start_process_instance_by_key("chain", business_key=f"LEASED-{n}").id
            (job,) = dead.jobs(pid)  # read at once: the lease holds for seconds
            assert job.locked_by == "creator-died"
            assert job.lock_expires_at is not None
            ids.append(pid)
            first_jobs.append(job)

        wait_until(
            lambda: all_ended(dead, ids),
            timeout=LEASE.total_seconds() + 30,
            what="every instance ended",
        )

        assert_completed_once(dead, ids, delegate_runs)
        for job in first_jobs:
            assert job.lock_expires_at is not None
            (ran,) = [entry for entry in dead.job_log(job_id=job.id) if entry.event == "successful"]
            # Not published (so not run) while the dead creator's lease held.
            assert ran.timestamp >= job.lock_expires_at, (ran.timestamp, job.lock_expires_at)
