"""What a failing job rolls back, and what stays committed (reference 1.8, step 1)."""

from __future__ import annotations

from typing import Any

import pytest
from bpmn_doc import (
    Recorder,
    chain,
    definitions,
    deploy,
    element,
    flow,
    listener,
    message_definition,
    only_job,
    process,
)

from safepoint import BadUserRequest, Engine, SafepointError


def set_then_fail(execution: Any) -> None:
    """Change variables, then fail: the changes must not survive the failure."""
    execution.set_variable("counter", 2)
    execution.set_variable("written_before_failure", True)
    raise RuntimeError("failed after writing variables")


def test_failure_after_async_before_rolls_back_everything_the_job_did(
    engine: Engine, recorder: Recorder
) -> None:
    """1.8 step 1: async task1 → sync task2 (writes variables, then fails).

    The job's work is rolled back: task1's variable, task2's new and updated variables
    and their activity history are gone; the token waits at task1 on the same execution.
    Variables committed before the job stay.
    """
    engine.delegates["setThenFail"] = set_then_fail
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "task1", camunda__asyncBefore="true", camunda__class="record"),
        element("serviceTask", "task2", camunda__class="setThenFail"),
        element("endEvent", "end"),
        *chain("start", "task1", "task2", "end"),
    )
    instance = engine.start_process_instance_by_key("p", {"counter": 1})
    job = only_job(engine, instance.id)

    with pytest.raises(RuntimeError, match="failed after writing variables"):
        engine.execute_job(job.id)

    assert recorder.events == [("execute", "task1")]  # it did run ...
    assert engine.variables(instance.id) == {"counter": 1}  # ... but nothing of it stayed
    assert [h.activity_id for h in engine.history(instance.id)] == ["start"]
    after = engine.job(job.id)
    assert (after.execution_id, after.activity_id, after.configuration) == (
        job.execution_id,
        "task1",
        job.configuration,
    )
    assert (after.retries, after.failed_activity_id) == (2, "task2")
    assert engine.active_activity_ids(instance.id) == ["task1"]
    tree = engine.activity_instance(instance.id)
    assert [t.activity_id for t in tree.child_transition_instances] == ["task1"]
    assert tree.child_activity_instances == []


