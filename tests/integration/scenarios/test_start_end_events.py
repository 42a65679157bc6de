"""Async start and end events (scenarios 17-24 of the reference, rule 1.5).

An async start event commits the instance and its start variables with a
`process-start` job; the process START listeners run in the job. An async end event
leaves the instance running until its job has ended it. asyncAfter on an end event waits
as a transition instance with an `activity-end` job.
"""

from __future__ import annotations

import pytest
from bpmn_doc import (
    TERMINATE,
    Recorder,
    definitions,
    deploy,
    element,
    flow,
    listener,
    only_job,
    process,
    set_variable_listener,
    sub_process,
)

from safepoint import Engine

# --- scenarios 17 and 18 ---------------------------------------------------------------


def test_async_start_event_commits_the_instance_before_anything_runs(engine: Engine) -> None:
    """Scenario 17: async start event → user task.

    After start: no task, the token at `startEvent` as a transition instance, one
    `process-start` job; the start variables are committed. After the job: the task.
    """
    deploy(
        engine,
        element("startEvent", "startEvent", camunda__async="true"),
        flow("startEvent", "userTask"),
        element("userTask", "userTask"),
    )
    instance = engine.start_process_instance_by_key("p", {"given": "value"})

    assert engine.tasks(instance.id) == []
    assert engine.active_activity_ids(instance.id) == ["startEvent"]
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("startEvent", "process-start")
    assert job.execution_id == instance.id
    assert job.job_definition_id.endswith("async-before")
    assert engine.variables(instance.id) == {"given": "value"}
    tree = engine.activity_instance(instance.id)
    assert tree.activity_id == "p"
    assert [(t.activity_id, t.execution_id) for t in tree.child_transition_instances] == [
        ("startEvent", instance.id)
    ]
    assert tree.child_activity_instances == []
    assert engine.history(instance.id) == []  # the start event has not been entered yet

    assert engine.execute_available_jobs() == 1

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["userTask"]
    assert engine.active_activity_ids(instance.id) == ["userTask"]
    assert "startEvent" not in engine.active_activity_ids(instance.id)
    assert [h.activity_id for h in engine.history(instance.id)] == ["startEvent", "userTask"]


def test_async_start_event_process_start_listener_runs_in_the_job(engine: Engine) -> None:
    """Scenario 18: a process-level START listener does not run before the `process-start` job."""
    deploy(
        engine,
        element(
            "startEvent", "startEvent", extensions=listener("start"), camunda__asyncBefore="true"
        ),
        flow("startEvent", "userTask"),
        element("userTask", "userTask"),
        listeners=set_variable_listener("start", "listener", "'listener invoked'"),
    )
    instance = engine.start_process_instance_by_key("p")

    assert "listener" not in engine.variables(instance.id)
    assert "listener_start_startEvent" not in engine.variables(instance.id)

    engine.execute_available_jobs()

    variables = engine.variables(instance.id)
    assert variables["listener"] == "listener invoked"
    assert variables["listener_start_startEvent"] is True


# --- scenario 19 -----------------------------------------------------------------------


def test_async_start_event_inside_a_sub_process(engine: Engine) -> None:
    """Scenario 19: async start event in a sub-process: the sub-process has been entered;
    its start event waits as a transition instance (`activity-start-create-scope` job).
    """
    deploy(
        engine,
        element("startEvent", "theStart"),
        flow("theStart", "SubProcess_1"),
        sub_process(
            "SubProcess_1",
            element("startEvent", "StartEvent_2", camunda__asyncBefore="true"),
            flow("StartEvent_2", "userTask"),
            element("userTask", "userTask"),
            flow("userTask", "subEnd"),
            element("endEvent", "subEnd"),
            extensions=listener("start"),
        ),
        flow("SubProcess_1", "theEnd"),
        element("endEvent", "theEnd"),
    )
    instance = engine.start_process_instance_by_key("p")

    assert engine.tasks(instance.id) == []
    assert engine.active_activity_ids(instance.id) == ["StartEvent_2"]
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("StartEvent_2", "activity-start-create-scope")
    assert job.execution_id != instance.id
    # The sub-process itself has started (its START listener ran).
    assert engine.variables(instance.id) == {"listener_start_SubProcess_1": True}
    tree = engine.activity_instance(instance.id)
    assert tree.child_transition_instances == []
    (sub,) = tree.child_activity_instances
    assert sub.activity_id == "SubProcess_1"
    assert [(t.activity_id, t.execution_id) for t in sub.child_transition_instances] == [
        ("StartEvent_2", job.execution_id)
    ]
    assert sub.child_activity_instances == []

    engine.execute_available_jobs()

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["userTask"]
    (sub,) = engine.activity_instance(instance.id).child_activity_instances
    assert [a.activity_id for a in sub.child_activity_instances] == ["userTask"]
    assert sub.child_transition_instances == []


