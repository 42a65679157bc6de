"""asyncAfter (and asyncBefore+asyncAfter): what is committed before the job, what runs in it.

Scenarios 3-13 of the reference (camunda-async-semantics.md, section 2), plus rule
combinations that are not in the list: conditions chosen before the boundary, input and
output mappings around both boundaries, terminate end events against waiting jobs, take
listeners on an asyncAfter fork, a failing after-job, an async start event followed by
an async task.
"""

from __future__ import annotations

import pytest
from bpmn_doc import (
    TERMINATE,
    Recorder,
    deploy,
    element,
    flow,
    input_output,
    listener,
    message_definition,
    only_job,
    set_variable_listener,
    sub_process,
)

from safepoint import BadUserRequest, Engine, Job

START_END = listener("start") + listener("end")

TAKE = "transition-notify-listener-take"


def configurations(jobs: list[Job]) -> list[tuple[str, str]]:
    return sorted((job.activity_id, job.configuration) for job in jobs)


def job_with(engine: Engine, instance_id: str, configuration: str) -> Job:
    (job,) = [j for j in engine.jobs(instance_id) if j.configuration == configuration]
    return job


# --- scenario 3 ------------------------------------------------------------------------


def test_async_after_service_task_commits_the_activity_before_its_job(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 3: asyncAfter service → end.

    The behaviour and the START and END listeners run and are committed before the job; the
    job takes the outgoing flow and ends the instance.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=START_END,
            camunda__asyncAfter="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")

    variables = engine.variables(instance.id)
    assert variables["listener_start_service"] is True
    assert variables["invoked_service"] is True
    assert variables["listener_end_service"] is True
    assert recorder.events == [("start", "service"), ("execute", "service"), ("end", "service")]
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("service", f"{TAKE}$service_end")
    assert job.execution_id == instance.id
    assert job.job_definition_id.endswith("async-after")
    assert not engine.process_instance(instance.id).ended
    # The activity has ended: the token waits after it, as a transition instance.
    tree = engine.activity_instance(instance.id)
    assert [t.activity_id for t in tree.child_transition_instances] == ["service"]
    assert tree.child_activity_instances == []
    service_history = [h for h in engine.history(instance.id) if h.activity_id == "service"]
    assert len(service_history) == 1 and service_history[0].ended_at is not None
    assert "end" not in [h.activity_id for h in engine.history(instance.id)]

    engine.execute_job(job.id)

    assert engine.process_instance(instance.id).ended
    assert engine.jobs(instance.id) == []
    # Nothing of the activity ran again in the job.
    assert len(recorder.events) == 3
    assert [h.activity_id for h in engine.history(instance.id)] == ["start", "service", "end"]


# --- scenario 4 ------------------------------------------------------------------------


