"""Job leases: what the dispatcher republishes (lost publishes, retries, dead executors)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from bpmn_doc import Failing, definitions, element, flow, process

from safepoint import Engine, ManualClock
from safepoint.embedded import CommandOutcome

LEASE_BPMN = definitions(
    process(
        "lease",
        element("startEvent", "start"),
        flow("start", "work"),
        element(
            "serviceTask",
            "work",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${failing}",
        ),
        flow("work", "end"),
        element("endEvent", "end"),
    )
)


@pytest.fixture
def leasing_engine(database_url: str, clock: ManualClock, failing: Failing) -> Iterator[Engine]:
    with Engine(
        database_url,
        delegates={"failing": failing},
        clock=clock,
        job_lease=timedelta(seconds=30),
        node_name="executor-1",
    ) as engine:
        engine.deploy("lease", {"lease.bpmn": LEASE_BPMN})
        yield engine


def test_a_new_job_is_leased_to_its_creator_and_republished_only_after_the_lease(
    leasing_engine: Engine, clock: ManualClock
) -> None:
    instance = leasing_engine.start_process_instance_by_key("lease")
    (job,) = leasing_engine.jobs(instance.id)
    assert job.locked_by == "executor-1"
    assert job.lock_expires_at == clock() + timedelta(seconds=30)
    assert leasing_engine.lease_due_jobs() == []  # its creator publishes it

    clock.advance(seconds=31)  # the publish was lost: the lease runs out
    (leased,) = leasing_engine.lease_due_jobs()
    assert leased.id == job.id
    assert leased.lock_expires_at == clock() + timedelta(seconds=30)
    assert leasing_engine.lease_due_jobs() == []  # leased once, not twice


def test_a_failed_job_is_released_and_leased_again_until_its_retries_run_out(
    leasing_engine: Engine, clock: ManualClock
) -> None:
    instance = leasing_engine.start_process_instance_by_key("lease")
    (job,) = leasing_engine.jobs(instance.id)
    for retries_left in (2, 1):
        with pytest.raises(RuntimeError):
            leasing_engine.execute_job(job.id)
        failed = leasing_engine.job(job.id)
        assert (failed.retries, failed.locked_by, failed.lock_expires_at) == (
            retries_left,
            None,
            None,
        )
        assert [j.id for j in leasing_engine.lease_due_jobs()] == [job.id]
    with pytest.raises(RuntimeError):
        leasing_engine.execute_job(job.id)
    assert leasing_engine.job(job.id).retries == 0
    assert leasing_engine.lease_due_jobs() == []  # exhausted: an incident, not a message

    leasing_engine.set_job_retries(job.id, 1)  # the operator's fix
    assert [j.id for j in leasing_engine.lease_due_jobs()] == [job.id]


def test_on_commit_announces_what_each_command_created(
    database_url: str, clock: ManualClock
) -> None:
    outcomes: list[CommandOutcome] = []
    with Engine(
        database_url,
        delegates={"failing": lambda execution: None},
        clock=clock,
        on_commit=outcomes.append,
        job_lease=timedelta(seconds=30),
    ) as engine:
        engine.deploy("lease", {"lease.bpmn": LEASE_BPMN})
        instance = engine.start_process_instance_by_key("lease", business_key="B-1")
        (started,) = outcomes
        assert (started.started, started.ended, started.business_key) == (True, False, "B-1")
        (job,) = started.jobs
        assert job.lock_expires_at == clock() + timedelta(seconds=30)  # leased as created

        engine.execute_job(job.id)
        assert len(outcomes) == 2
        assert (outcomes[1].jobs, outcomes[1].started, outcomes[1].ended) == ((), False, True)
        assert outcomes[1].process_instance_id == instance.id