# --- scenarios 21 and 22 ---------------------------------------------------------------


def test_async_end_event_keeps_the_instance_running_until_its_job(engine: Engine) -> None:
    """Scenario 21: start → async end event: 1 execution at `endEvent`, then the job ends it."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "endEvent"),
        element("endEvent", "endEvent", camunda__asyncBefore="true"),
    )
    instance = engine.start_process_instance_by_key("p")

    assert not engine.process_instance(instance.id).ended
    assert engine.active_activity_ids(instance.id) == ["endEvent"]
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("endEvent", "transition-create-scope")
    tree = engine.activity_instance(instance.id)
    assert [t.activity_id for t in tree.child_transition_instances] == ["endEvent"]

    engine.execute_available_jobs()

    assert engine.process_instance(instance.id).ended
    assert engine.process_instances(process_definition_key="p", active=True) == []
    assert [h.activity_id for h in engine.history(instance.id)] == ["start", "endEvent"]


def test_async_end_event_process_end_listener_runs_in_the_job(engine: Engine) -> None:
    """Scenario 22: the process END listener runs in the async end event's job."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "endEvent"),
        element("endEvent", "endEvent", camunda__asyncBefore="true"),
        listeners=set_variable_listener("end", "listener", "'listener invoked'"),
    )
    instance = engine.start_process_instance_by_key("p")

    assert "listener" not in engine.variables(instance.id)
    assert not engine.process_instance(instance.id).ended

    engine.execute_available_jobs()

    assert engine.process_instance(instance.id).ended
    assert engine.variables(instance.id)["listener"] == "listener invoked"


# --- scenario 23 -----------------------------------------------------------------------


