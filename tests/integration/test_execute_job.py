"""``Engine.execute_job`` as a job-executor calls it: with what the job message says.

The message names the job's process instance and whether it is exclusive, so the job
is read with its instance (no separate lookup), and ``runnable_at`` makes the
transaction that runs the job also check its retries and due date.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from bpmn_doc import Failing, Recorder, definitions, element, flow, process, retry_time_cycle

from safepoint import Engine, ManualClock
from safepoint.core.entities import Job
from safepoint.embedded import JobSkip
from safepoint.errors import NotFound


def _model(delegate: str, *, exclusive: bool = True) -> bytes:
    return definitions(
        process(
            "work",
            element("startEvent", "start"),
            flow("start", "task"),
            element(
                "serviceTask",
                "task",
                camunda__asyncBefore="true",
                camunda__exclusive="true" if exclusive else "false",
                extensions=retry_time_cycle("R3/PT10S"),
                camunda__delegateExpression=f"${{{delegate}}}",
            ),
            flow("task", "end"),
            element("endEvent", "end"),
        )
    )


def _start(engine: Engine, delegate: str = "record", *, exclusive: bool = True) -> Job:
    engine.deploy("work", {"work.bpmn": _model(delegate, exclusive=exclusive)})
    instance = engine.start_process_instance_by_key("work")
    (job,) = engine.jobs(instance.id)
    return job


def test_a_job_named_with_its_instance_runs_and_reports_the_job_as_read(
    engine: Engine, clock: ManualClock, recorder: Recorder
) -> None:
    job = _start(engine)
    started: list[Job] = []

    run = engine.execute_job(
        job.id,
        process_instance_id=job.process_instance_id,
        exclusive=job.exclusive,
        runnable_at=clock(),
        on_start=started.append,
    )

    assert run.skipped is None
    assert run.job == job == started[0]
    assert engine.process_instance(job.process_instance_id).ended
    assert len(recorder.events) == 1


@pytest.mark.parametrize("exclusive", [True, False])
def test_a_wrong_exclusive_hint_still_runs_the_job(
    engine: Engine, clock: ManualClock, recorder: Recorder, exclusive: bool
) -> None:
    job = _start(engine, exclusive=exclusive)
    assert job.exclusive is exclusive

    run = engine.execute_job(
        job.id, process_instance_id=job.process_instance_id, exclusive=not exclusive
    )

    assert run.skipped is None
    assert engine.process_instance(job.process_instance_id).ended


def test_a_job_with_no_retries_left_is_not_run_and_says_so(
    engine: Engine, clock: ManualClock, recorder: Recorder
) -> None:
    job = _start(engine)
    engine.set_job_retries(job.id, 0)

    run = engine.execute_job(
        job.id, process_instance_id=job.process_instance_id, exclusive=True, runnable_at=clock()
    )

    assert run.skipped is JobSkip.EXHAUSTED
    assert recorder.events == []
    assert engine.job(job.id).retries == 0  # nothing changed


def test_a_job_not_due_yet_is_not_run_until_it_is(
    engine: Engine, clock: ManualClock, failing: Failing
) -> None:
    job = _start(engine, "failing")
    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)
    failed = engine.job(job.id)
    assert failed.retries == 2 and failed.due_at == clock() + timedelta(seconds=10)

    early = engine.execute_job(
        job.id, process_instance_id=job.process_instance_id, exclusive=True, runnable_at=clock()
    )
    assert early.skipped is JobSkip.NOT_DUE
    assert failing.calls == 1

    clock.advance(seconds=10)
    with pytest.raises(RuntimeError):
        engine.execute_job(
            job.id,
            process_instance_id=job.process_instance_id,
            exclusive=True,
            runnable_at=clock(),
        )
    assert failing.calls == 2
    assert engine.job(job.id).retries == 1


def test_without_runnable_at_retries_and_due_date_are_ignored(
    engine: Engine, clock: ManualClock, failing: Failing
) -> None:
    job = _start(engine, "failing")
    engine.set_job_retries(job.id, 0)

    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)

    assert failing.calls == 1


def test_a_gone_job_or_instance_is_not_found(engine: Engine, clock: ManualClock) -> None:
    job = _start(engine)
    engine.execute_job(job.id)

    with pytest.raises(NotFound) as gone:
        engine.execute_job(job.id, process_instance_id=job.process_instance_id, exclusive=True)
    assert (gone.value.entity, gone.value.entity_id) == ("job", job.id)
    with pytest.raises(NotFound):
        engine.execute_job(job.id, process_instance_id="no-such-instance", exclusive=False)
    with pytest.raises(NotFound):
        engine.execute_job(job.id)