def test_wait_states_created_by_a_failed_job_disappear_with_it(
    engine: Engine, recorder: Recorder
) -> None:
    """1.8 step 1: subscriptions and tasks created in the failing job are rolled back.

    An async fork enters a message catch event and a user task, then a third branch
    fails in the same job. Afterwards there is no subscription and no task: a message
    finds nobody, and the token waits at the fork again.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        element("parallelGateway", "fork", camunda__asyncBefore="true"),
        element("intermediateCatchEvent", "catch", extensions=listener("start"),
                body=message_definition("go")),
        element("userTask", "userTask", extensions=listener("start")),
        element("serviceTask", "boom", camunda__class="failing"),
        element("endEvent", "end1"),
        element("endEvent", "end2"),
        element("endEvent", "end3"),
        flow("start", "fork"),
        *chain("fork", "catch", "end1"),
        *chain("fork", "userTask", "end2"),
        *chain("fork", "boom", "end3"),
        messages=("go",),
    )  # fmt: skip
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)

    with pytest.raises(RuntimeError, match="expected failure"):
        engine.execute_job(job.id)

    assert sorted(recorder.events) == [("start", "catch"), ("start", "userTask")]
    assert engine.tasks(instance.id) == []
    with pytest.raises(BadUserRequest, match="No process definition or execution matches"):
        engine.correlate_message("go")
    assert engine.active_activity_ids(instance.id) == ["fork"]
    assert engine.variables(instance.id) == {}
    assert engine.job(job.id).failed_activity_id == "boom"


def test_failing_take_listener_of_an_async_after_job_rolls_back_only_the_job(
    engine: Engine, recorder: Recorder
) -> None:
    """1.4/1.8: asyncAfter task → flow with a failing take listener → next.

    The task ran (and its end listener fired) before the job: that stays committed. The
    failing job rolls back only the take listener's writes. Once the listener is fixed,
    the job continues from the flow without running the task again.
    """
    engine.delegates["setThenFail"] = set_then_fail
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "task", camunda__asyncAfter="true", camunda__class="record",
                extensions=listener("end")),
        element("serviceTask", "next", camunda__class="record"),
        element("endEvent", "end"),
        flow("start", "task"),
        flow("task", "next", listeners=listener("take", "setThenFail")),
        flow("next", "end"),
    )  # fmt: skip
    instance = engine.start_process_instance_by_key("p", {"counter": 1})
    job = only_job(engine, instance.id)
    committed = {"counter": 1, "invoked_task": True, "listener_end_task": True}
    assert engine.variables(instance.id) == committed

    with pytest.raises(RuntimeError, match="failed after writing variables"):
        engine.execute_job(job.id)

    assert engine.variables(instance.id) == committed
    after = engine.job(job.id)
    assert (after.activity_id, after.configuration, after.retries) == (
        "task",
        job.configuration,
        2,
    )
    assert after.failed_activity_id == "task"
    assert engine.active_activity_ids(instance.id) == ["task"]

    engine.delegates["setThenFail"] = recorder
    engine.execute_job(job.id)

    assert engine.process_instance(instance.id).ended
    assert recorder.events == [
        ("execute", "task"),
        ("end", "task"),
        ("take", "task"),
        ("execute", "next"),
    ]
    assert engine.variables(instance.id)["invoked_next"] is True


def test_a_failing_job_whose_instance_was_deleted_meanwhile_is_harmless(
    engine: Engine,
) -> None:
    """1.8: the instance is deleted while its job runs, and then the job fails.

    Recording the failure finds no job: nothing is written, no incident is raised, and
    the job executor goes on. (The job is non-exclusive so that the deletion, done from
    inside the job in another transaction, does not wait for the job's instance lock.)
    """
    deleted: list[str] = []

    def delete_then_fail(execution: Any) -> None:
        if not deleted:
            engine.delete_process_instance(execution.process_instance_id, "meanwhile")
            deleted.append(execution.process_instance_id)
        raise RuntimeError("failed after the instance was deleted")

    engine.delegates["deleteThenFail"] = delete_then_fail
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "task", camunda__asyncBefore="true",
                camunda__exclusive="false", camunda__class="deleteThenFail"),
        element("endEvent", "end"),
        *chain("start", "task", "end"),
    )  # fmt: skip
    instance = engine.start_process_instance_by_key("p")

    assert engine.execute_available_jobs() == 1

    assert deleted == [instance.id]
    ended = engine.process_instance(instance.id)
    assert ended.ended
    assert ended.delete_reason == "meanwhile"
    assert engine.jobs() == []
    assert engine.incidents() == []
    assert engine.execute_available_jobs() == 0


def test_a_failure_while_committing_the_job_counts_as_a_job_failure(engine: Engine) -> None:
    """1.8: the job's work is refused at commit (a value that cannot be stored).

    That is a failure of the job like any other: nothing is committed, the exception is
    stored and a retry is used up; the token waits at the task.
    """

    def store_unstorable(execution: Any) -> None:
        execution.set_variable("unstorable", object())

    engine.delegates["storeUnstorable"] = store_unstorable
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "task", camunda__asyncBefore="true",
                camunda__class="storeUnstorable"),
        element("endEvent", "end"),
        *chain("start", "task", "end"),
    )  # fmt: skip
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)

    with pytest.raises(SafepointError, match="unstorable"):
        engine.execute_job(job.id)

    after = engine.job(job.id)
    assert after.retries == 2
    assert after.exception_message is not None
    assert "unstorable" in after.exception_message
    assert engine.variables(instance.id) == {}
    assert not engine.process_instance(instance.id).ended
    assert engine.active_activity_ids(instance.id) == ["task"]


def test_a_failure_message_with_a_nul_byte_is_still_recorded(engine: Engine) -> None:
    """A NUL byte (which PostgreSQL text cannot hold) must not stop the failure being counted."""

    def nul(execution: object) -> None:
        raise RuntimeError("bad\x00byte")

    engine.delegates["nul"] = nul
    engine.deploy(
        "nul",
        {
            "nul.bpmn": definitions(
                process(
                    "nul",
                    element("startEvent", "start"),
                    flow("start", "task"),
                    element(
                        "serviceTask", "task", camunda__asyncBefore="true", camunda__class="nul"
                    ),
                    flow("task", "end"),
                    element("endEvent", "end"),
                )
            )
        },
    )
    instance = engine.start_process_instance_by_key("nul")
    assert engine.execute_available_jobs() == 3
    job = engine.jobs(instance.id)[0]
    assert job.retries == 0
    assert job.exception_message == "bad\\x00byte"
    assert len(engine.incidents(instance.id)) == 1