def test_async_before_and_after_on_one_service_task_make_two_safe_points(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 4: asyncBefore + asyncAfter on one service task.

    The before-job runs listeners and behaviour and stops at the after boundary with a
    new job (of the activity's async-after job definition); the after-job ends the instance.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=START_END,
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")

    assert engine.variables(instance.id) == {}
    assert recorder.events == []
    before = only_job(engine, instance.id)
    assert (before.activity_id, before.configuration) == ("service", "transition-create-scope")

    engine.execute_job(before.id)

    variables = engine.variables(instance.id)
    assert variables["listener_start_service"] is True
    assert variables["invoked_service"] is True
    assert variables["listener_end_service"] is True
    after = only_job(engine, instance.id)
    assert after.id != before.id
    assert (after.activity_id, after.configuration) == ("service", f"{TAKE}$service_end")
    # Two job definitions: one per kind (Camunda issue #3312 is about mixing them up).
    assert before.job_definition_id.endswith("async-before")
    assert after.job_definition_id.endswith("async-after")
    assert before.job_definition_id != after.job_definition_id
    assert not engine.process_instance(instance.id).ended

    engine.execute_job(after.id)

    assert engine.process_instance(instance.id).ended
    assert recorder.events == [("start", "service"), ("execute", "service"), ("end", "service")]
    log = [(entry.job_id, entry.event.value) for entry in engine.job_log(instance.id)]
    assert log == [
        (before.id, "created"),
        (before.id, "successful"),
        (after.id, "created"),
        (after.id, "successful"),
    ]


def test_async_before_and_after_on_a_manual_task(engine: Engine) -> None:
    """Scenario 4, manual-task variant: two jobs, the listeners run in the first one."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "manual"),
        element(
            "manualTask",
            "manual",
            extensions=START_END,
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
        ),
        flow("manual", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")
    assert engine.variables(instance.id) == {}
    assert only_job(engine, instance.id).configuration == "transition-create-scope"

    engine.execute_job(only_job(engine, instance.id).id)

    assert engine.variables(instance.id) == {
        "listener_start_manual": True,
        "listener_end_manual": True,
    }
    assert only_job(engine, instance.id).configuration == f"{TAKE}$manual_end"

    engine.execute_job(only_job(engine, instance.id).id)
    assert engine.process_instance(instance.id).ended


# --- scenario 5 ------------------------------------------------------------------------


def conditional_split() -> tuple[str, ...]:
    return (
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=START_END,
            camunda__asyncAfter="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service", "taskAfterFlow2", "flow2", condition="${flowToTake == 'flow2'}"),
        flow("service", "taskAfterFlow3", "flow3", condition="${flowToTake == 'flow3'}"),
        element("receiveTask", "taskAfterFlow2", messageRef="msg_m2"),
        element("receiveTask", "taskAfterFlow3", messageRef="msg_m3"),
    )


@pytest.mark.parametrize(("taken", "not_taken"), [("flow2", "flow3"), ("flow3", "flow2")])
def test_async_after_with_two_conditional_flows_creates_one_job(
    engine: Engine, taken: str, not_taken: str
) -> None:
    """Scenario 5: asyncAfter with two conditional flows, one true: 1 job, for that flow."""
    deploy(engine, *conditional_split(), messages=("m2", "m3"))
    instance = engine.start_process_instance_by_key("p", {"flowToTake": taken})

    variables = engine.variables(instance.id)
    assert variables["invoked_service"] is True
    assert variables["listener_start_service"] is True
    assert variables["listener_end_service"] is True
    job = only_job(engine, instance.id)
    assert job.configuration == f"{TAKE}${taken}"

    engine.execute_job(job.id)

    assert engine.active_activity_ids(instance.id) == [f"taskAfter{taken.capitalize()}"]
    assert f"taskAfter{not_taken.capitalize()}" not in engine.active_activity_ids(instance.id)
    assert engine.jobs(instance.id) == []


def test_async_after_flow_is_chosen_before_the_boundary(engine: Engine) -> None:
    """Rule 1.4 (not in the list): conditions are evaluated before the asyncAfter boundary.

    A parallel branch changes ``flowToTake`` while the after-job waits; the job still takes
    the flow chosen when the activity ended.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "service"),
        flow("fork", "change"),
        element("userTask", "change"),
        flow("change", "changeEnd"),
        element("endEvent", "changeEnd"),
        *conditional_split()[2:],
        messages=("m2", "m3"),
    )
    instance = engine.start_process_instance_by_key("p", {"flowToTake": "flow2"})
    job = only_job(engine, instance.id)
    assert job.configuration == f"{TAKE}$flow2"

    (task,) = engine.tasks(instance.id)
    engine.complete_task(task.id, {"flowToTake": "flow3"})
    assert engine.variables(instance.id)["flowToTake"] == "flow3"

    engine.execute_job(job.id)

    assert engine.active_activity_ids(instance.id) == ["taskAfterFlow2"]


