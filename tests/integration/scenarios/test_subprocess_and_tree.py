"""Async continuations in and on sub-processes, and the activity instance tree they show.

Scenario 36 (the variants without a boundary timer), scenario 38 (the execution tree is
compacted when a branch ends), and tree shapes: a token waiting at an async boundary is a
transition instance under the scope it waits in, never an activity instance.
"""

from __future__ import annotations

from bpmn_doc import (
    Recorder,
    deploy,
    element,
    flow,
    input_output,
    listener,
    only_job,
    set_variable_listener,
    sub_process,
)

from safepoint import ActivityInstance, Engine


def shape(node: ActivityInstance) -> dict[str, object]:
    """The tree as nested data: activity instances by activity id, transition instances."""
    return {
        "activity": node.activity_id,
        "children": sorted(
            (shape(child) for child in node.child_activity_instances),
            key=lambda c: str(c["activity"]),
        ),
        "transitions": sorted(t.activity_id for t in node.child_transition_instances),
    }


def leaf(activity: str) -> dict[str, object]:
    return {"activity": activity, "children": [], "transitions": []}


# --- scenario 36 (variants) ------------------------------------------------------------


def test_async_before_on_a_sub_process_waits_before_entering_it(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 36 (variant `testAsyncServiceSubProcess`): asyncBefore on the sub-process itself
    gives 1 job and a transition instance `subProcess`; nothing of the sub-process has run.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "subProcess"),
        sub_process(
            "subProcess",
            element("startEvent", "subStart"),
            flow("subStart", "service"),
            element("serviceTask", "service", camunda__delegateExpression="${record}"),
            flow("service", "subEnd"),
            element("endEvent", "subEnd"),
            extensions=listener("start") + input_output(inputs=[("inner", "${'set'}")]),
            camunda__asyncBefore="true",
        ),
        flow("subProcess", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")

    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("subProcess", "transition-create-scope")
    assert job.execution_id == instance.id
    tree = engine.activity_instance(instance.id)
    assert shape(tree) == {"activity": "p", "children": [], "transitions": ["subProcess"]}
    assert recorder.events == []
    assert engine.active_activity_ids(instance.id) == ["subProcess"]
    assert [h.activity_id for h in engine.history(instance.id)] == ["start"]

    engine.execute_job(job.id)

    assert recorder.events == [("start", "subProcess"), ("execute", "service")]
    assert engine.process_instance(instance.id).ended
    assert engine.jobs(instance.id) == []
    assert "inner" not in engine.variables(instance.id)  # local to the sub-process


def test_async_service_inside_a_sub_process(engine: Engine, recorder: Recorder) -> None:
    """Scenario 36 (without the boundary timer, which is not supported): an asyncBefore service
    in a sub-process gives 1 job, a transition instance inside the `subProcess` activity
    instance; its job runs the service and completes the sub-process and the instance.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "subProcess"),
        sub_process(
            "subProcess",
            element("startEvent", "subStart"),
            flow("subStart", "service"),
            element(
                "serviceTask",
                "service",
                camunda__asyncBefore="true",
                camunda__delegateExpression="${record}",
            ),
            flow("service", "subEnd"),
            element("endEvent", "subEnd"),
            extensions=listener("start") + listener("end"),
        ),
        flow("subProcess", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")

    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("service", "transition-create-scope")
    assert job.execution_id != instance.id
    assert recorder.events == [("start", "subProcess")]
    tree = engine.activity_instance(instance.id)
    assert shape(tree) == {
        "activity": "p",
        "children": [{"activity": "subProcess", "children": [], "transitions": ["service"]}],
        "transitions": [],
    }
    (sub,) = tree.child_activity_instances
    assert sub.child_transition_instances[0].execution_id == job.execution_id
    assert job.execution_id in sub.execution_ids

    engine.execute_job(job.id)

    assert recorder.events == [
        ("start", "subProcess"),
        ("execute", "service"),
        ("end", "subProcess"),
    ]
    assert engine.process_instance(instance.id).ended
    assert engine.jobs(instance.id) == []


# --- scenario 38 -----------------------------------------------------------------------


def test_last_job_is_reassigned_to_the_process_instance_when_a_branch_ends(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 38: fork into two async services, each with its own end event.

    When one branch ends, the tree is compacted: the remaining job now belongs to the process
    instance execution, and so does the remaining transition instance.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "service1"),
        flow("fork", "service2"),
        element(
            "serviceTask",
            "service1",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${record}",
        ),
        element(
            "serviceTask",
            "service2",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service1", "end1"),
        flow("service2", "end2"),
        element("endEvent", "end1"),
        element("endEvent", "end2"),
    )
    instance = engine.start_process_instance_by_key("p")

    jobs = engine.jobs(instance.id)
    assert sorted(j.activity_id for j in jobs) == ["service1", "service2"]
    assert instance.id not in {j.execution_id for j in jobs}  # concurrent executions
    first = next(j for j in jobs if j.activity_id == "service1")
    second = next(j for j in jobs if j.activity_id == "service2")

    engine.execute_job(first.id)

    remaining = only_job(engine, instance.id)
    assert remaining.id == second.id
    assert remaining.execution_id == instance.id
    tree = engine.activity_instance(instance.id)
    assert [(t.activity_id, t.execution_id) for t in tree.child_transition_instances] == [
        ("service2", instance.id)
    ]
    assert engine.active_activity_ids(instance.id) == ["service2"]
    assert not engine.process_instance(instance.id).ended

    engine.execute_job(remaining.id)

    assert engine.jobs(instance.id) == []
    assert engine.process_instance(instance.id).ended
    assert recorder.events == [("execute", "service1"), ("execute", "service2")]


# --- tree shapes (not in the list) ------------------------------------------------------


def test_tree_mixes_activity_and_transition_instances_of_concurrent_tokens(
    engine: Engine,
) -> None:
    """Rule 1.2: a concurrent token at a user task is an activity instance; one waiting before
    an async service is a transition instance; one waiting after an asyncAfter task too.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "task"),
        flow("fork", "before"),
        flow("fork", "after"),
        element("userTask", "task"),
        element("serviceTask", "before", camunda__asyncBefore="true", camunda__expression="${1}"),
        element("serviceTask", "after", camunda__asyncAfter="true", camunda__expression="${1}"),
        flow("after", "afterEnd"),
        element("endEvent", "afterEnd"),
    )
    instance = engine.start_process_instance_by_key("p")

    tree = engine.activity_instance(instance.id)
    assert shape(tree) == {
        "activity": "p",
        "children": [leaf("task")],
        "transitions": ["after", "before"],
    }
    assert tree.id == instance.id
    assert tree.execution_ids == [instance.id]
    (task,) = engine.tasks(instance.id)
    assert tree.child_activity_instances[0].id == task.activity_instance_id
    assert sorted(engine.active_activity_ids(instance.id)) == ["after", "before", "task"]