def test_two_async_end_events_after_a_fork(engine: Engine) -> None:
    """Scenario 23, adapted: message end events are not supported, so both are none end
    events. Two jobs; the instance ends only after both have run.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "endEvent1"),
        flow("fork", "endEvent2"),
        element("endEvent", "endEvent1", camunda__asyncBefore="true"),
        element("endEvent", "endEvent2", camunda__asyncBefore="true"),
    )
    instance = engine.start_process_instance_by_key("p")

    jobs = engine.jobs(instance.id)
    assert sorted(j.activity_id for j in jobs) == ["endEvent1", "endEvent2"]
    assert all(j.retries > 0 for j in jobs)

    engine.execute_job(jobs[0].id)

    assert [j.id for j in engine.jobs(instance.id)] == [jobs[1].id]
    assert not engine.process_instance(instance.id).ended

    engine.execute_job(jobs[1].id)

    assert engine.process_instance(instance.id).ended
    assert engine.jobs(instance.id) == []


# --- scenario 24 -----------------------------------------------------------------------


def test_async_after_end_event_waits_as_a_transition_instance(engine: Engine) -> None:
    """Scenario 24: asyncAfter on an end event: a transition instance `theEnd` on the process
    instance execution, with an `activity-end` job; the END listener already ran.
    """
    deploy(
        engine,
        element("startEvent", "theStart"),
        flow("theStart", "theEnd"),
        element("endEvent", "theEnd", extensions=listener("end"), camunda__asyncAfter="true"),
        listeners=set_variable_listener("end", "processEnded"),
    )
    instance = engine.start_process_instance_by_key("p")

    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration, job.execution_id) == (
        "theEnd",
        "activity-end",
        instance.id,
    )
    tree = engine.activity_instance(instance.id)
    assert [(t.activity_id, t.execution_id) for t in tree.child_transition_instances] == [
        ("theEnd", instance.id)
    ]
    assert tree.child_activity_instances == []
    variables = engine.variables(instance.id)
    assert variables["listener_end_theEnd"] is True
    assert "processEnded" not in variables

    engine.execute_job(job.id)

    assert engine.process_instance(instance.id).ended
    assert engine.variables(instance.id)["processEnded"] is True


def test_async_after_end_event_inside_a_sub_process(engine: Engine) -> None:
    """Scenario 24, nested: the tree shows `subProcess` holding a transition instance
    `theSubProcessEnd`, and the job belongs to the sub-process execution.
    """
    deploy(
        engine,
        element("startEvent", "theStart"),
        flow("theStart", "subProcess"),
        sub_process(
            "subProcess",
            element("startEvent", "theSubProcessStart"),
            flow("theSubProcessStart", "theSubProcessEnd"),
            element("endEvent", "theSubProcessEnd", camunda__asyncAfter="true"),
            extensions=listener("end"),
        ),
        flow("subProcess", "theEnd"),
        element("endEvent", "theEnd"),
    )
    instance = engine.start_process_instance_by_key("p")

    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("theSubProcessEnd", "activity-end")
    assert job.execution_id != instance.id
    tree = engine.activity_instance(instance.id)
    assert tree.child_transition_instances == []
    (sub,) = tree.child_activity_instances
    assert sub.activity_id == "subProcess"
    assert job.execution_id in sub.execution_ids
    assert [(t.activity_id, t.execution_id) for t in sub.child_transition_instances] == [
        ("theSubProcessEnd", job.execution_id)
    ]
    assert sub.child_activity_instances == []
    assert "listener_end_subProcess" not in engine.variables(instance.id)

    engine.execute_job(job.id)

    assert engine.variables(instance.id)["listener_end_subProcess"] is True
    assert engine.process_instance(instance.id).ended


# --- combinations not in the list ------------------------------------------------------


def test_async_before_and_after_on_a_start_event(engine: Engine) -> None:
    """Rules 1.3/1.4/1.5 (not in the list): a start event with both flags: `process-start`,
    then a take job for its outgoing flow.
    """
    deploy(
        engine,
        element(
            "startEvent",
            "start",
            extensions=listener("start") + listener("end"),
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
        ),
        flow("start", "task"),
        element("userTask", "task"),
    )
    instance = engine.start_process_instance_by_key("p")
    assert only_job(engine, instance.id).configuration == "process-start"
    assert engine.variables(instance.id) == {}

    engine.execute_job(only_job(engine, instance.id).id)

    assert engine.variables(instance.id) == {
        "listener_start_start": True,
        "listener_end_start": True,
    }
    after = only_job(engine, instance.id)
    assert (after.activity_id, after.configuration) == (
        "start",
        "transition-notify-listener-take$start_task",
    )
    assert engine.tasks(instance.id) == []

    engine.execute_job(after.id)
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["task"]


def test_async_end_event_inside_a_sub_process_defers_the_sub_process_end(engine: Engine) -> None:
    """Rule 1.5 (not in the list): an asyncBefore end event inside a sub-process keeps the
    sub-process running; its job ends the sub-process and continues after it.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "sub"),
        sub_process(
            "sub",
            element("startEvent", "subStart"),
            flow("subStart", "subEnd"),
            element("endEvent", "subEnd", camunda__asyncBefore="true"),
            extensions=listener("end"),
        ),
        flow("sub", "after"),
        element("userTask", "after"),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("subEnd", "transition-create-scope")
    (sub,) = engine.activity_instance(instance.id).child_activity_instances
    assert [t.activity_id for t in sub.child_transition_instances] == ["subEnd"]
    assert "listener_end_sub" not in engine.variables(instance.id)

    engine.execute_job(job.id)

    assert engine.variables(instance.id)["listener_end_sub"] is True
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["after"]