def test_async_after_exclusive_gateway_flow_is_chosen_before_the_boundary(engine: Engine) -> None:
    """Rule 1.4 (not in the list): an asyncAfter exclusive gateway decides before its job."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "gw"),
        flow("fork", "change"),
        element("userTask", "change"),
        flow("change", "changeEnd"),
        element("endEvent", "changeEnd"),
        element("exclusiveGateway", "gw", camunda__asyncAfter="true", default="toB"),
        flow("gw", "a", "toA", condition="${x > 5}"),
        flow("gw", "b", "toB"),
        element("receiveTask", "a", messageRef="msg_m"),
        element("receiveTask", "b", messageRef="msg_m"),
        messages=("m",),
    )
    instance = engine.start_process_instance_by_key("p", {"x": 10})
    job = only_job(engine, instance.id)
    assert job.configuration == f"{TAKE}$toA"

    (task,) = engine.tasks(instance.id)
    engine.complete_task(task.id, {"x": 1})
    engine.execute_job(job.id)

    assert engine.active_activity_ids(instance.id) == ["a"]


# --- scenario 6 ------------------------------------------------------------------------


def test_async_after_with_two_unconditional_flows_creates_one_job_per_flow(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 6: asyncAfter with two unconditional flows (implicit split): 2 jobs."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=START_END,
            camunda__asyncAfter="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service", "receive1", "flow1"),
        flow("service", "receive2", "flow2"),
        element("receiveTask", "receive1", messageRef="msg_m1"),
        element("receiveTask", "receive2", messageRef="msg_m2"),
        messages=("m1", "m2"),
    )
    instance = engine.start_process_instance_by_key("p")

    jobs = engine.jobs(instance.id)
    assert configurations(jobs) == [("service", f"{TAKE}$flow1"), ("service", f"{TAKE}$flow2")]
    # One concurrent execution per job; the behaviour and listeners ran once.
    assert len({job.execution_id for job in jobs}) == 2
    assert recorder.events == [("start", "service"), ("execute", "service"), ("end", "service")]
    tree = engine.activity_instance(instance.id)
    assert [t.activity_id for t in tree.child_transition_instances] == ["service", "service"]

    for job in jobs:
        engine.execute_job(job.id)

    assert sorted(engine.active_activity_ids(instance.id)) == ["receive1", "receive2"]
    assert engine.jobs(instance.id) == []
    assert len(recorder.events) == 3


# --- scenario 7 ------------------------------------------------------------------------


def test_async_after_without_outgoing_flow_defers_the_process_end(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 7: asyncAfter on the last activity (no outgoing flow): 1 `activity-end` job.

    The activity's END listeners ran before the job; the process END listener runs in it.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=START_END,
            camunda__asyncAfter="true",
            camunda__delegateExpression="${record}",
        ),
        listeners=set_variable_listener("end", "processEndListener"),
    )
    instance = engine.start_process_instance_by_key("p")

    variables = engine.variables(instance.id)
    assert variables["invoked_service"] is True
    assert variables["listener_start_service"] is True
    assert variables["listener_end_service"] is True
    assert "processEndListener" not in variables
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("service", "activity-end")
    assert job.job_definition_id.endswith("async-after")
    tree = engine.activity_instance(instance.id)
    assert [t.activity_id for t in tree.child_transition_instances] == ["service"]
    assert tree.child_activity_instances == []
    assert not engine.process_instance(instance.id).ended

    engine.execute_job(job.id)

    assert engine.process_instance(instance.id).ended
    assert engine.variables(instance.id)["processEndListener"] is True
    assert len(recorder.events) == 3


# --- scenario 8 ------------------------------------------------------------------------


def test_async_after_without_outgoing_flow_inside_a_sub_process(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 8: asyncAfter with no outgoing flow in a sub-process.

    The `activity-end` job belongs to the sub-process scope; the sub-process END listener
    runs only in the job, which then continues after the sub-process.
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
                camunda__asyncAfter="true",
                camunda__delegateExpression="${record}",
            ),
            extensions=listener("end"),
        ),
        flow("subProcess", "taskAfterSubprocess1"),
        element("receiveTask", "taskAfterSubprocess1", messageRef="msg_m"),
        messages=("m",),
    )
    instance = engine.start_process_instance_by_key("p")

    assert engine.variables(instance.id)["invoked_service"] is True
    assert "listener_end_subProcess" not in engine.variables(instance.id)
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("service", "activity-end")
    assert job.execution_id != instance.id
    tree = engine.activity_instance(instance.id)
    (sub,) = tree.child_activity_instances
    assert sub.activity_id == "subProcess"
    assert [t.activity_id for t in sub.child_transition_instances] == ["service"]
    assert sub.child_transition_instances[0].execution_id == job.execution_id

    engine.execute_job(job.id)

    assert engine.variables(instance.id)["listener_end_subProcess"] is True
    assert engine.active_activity_ids(instance.id) == ["taskAfterSubprocess1"]
    assert engine.jobs(instance.id) == []


def test_async_after_with_outgoing_flow_inside_a_sub_process(
    engine: Engine, recorder: Recorder
) -> None:
    """Rule 1.4 (not in the list): asyncAfter inside a sub-process, with an outgoing flow.

    The take job belongs to the sub-process scope execution; the sub-process is still
    running (its END listener has not run) until the job reaches the inner end event.
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
                camunda__asyncAfter="true",
                camunda__delegateExpression="${record}",
            ),
            flow("service", "subEnd"),
            element("endEvent", "subEnd"),
            extensions=listener("end"),
        ),
        flow("subProcess", "after"),
        element("userTask", "after"),
    )
    instance = engine.start_process_instance_by_key("p")

    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("service", f"{TAKE}$service_subEnd")
    assert job.execution_id != instance.id
    assert "listener_end_subProcess" not in engine.variables(instance.id)
    (sub,) = engine.activity_instance(instance.id).child_activity_instances
    assert sub.activity_id == "subProcess"
    assert [(t.activity_id, t.execution_id) for t in sub.child_transition_instances] == [
        ("service", job.execution_id)
    ]

    engine.execute_job(job.id)

    assert engine.variables(instance.id)["listener_end_subProcess"] is True
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["after"]
    assert [h.activity_id for h in engine.history(instance.id)] == [
        "start",
        "subProcess",
        "subStart",
        "service",
        "subEnd",
        "after",
    ]


# --- scenario 9 ------------------------------------------------------------------------