def test_tree_of_nested_sub_processes_with_waiting_tokens(engine: Engine) -> None:
    """Rule 1.2: transition instances sit under the innermost scope they wait in."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "outer"),
        sub_process(
            "outer",
            element("startEvent", "outerStart"),
            flow("outerStart", "fork"),
            element("parallelGateway", "fork"),
            flow("fork", "outerTask"),
            flow("fork", "inner"),
            element("userTask", "outerTask"),
            sub_process(
                "inner",
                element("startEvent", "innerStart"),
                flow("innerStart", "innerFork"),
                element("parallelGateway", "innerFork"),
                flow("innerFork", "innerService"),
                flow("innerFork", "innerTask"),
                element(
                    "serviceTask",
                    "innerService",
                    camunda__asyncBefore="true",
                    camunda__expression="${1}",
                ),
                element("userTask", "innerTask"),
            ),
        ),
    )
    instance = engine.start_process_instance_by_key("p")

    assert shape(engine.activity_instance(instance.id)) == {
        "activity": "p",
        "children": [
            {
                "activity": "outer",
                "children": [
                    {
                        "activity": "inner",
                        "children": [leaf("innerTask")],
                        "transitions": ["innerService"],
                    },
                    leaf("outerTask"),
                ],
                "transitions": [],
            }
        ],
        "transitions": [],
    }
    job = only_job(engine, instance.id)
    assert job.activity_id == "innerService"

    engine.execute_job(job.id)

    assert shape(engine.activity_instance(instance.id)) == {
        "activity": "p",
        "children": [
            {
                "activity": "outer",
                "children": [
                    {"activity": "inner", "children": [leaf("innerTask")], "transitions": []},
                    leaf("outerTask"),
                ],
                "transitions": [],
            }
        ],
        "transitions": [],
    }


def test_async_before_and_after_on_a_sub_process(engine: Engine, recorder: Recorder) -> None:
    """Rules 1.3/1.4 (not in the list): both flags on a sub-process. The before-job enters and
    runs it; when it completes, its END listener runs and an after-job waits for the flow.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "sub"),
        sub_process(
            "sub",
            element("startEvent", "subStart"),
            flow("subStart", "service"),
            element("serviceTask", "service", camunda__delegateExpression="${record}"),
            flow("service", "subEnd"),
            element("endEvent", "subEnd"),
            extensions=listener("start") + listener("end"),
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
        ),
        flow("sub", "task"),
        element("userTask", "task"),
    )
    instance = engine.start_process_instance_by_key("p")
    assert only_job(engine, instance.id).configuration == "transition-create-scope"

    engine.execute_job(only_job(engine, instance.id).id)

    after = only_job(engine, instance.id)
    assert (after.activity_id, after.configuration) == (
        "sub",
        "transition-notify-listener-take$sub_task",
    )
    assert after.execution_id == instance.id
    assert recorder.events == [("start", "sub"), ("execute", "service"), ("end", "sub")]
    assert shape(engine.activity_instance(instance.id)) == {
        "activity": "p",
        "children": [],
        "transitions": ["sub"],
    }

    engine.execute_job(after.id)
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["task"]