def test_async_terminate_end_event_terminates_in_its_job(engine: Engine) -> None:
    """Rules 1.3/1.5 (not in the list): an asyncBefore terminate end event terminates nothing
    until its job runs; then the other branch's task is gone and the instance has ended.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "task"),
        flow("fork", "terminate"),
        element("userTask", "task"),
        element(
            "endEvent",
            "terminate",
            body=TERMINATE,
            camunda__asyncBefore="true",
        ),
    )
    instance = engine.start_process_instance_by_key("p")

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["task"]
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("terminate", "transition-create-scope")
    assert not engine.process_instance(instance.id).ended

    engine.execute_job(job.id)

    assert engine.process_instance(instance.id).ended
    assert engine.tasks(instance.id) == []
    task = [h for h in engine.history(instance.id) if h.activity_id == "task"]
    assert len(task) == 1 and task[0].canceled


def test_process_end_listener_sees_the_end_event_it_completed_at(
    engine: Engine, recorder: Recorder
) -> None:
    """Camunda's PROCESS_END runs on the execution still at the end event it reached.

    (On deletion the execution is moved to the process scope first: no activity.)
    """
    engine.deploy(
        "end-listener",
        {
            "end.bpmn": definitions(
                process(
                    "ends",
                    element("startEvent", "start"),
                    flow("start", "theEnd"),
                    element("endEvent", "theEnd"),
                    listeners=listener("end"),
                )
            )
        },
    )
    instance = engine.start_process_instance_by_key("ends")
    assert engine.process_instance(instance.id).ended
    assert recorder.events == [("end", "theEnd")]


@pytest.mark.parametrize("terminate_first", [True, False], ids=["terminate-first", "task-first"])
def test_terminate_end_event_drops_the_steps_other_branches_queued_in_its_transaction(
    engine: Engine, recorder: Recorder, terminate_first: bool
) -> None:
    """Not in the list: a fork's branch reaches a terminate end event while the other
    branch still has steps queued in the same transaction. Camunda skips the steps of
    the executions it cancelled; the instance ends, and nothing of the other branch runs
    after the terminate.
    """
    branches = [flow("fork", "terminate"), flow("fork", "task")]
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        *(branches if terminate_first else branches[::-1]),
        element("endEvent", "terminate", body=TERMINATE),
        element("serviceTask", "task", camunda__delegateExpression="${record}"),
        flow("task", "next"),
        element("task", "next", extensions=listener("start")),
        flow("next", "wait"),
        element("userTask", "wait"),
    )

    instance = engine.start_process_instance_by_key("p")

    assert engine.process_instance(instance.id).ended
    assert engine.tasks(instance.id) == [] and engine.jobs(instance.id) == []
    # The task's branch ran as far as its turns went before the terminate, never further.
    assert ("start", "next") not in recorder.events
    assert recorder.events == ([] if terminate_first else [("execute", "task")])


def test_terminate_end_event_in_a_job_drops_the_queued_steps_and_leaves_its_sub_process(
    engine: Engine,
) -> None:
    """Not in the list: inside a sub-process, an asyncBefore fork's job reaches a terminate
    end event on one branch while the other branch's steps are queued: the job succeeds,
    the sub-process ends and the process goes on after it.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "sub"),
        sub_process(
            "sub",
            element("startEvent", "subStart"),
            flow("subStart", "fork"),
            element("parallelGateway", "fork", camunda__asyncBefore="true"),
            flow("fork", "terminate"),
            flow("fork", "task"),
            element("endEvent", "terminate", body=TERMINATE),
            element("task", "task"),
            flow("task", "inner"),
            element("userTask", "inner"),
        ),
        flow("sub", "after"),
        element("userTask", "after"),
    )
    instance = engine.start_process_instance_by_key("p")

    engine.execute_job(only_job(engine, instance.id).id)

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["after"]
    assert engine.incidents(instance.id) == [] and engine.jobs(instance.id) == []