def test_async_after_take_listener_runs_in_the_job(engine: Engine) -> None:
    """Scenario 9: the outgoing flow's TAKE listener runs in the after-job, once (CAM-2518)."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            camunda__asyncAfter="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service", "task", "toTask", listeners=set_variable_listener("take", "taken")),
        element("userTask", "task"),
    )
    instance = engine.start_process_instance_by_key("p")

    job = only_job(engine, instance.id)
    assert "taken" not in engine.variables(instance.id)
    assert engine.tasks(instance.id) == []

    engine.execute_job(job.id)

    assert engine.variables(instance.id)["taken"] is True
    assert engine.jobs(instance.id) == []
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["task"]
    created = [e for e in engine.job_log(instance.id) if e.event.value == "created"]
    assert [e.job_id for e in created] == [job.id]


def test_take_listeners_on_an_async_after_fork_run_in_their_own_job(engine: Engine) -> None:
    """Rules 1.1/1.4 (not in the list): each flow's TAKE listener runs in that flow's job."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork", camunda__asyncAfter="true"),
        flow("fork", "task1", "afterForkFlow1", listeners=set_variable_listener("take", "took1")),
        flow("fork", "task2", "afterForkFlow2", listeners=set_variable_listener("take", "took2")),
        element("userTask", "task1"),
        element("userTask", "task2"),
    )
    instance = engine.start_process_instance_by_key("p")
    assert len(engine.jobs(instance.id)) == 2
    assert engine.variables(instance.id) == {}

    engine.execute_job(job_with(engine, instance.id, f"{TAKE}$afterForkFlow2").id)

    assert engine.variables(instance.id) == {"took2": True}
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["task2"]

    engine.execute_job(job_with(engine, instance.id, f"{TAKE}$afterForkFlow1").id)

    assert engine.variables(instance.id) == {"took1": True, "took2": True}
    assert sorted(t.activity_id for t in engine.tasks(instance.id)) == ["task1", "task2"]


# --- scenario 10 -----------------------------------------------------------------------


def test_async_after_on_a_parallel_fork_creates_one_job_per_flow(engine: Engine) -> None:
    """Scenario 10: asyncAfter on a parallel fork: 2 jobs configured with their flow ids."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork", camunda__asyncAfter="true"),
        flow("fork", "theTask1", "afterForkFlow1"),
        flow("fork", "theTask2", "afterForkFlow2"),
        element("userTask", "theTask1"),
        element("userTask", "theTask2"),
    )
    instance = engine.start_process_instance_by_key("p")

    jobs = engine.jobs(instance.id)
    assert configurations(jobs) == [
        ("fork", f"{TAKE}$afterForkFlow1"),
        ("fork", f"{TAKE}$afterForkFlow2"),
    ]
    assert engine.tasks(instance.id) == []

    engine.execute_job(job_with(engine, instance.id, f"{TAKE}$afterForkFlow1").id)

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["theTask1"]
    assert [j.configuration for j in engine.jobs(instance.id)] == [f"{TAKE}$afterForkFlow2"]

    engine.execute_job(only_job(engine, instance.id).id)

    assert sorted(t.activity_id for t in engine.tasks(instance.id)) == ["theTask1", "theTask2"]
    assert engine.jobs(instance.id) == []


# --- scenarios 11 and 12 ---------------------------------------------------------------


def inclusive_split(**gateway_attrs: str) -> tuple[str, ...]:
    return (
        element("startEvent", "start"),
        flow("start", "gw"),
        element("inclusiveGateway", "gw", extensions=START_END, **gateway_attrs),
        flow("gw", "task1", "toTask1"),
        flow("gw", "task2", "toTask2"),
        element("userTask", "task1"),
        element("userTask", "task2"),
        flow("task1", "join"),
        flow("task2", "join"),
        element("inclusiveGateway", "join"),
        flow("join", "end"),
        element("endEvent", "end"),
    )


def test_async_after_on_an_inclusive_gateway_creates_one_job_per_flow(engine: Engine) -> None:
    """Scenario 11: asyncAfter on an inclusive gateway with two unconditional flows: 2 jobs."""
    deploy(engine, *inclusive_split(camunda__asyncAfter="true"))
    instance = engine.start_process_instance_by_key("p")

    variables = engine.variables(instance.id)
    assert variables["listener_start_gw"] is True
    assert variables["listener_end_gw"] is True
    assert configurations(engine.jobs(instance.id)) == [
        ("gw", f"{TAKE}$toTask1"),
        ("gw", f"{TAKE}$toTask2"),
    ]

    for job in engine.jobs(instance.id):
        engine.execute_job(job.id)

    tasks = engine.tasks(instance.id)
    assert sorted(t.activity_id for t in tasks) == ["task1", "task2"]
    for task in tasks:
        engine.complete_task(task.id)
    assert engine.process_instance(instance.id).ended


def test_async_before_and_after_on_an_inclusive_gateway(engine: Engine) -> None:
    """Scenario 12: asyncBefore+asyncAfter on an inclusive gateway: 1 job, then 2."""
    deploy(engine, *inclusive_split(camunda__asyncBefore="true", camunda__asyncAfter="true"))
    instance = engine.start_process_instance_by_key("p")

    assert engine.variables(instance.id) == {}
    before = only_job(engine, instance.id)
    assert (before.activity_id, before.configuration) == ("gw", "transition-create-scope")

    engine.execute_job(before.id)

    variables = engine.variables(instance.id)
    assert variables["listener_start_gw"] is True
    assert variables["listener_end_gw"] is True
    assert configurations(engine.jobs(instance.id)) == [
        ("gw", f"{TAKE}$toTask1"),
        ("gw", f"{TAKE}$toTask2"),
    ]
    assert engine.tasks(instance.id) == []


def test_async_before_and_after_on_an_exclusive_gateway(engine: Engine) -> None:
    """Scenario 12, exclusive-gateway variant: 1 before-job, then 1 after-job."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "gw"),
        element(
            "exclusiveGateway",
            "gw",
            extensions=START_END,
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
        ),
        flow("gw", "task1", "toTask1", condition="${go == 1}"),
        flow("gw", "task2", "toTask2", condition="${go == 2}"),
        element("userTask", "task1"),
        element("userTask", "task2"),
    )
    instance = engine.start_process_instance_by_key("p", {"go": 2})

    assert only_job(engine, instance.id).configuration == "transition-create-scope"
    assert "listener_start_gw" not in engine.variables(instance.id)

    engine.execute_job(only_job(engine, instance.id).id)

    assert engine.variables(instance.id)["listener_end_gw"] is True
    after = only_job(engine, instance.id)
    assert (after.activity_id, after.configuration) == ("gw", f"{TAKE}$toTask2")

    engine.execute_job(after.id)
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["task2"]