def test_async_after_on_a_sub_process_without_outgoing_flow(engine: Engine) -> None:
    """Rule 1.4 (not in the list): a sub-process with asyncAfter and no outgoing flow waits
    with an `activity-end` job; the process END listener runs in it.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "sub"),
        sub_process(
            "sub",
            element("startEvent", "subStart"),
            flow("subStart", "subEnd"),
            element("endEvent", "subEnd"),
            extensions=listener("end"),
            camunda__asyncAfter="true",
        ),
        listeners=set_variable_listener("end", "processEnded"),
    )
    instance = engine.start_process_instance_by_key("p")

    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("sub", "activity-end")
    variables = engine.variables(instance.id)
    assert variables["listener_end_sub"] is True
    assert "processEnded" not in variables
    assert shape(engine.activity_instance(instance.id)) == {
        "activity": "p",
        "children": [],
        "transitions": ["sub"],
    }

    engine.execute_job(job.id)
    assert engine.process_instance(instance.id).ended
    assert engine.variables(instance.id)["processEnded"] is True


def test_take_job_is_reassigned_to_the_process_instance_when_a_branch_ends(
    engine: Engine,
) -> None:
    """Scenario 38 with asyncAfter (not in the list): an asyncAfter fork leads to two end
    events; after one take job ends its branch, the other take job belongs to the process
    instance execution and still takes its own flow.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork", camunda__asyncAfter="true"),
        flow("fork", "end1", "toEnd1"),
        flow("fork", "end2", "toEnd2"),
        element("endEvent", "end1"),
        element("endEvent", "end2"),
    )
    instance = engine.start_process_instance_by_key("p")
    jobs = engine.jobs(instance.id)
    first = next(j for j in jobs if j.configuration.endswith("$toEnd1"))
    second = next(j for j in jobs if j.configuration.endswith("$toEnd2"))

    engine.execute_job(first.id)

    remaining = only_job(engine, instance.id)
    assert (remaining.id, remaining.execution_id) == (second.id, instance.id)
    assert remaining.configuration == "transition-notify-listener-take$toEnd2"
    assert shape(engine.activity_instance(instance.id)) == {
        "activity": "p",
        "children": [],
        "transitions": ["fork"],
    }

    engine.execute_job(remaining.id)

    assert engine.process_instance(instance.id).ended
    assert [h.activity_id for h in engine.history(instance.id)].count("end2") == 1