def test_async_after_on_an_exclusive_gateway_takes_the_default_flow(engine: Engine) -> None:
    """Rule 1.4 (not in the list): asyncAfter on an exclusive gateway whose default is taken."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "gw"),
        element("exclusiveGateway", "gw", camunda__asyncAfter="true", default="flowDefault"),
        flow("gw", "taskA", "flowA", condition="${x > 5}"),
        flow("gw", "taskB", "flowDefault"),
        element("userTask", "taskA"),
        element("userTask", "taskB"),
    )
    instance = engine.start_process_instance_by_key("p", {"x": 1})

    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("gw", f"{TAKE}$flowDefault")
    assert engine.tasks(instance.id) == []

    engine.execute_job(job.id)

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["taskB"]
    assert engine.jobs(instance.id) == []


# --- scenario 13 -----------------------------------------------------------------------


def test_async_before_and_after_on_an_intermediate_message_catch_event(engine: Engine) -> None:
    """Scenario 13: asyncBefore+asyncAfter on a message catch event.

    The subscription is created only in the before-job; correlating ends the event (END
    listener) and stops at an after-job; that job ends the instance.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "catch"),
        element(
            "intermediateCatchEvent",
            "catch",
            extensions=START_END,
            body=message_definition("testMessage1"),
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
        ),
        flow("catch", "end"),
        element("endEvent", "end"),
        messages=("testMessage1",),
    )
    instance = engine.start_process_instance_by_key("p")

    before = only_job(engine, instance.id)
    assert (before.activity_id, before.configuration) == ("catch", "transition-create-scope")
    assert engine.variables(instance.id) == {}
    with pytest.raises(BadUserRequest):  # no subscription yet
        engine.correlate_message("testMessage1")

    engine.execute_job(before.id)

    assert engine.jobs(instance.id) == []
    assert engine.variables(instance.id) == {"listener_start_catch": True}
    assert engine.active_activity_ids(instance.id) == ["catch"]

    engine.correlate_message("testMessage1")

    assert engine.variables(instance.id)["listener_end_catch"] is True
    after = only_job(engine, instance.id)
    assert (after.activity_id, after.configuration) == ("catch", f"{TAKE}$catch_end")
    assert not engine.process_instance(instance.id).ended

    engine.execute_job(after.id)
    assert engine.process_instance(instance.id).ended


def test_async_after_on_an_intermediate_message_catch_event(engine: Engine) -> None:
    """Scenario 13, asyncAfter only: the subscription exists at once; the job follows it."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "catch"),
        element(
            "intermediateCatchEvent",
            "catch",
            extensions=START_END,
            body=message_definition("testMessage1"),
            camunda__asyncAfter="true",
        ),
        flow("catch", "end"),
        element("endEvent", "end"),
        messages=("testMessage1",),
    )
    instance = engine.start_process_instance_by_key("p")
    assert engine.jobs(instance.id) == []
    assert engine.variables(instance.id) == {"listener_start_catch": True}

    engine.correlate_message("testMessage1")

    assert engine.variables(instance.id)["listener_end_catch"] is True
    job = only_job(engine, instance.id)
    assert job.configuration == f"{TAKE}$catch_end"

    engine.execute_job(job.id)
    assert engine.process_instance(instance.id).ended


# --- combinations not in the list ------------------------------------------------------


class Probe:
    """A bean for expressions: ``${probe.seen('x')}`` records 'x' and returns it."""

    def __init__(self) -> None:
        self.seen_values: list[object] = []

    def seen(self, value: object) -> object:
        self.seen_values.append(value)
        return value


def test_input_mappings_of_an_async_before_activity_run_in_the_job(engine: Engine) -> None:
    """Rule 1.3 (not in the list): input mappings are applied in the asyncBefore job, not before."""
    probe = Probe()
    engine.delegates["probe"] = probe
    seen: list[object] = []
    engine.delegates["readLocal"] = lambda execution: seen.append(execution.get_variable("localIn"))
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=input_output(inputs=[("localIn", "${probe.seen(x)}")]),
            camunda__asyncBefore="true",
            camunda__delegateExpression="${readLocal}",
        ),
        flow("service", "wait"),
        element("userTask", "wait"),
    )
    instance = engine.start_process_instance_by_key("p", {"x": "first"})

    assert probe.seen_values == []
    assert only_job(engine, instance.id).configuration == "transition-create-scope"

    engine.execute_job(only_job(engine, instance.id).id)

    assert probe.seen_values == ["first"]
    assert seen == ["first"]
    # The input was a local variable of the activity: gone with it.
    assert "localIn" not in engine.variables(instance.id)


def test_output_mappings_of_an_async_after_activity_run_before_the_take_job(
    engine: Engine,
) -> None:
    """Rule 1.4 (not in the list): with an outgoing flow, outputs are applied before the job."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=input_output(
                inputs=[("local", "${'from input'}")], outputs=[("out", "${local}")]
            ),
            camunda__asyncAfter="true",
            camunda__expression="${true}",
        ),
        flow("service", "wait"),
        element("userTask", "wait"),
    )
    instance = engine.start_process_instance_by_key("p")

    assert only_job(engine, instance.id).configuration == f"{TAKE}$service_wait"
    assert engine.variables(instance.id) == {"out": "from input"}

    engine.execute_job(only_job(engine, instance.id).id)

    assert engine.variables(instance.id) == {"out": "from input"}
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["wait"]


def test_output_mappings_without_outgoing_flow_run_in_the_activity_end_job(
    engine: Engine,
) -> None:
    """Rule 1.4 (not in the list): with no outgoing flow, outputs run in the `activity-end` job."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=input_output(
                inputs=[("local", "${'from input'}")], outputs=[("out", "${local}")]
            ),
            camunda__asyncAfter="true",
            camunda__expression="${true}",
        ),
    )
    instance = engine.start_process_instance_by_key("p")

    assert only_job(engine, instance.id).configuration == "activity-end"
    assert "out" not in engine.variables(instance.id)

    engine.execute_job(only_job(engine, instance.id).id)

    assert engine.process_instance(instance.id).ended
    assert engine.variables(instance.id) == {"out": "from input"}


def test_terminate_end_event_removes_a_job_waiting_before_an_activity(
    engine: Engine, recorder: Recorder
) -> None:
    """Rules 1.3/1.5 (not in the list): a terminate end event cancels a branch waiting at an
    asyncBefore job; the job is deleted and the activity never runs.
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
            extensions=START_END,
            camunda__asyncBefore="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service", "end"),
        element("endEvent", "end"),
        element("userTask", "task"),
        flow("task", "terminate"),
        element("endEvent", "terminate", body=TERMINATE),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    (task,) = engine.tasks(instance.id)

    engine.complete_task(task.id)

    assert engine.process_instance(instance.id).ended
    assert engine.jobs(instance.id) == []
    assert recorder.events == []  # not even an END listener: the activity never started
    assert [e.event.value for e in engine.job_log(job_id=job.id)] == ["created", "deleted"]
    assert "service" not in [h.activity_id for h in engine.history(instance.id)]


def test_terminate_end_event_removes_a_job_waiting_after_an_activity(
    engine: Engine, recorder: Recorder
) -> None:
    """Rules 1.4/1.5 (not in the list): a terminate end event cancels a branch waiting at an
    asyncAfter job; the job is deleted, and the finished activity's END listener does not
    run a second time.
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
            extensions=START_END,
            camunda__asyncAfter="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service", "end"),
        element("endEvent", "end"),
        element("userTask", "task"),
        flow("task", "terminate"),
        element("endEvent", "terminate", body=TERMINATE),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.configuration == f"{TAKE}$service_end"
    assert recorder.events == [("start", "service"), ("execute", "service"), ("end", "service")]

    engine.complete_task(engine.tasks(instance.id)[0].id)

    assert engine.process_instance(instance.id).ended
    assert engine.jobs(instance.id) == []
    assert len(recorder.events) == 3
    assert [e.event.value for e in engine.job_log(job_id=job.id)] == ["created", "deleted"]
    assert "end" not in [h.activity_id for h in engine.history(instance.id)]


def test_failing_after_job_keeps_the_activity_committed(engine: Engine, recorder: Recorder) -> None:
    """Rule 1.4 (not in the list): a failing after-job rolls back only what follows the boundary.

    The activity's behaviour and listeners are not run again, its variables stay, and the
    token is still waiting after it.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=START_END,
            camunda__asyncAfter="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service", "boom", listeners=set_variable_listener("take", "taken")),
        element("serviceTask", "boom", camunda__delegateExpression="${failing}"),
        flow("boom", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)

    with pytest.raises(RuntimeError, match="expected failure"):
        engine.execute_job(job.id)

    failed = engine.job(job.id)
    assert failed.retries == 2
    assert failed.exception_message == "expected failure"
    assert failed.failed_activity_id == "boom"
    assert failed.configuration == f"{TAKE}$service_boom"
    variables = engine.variables(instance.id)
    assert variables["invoked_service"] is True
    assert variables["listener_end_service"] is True
    assert "taken" not in variables  # the take listener's work was rolled back
    assert len(recorder.events) == 3
    assert "boom" not in [h.activity_id for h in engine.history(instance.id)]

    engine.execute_available_jobs()
    assert len(recorder.events) == 3  # retries re-run only the part after the boundary