def test_activity_end_job_is_reassigned_when_the_other_branch_ends(
    engine: Engine, recorder: Recorder
) -> None:
    """Rule 1.4 (not in the list): a branch waits at an `activity-end` job; the other branch
    ends, the tree is compacted, and the job (now on the process instance) ends the instance.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "service"),
        flow("fork", "task"),
        element(
            "serviceTask",
            "service",
            extensions=listener("end"),
            camunda__asyncAfter="true",
            camunda__delegateExpression="${record}",
        ),
        element("userTask", "task"),
        flow("task", "end"),
        element("endEvent", "end"),
        listeners=set_variable_listener("end", "processEnded"),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.configuration == "activity-end"
    assert job.execution_id != instance.id

    engine.complete_task(engine.tasks(instance.id)[0].id)

    moved = only_job(engine, instance.id)
    assert (moved.id, moved.execution_id) == (job.id, instance.id)
    assert shape(engine.activity_instance(instance.id)) == {
        "activity": "p",
        "children": [],
        "transitions": ["service"],
    }
    assert "processEnded" not in engine.variables(instance.id)

    engine.execute_job(moved.id)

    assert engine.process_instance(instance.id).ended
    assert engine.variables(instance.id)["processEnded"] is True
    assert recorder.events == [("execute", "service"), ("end", "service")]


def test_job_is_reassigned_to_the_sub_process_execution_when_an_inner_branch_ends(
    engine: Engine,
) -> None:
    """Scenario 38 inside a sub-process (not in the list): compaction happens in the scope the
    branches run in; the remaining job moves to the sub-process's scope execution.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "sub"),
        sub_process(
            "sub",
            element("startEvent", "subStart"),
            flow("subStart", "fork"),
            element("parallelGateway", "fork"),
            flow("fork", "service1"),
            flow("fork", "service2"),
            element(
                "serviceTask", "service1", camunda__asyncBefore="true", camunda__expression="${1}"
            ),
            element(
                "serviceTask", "service2", camunda__asyncBefore="true", camunda__expression="${1}"
            ),
            flow("service1", "end1"),
            flow("service2", "end2"),
            element("endEvent", "end1"),
            element("endEvent", "end2"),
        ),
        flow("sub", "after"),
        element("userTask", "after"),
    )
    instance = engine.start_process_instance_by_key("p")
    (sub,) = engine.activity_instance(instance.id).child_activity_instances
    scope_ids = [e for e in sub.execution_ids if e != instance.id]
    jobs = engine.jobs(instance.id)
    assert not {j.execution_id for j in jobs} & {instance.id, *scope_ids}
    first = next(j for j in jobs if j.activity_id == "service1")
    second = next(j for j in jobs if j.activity_id == "service2")

    engine.execute_job(first.id)

    remaining = only_job(engine, instance.id)
    assert remaining.id == second.id
    assert remaining.execution_id in scope_ids
    (sub,) = engine.activity_instance(instance.id).child_activity_instances
    assert [(t.activity_id, t.execution_id) for t in sub.child_transition_instances] == [
        ("service2", remaining.execution_id)
    ]

    engine.execute_job(remaining.id)

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["after"]