def test_async_start_event_followed_by_async_task_gives_two_safe_points(
    engine: Engine, recorder: Recorder
) -> None:
    """Rules 1.3/1.5 (not in the list): async start event, then an async task: 2 jobs in turn."""
    deploy(
        engine,
        element("startEvent", "start", camunda__asyncBefore="true"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service", "end"),
        element("endEvent", "end"),
        listeners=set_variable_listener("start", "processStarted"),
    )
    instance = engine.start_process_instance_by_key("p", {"given": 1})

    first = only_job(engine, instance.id)
    assert (first.activity_id, first.configuration) == ("start", "process-start")
    assert engine.variables(instance.id) == {"given": 1}
    assert engine.history(instance.id) == []

    engine.execute_job(first.id)

    second = only_job(engine, instance.id)
    assert (second.activity_id, second.configuration) == ("service", "transition-create-scope")
    assert engine.variables(instance.id) == {"given": 1, "processStarted": True}
    assert recorder.events == []
    assert [h.activity_id for h in engine.history(instance.id)] == ["start"]

    engine.execute_job(second.id)

    assert recorder.events == [("execute", "service")]
    assert engine.process_instance(instance.id).ended
    assert [(e.job_id, e.event.value) for e in engine.job_log(instance.id)] == [
        (first.id, "created"),
        (first.id, "successful"),
        (second.id, "created"),
        (second.id, "successful"),
    ]


def test_conditions_are_evaluated_before_the_end_listeners(engine: Engine) -> None:
    """Rule 1.1 steps 1-2 (not in the list): the outgoing flows are chosen before the END
    listeners run, so an END listener changing the variable does not change the job's flow.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=set_variable_listener("end", "flowToTake", "'flow3'"),
            camunda__asyncAfter="true",
            camunda__expression="${true}",
        ),
        flow("service", "taskAfterFlow2", "flow2", condition="${flowToTake == 'flow2'}"),
        flow("service", "taskAfterFlow3", "flow3", condition="${flowToTake == 'flow3'}"),
        element("receiveTask", "taskAfterFlow2", messageRef="msg_m2"),
        element("receiveTask", "taskAfterFlow3", messageRef="msg_m3"),
        messages=("m2", "m3"),
    )
    instance = engine.start_process_instance_by_key("p", {"flowToTake": "flow2"})

    assert engine.variables(instance.id)["flowToTake"] == "flow3"
    job = only_job(engine, instance.id)
    assert job.configuration == f"{TAKE}$flow2"

    engine.execute_job(job.id)
    assert engine.active_activity_ids(instance.id) == ["taskAfterFlow2"]


def test_terminate_end_event_in_a_sub_process_removes_the_job_of_its_other_branch(
    engine: Engine, recorder: Recorder
) -> None:
    """Rules 1.3/1.5 (not in the list): a terminate end event inside a sub-process cancels the
    sub-process's other branch, which waits at an asyncBefore job; the sub-process then
    completes normally and the process continues after it.
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
            flow("fork", "service"),
            flow("fork", "task"),
            element(
                "serviceTask",
                "service",
                camunda__asyncBefore="true",
                camunda__delegateExpression="${record}",
            ),
            flow("service", "subEnd"),
            element("endEvent", "subEnd"),
            element("userTask", "task"),
            flow("task", "terminate"),
            element("endEvent", "terminate", body=TERMINATE),
            extensions=listener("end"),
        ),
        flow("sub", "after"),
        element("userTask", "after"),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.activity_id == "service"

    engine.complete_task(engine.tasks(instance.id)[0].id)

    assert engine.jobs(instance.id) == []
    assert recorder.events == [("end", "sub")]
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["after"]
    assert not engine.process_instance(instance.id).ended
    assert [e.event.value for e in engine.job_log(job_id=job.id)] == ["created", "deleted"]


def test_terminate_end_event_cancels_a_sub_process_waiting_at_an_async_job(
    engine: Engine, recorder: Recorder
) -> None:
    """Rules 1.3/1.5 (not in the list): terminating the process while a concurrent branch waits
    at an asyncBefore job inside a sub-process: the job goes, the sub-process (entered) fires
    its END listener, the waiting task (never started) does not.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "sub"),
        flow("fork", "task"),
        sub_process(
            "sub",
            element("startEvent", "subStart"),
            flow("subStart", "service"),
            element(
                "serviceTask",
                "service",
                extensions=listener("end"),
                camunda__asyncBefore="true",
                camunda__delegateExpression="${record}",
            ),
            extensions=listener("end"),
        ),
        element("userTask", "task"),
        flow("task", "terminate"),
        element("endEvent", "terminate", body=TERMINATE),
    )
    instance = engine.start_process_instance_by_key("p")
    assert only_job(engine, instance.id).activity_id == "service"

    engine.complete_task(engine.tasks(instance.id)[0].id)

    assert engine.process_instance(instance.id).ended
    assert engine.jobs(instance.id) == []
    assert recorder.events == [("end", "sub")]


def test_async_after_user_task_commits_the_completion_before_the_job(engine: Engine) -> None:
    """Rule 1.4 (not in the list): completing an asyncAfter user task ends it (END listener,
    completion variables) in the completing transaction; the flow is taken in the job.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "task"),
        element("userTask", "task", extensions=START_END, camunda__asyncAfter="true"),
        flow("task", "next", "toNext", listeners=set_variable_listener("take", "taken")),
        element("userTask", "next"),
    )
    instance = engine.start_process_instance_by_key("p")
    (task,) = engine.tasks(instance.id)

    engine.complete_task(task.id, {"approved": True})

    assert engine.tasks(instance.id) == []
    variables = engine.variables(instance.id)
    assert variables["approved"] is True
    assert variables["listener_end_task"] is True
    assert "taken" not in variables
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.configuration) == ("task", f"{TAKE}$toNext")
    tree = engine.activity_instance(instance.id)
    assert [t.activity_id for t in tree.child_transition_instances] == ["task"]
    assert tree.child_activity_instances == []

    engine.execute_job(job.id)

    assert engine.variables(instance.id)["taken"] is True
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["next"]


def test_async_before_and_after_on_an_external_task(engine: Engine) -> None:
    """Rules 1.3/1.4 (not in the list): the external task is created only in the before-job;
    completing it stops at the after-job.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "external"),
        element(
            "serviceTask",
            "external",
            extensions=START_END,
            camunda__type="external",
            camunda__topic="work",
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
        ),
        flow("external", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")
    assert engine.external_tasks(process_instance_id=instance.id) == []
    assert only_job(engine, instance.id).configuration == "transition-create-scope"

    engine.execute_job(only_job(engine, instance.id).id)

    (external,) = engine.external_tasks(topic="work", process_instance_id=instance.id)
    assert external.activity_id == "external"
    assert engine.jobs(instance.id) == []
    assert engine.variables(instance.id) == {"listener_start_external": True}

    engine.complete_external_task(external.id, {"result": 42})

    assert engine.variables(instance.id)["listener_end_external"] is True
    assert engine.variables(instance.id)["result"] == 42
    after = only_job(engine, instance.id)
    assert after.configuration == f"{TAKE}$external_end"
    assert not engine.process_instance(instance.id).ended

    engine.execute_job(after.id)
    assert engine.process_instance(instance.id).ended


def test_async_after_then_async_before_around_one_flow(engine: Engine, recorder: Recorder) -> None:
    """Rule 1.1 (not in the list): A has asyncAfter, the flow A→B a TAKE listener, B asyncBefore.
    A's job runs only the TAKE listener and stops before B; B's job runs B's START listener.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "a"),
        element("manualTask", "a", extensions=START_END, camunda__asyncAfter="true"),
        flow("a", "b", "aToB", listeners=listener("take")),
        element("manualTask", "b", extensions=START_END, camunda__asyncBefore="true"),
        flow("b", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")

    after_a = only_job(engine, instance.id)
    assert (after_a.activity_id, after_a.configuration) == ("a", f"{TAKE}$aToB")
    assert recorder.events == [("start", "a"), ("end", "a")]

    engine.execute_job(after_a.id)

    before_b = only_job(engine, instance.id)
    assert (before_b.activity_id, before_b.configuration) == ("b", "transition-create-scope")
    assert [event for event, _ in recorder.events] == ["start", "end", "take"]
    tree = engine.activity_instance(instance.id)
    assert [t.activity_id for t in tree.child_transition_instances] == ["b"]

    engine.execute_job(before_b.id)

    assert [event for event, _ in recorder.events] == ["start", "end", "take", "start", "end"]
    assert recorder.events[3:] == [("start", "b"), ("end", "b")]
    assert engine.process_instance(instance.id).ended


def test_take_listener_of_the_flow_into_an_async_before_activity_runs_before_the_job(
    engine: Engine,
) -> None:
    """Rule 1.3: the incoming flow's TAKE listener runs before the asyncBefore boundary and is
    committed with the job; the activity's START listener runs in the job.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "task", "toTask", listeners=set_variable_listener("take", "taken")),
        element(
            "manualTask",
            "task",
            extensions=set_variable_listener("start", "started"),
            camunda__asyncBefore="true",
        ),
        flow("task", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")

    assert engine.variables(instance.id) == {"taken": True}
    assert only_job(engine, instance.id).configuration == "transition-create-scope"

    engine.execute_job(only_job(engine, instance.id).id)
    assert engine.variables(instance.id) == {"taken": True, "started": True}
    assert engine.process_instance(instance.id).ended
