"""Deleting instances that wait at async boundaries (scenario 37, rule 1.3; and combos).

A token waiting at asyncBefore has not started its activity: deleting the instance runs
none of that activity's END listeners or output mappings. Enclosing scopes (sub-process,
process) were entered, so theirs run. A token waiting after an activity (asyncAfter) has
already ended it: nothing of that activity runs a second time.
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
    sub_process,
)

from safepoint import Engine

TRUE_OUTPUT = "${true}"


class Counter:
    """A bean for expressions: ``${counter.next()}`` counts its calls and returns the count."""

    def __init__(self) -> None:
        self.calls = 0

    def next(self) -> int:
        self.calls += 1
        return self.calls


def test_delete_at_async_before_runs_no_listener_of_the_waiting_task(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 37, case 1: deleting while a top-level task waits at asyncBefore records 0
    listener events; the job is deleted with the instance.
    """
    deploy(
        engine,
        element("startEvent", "theStart"),
        flow("theStart", "theTask"),
        element("userTask", "theTask", extensions=listener("end"), camunda__asyncBefore="true"),
        flow("theTask", "theEnd"),
        element("endEvent", "theEnd"),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)

    engine.delete_process_instance(instance.id, "test deletion")

    assert recorder.events == []
    ended = engine.process_instance(instance.id)
    assert ended.ended
    assert ended.state.value == "EXTERNALLY_TERMINATED"
    assert ended.delete_reason == "test deletion"
    assert engine.jobs(instance.id) == []
    assert [e.event.value for e in engine.job_log(job_id=job.id)] == ["created", "deleted"]
    assert "theTask" not in [h.activity_id for h in engine.history(instance.id)]


def test_delete_at_async_before_in_a_sub_process_runs_the_enclosing_end_listeners(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 37, case 2: the task waits at asyncBefore inside a sub-process. Deleting records
    exactly 2 events: the sub-process END, then the process END (which has no activity id).
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "subProcess"),
        sub_process(
            "subProcess",
            element("startEvent", "subProcessStart"),
            flow("subProcessStart", "subProcessTask"),
            element(
                "userTask",
                "subProcessTask",
                extensions=listener("end"),
                camunda__asyncBefore="true",
            ),
            flow("subProcessTask", "subProcessEnd"),
            element("endEvent", "subProcessEnd"),
            extensions=listener("end"),
        ),
        flow("subProcess", "end"),
        element("endEvent", "end"),
        listeners=listener("end"),
    )
    instance = engine.start_process_instance_by_key("p")
    assert len(engine.jobs(instance.id)) == 1

    engine.delete_process_instance(instance.id)

    assert [event for event, _ in recorder.events] == ["end", "end"]
    assert recorder.events[0] == ("end", "subProcess")
    # Camunda: "process instance end event has no activity id".
    assert recorder.events[1] == ("end", None)
    assert engine.jobs(instance.id) == []
    assert engine.process_instance(instance.id).ended


def test_delete_at_async_before_does_not_run_the_waiting_task_output_mapping(
    engine: Engine,
) -> None:
    """Scenario 37 (`testDeleteShouldNotInvokeOutputMapping`): the output mapping of a task
    waiting at asyncBefore does not run on deletion.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "task"),
        element(
            "userTask",
            "task",
            extensions=input_output(outputs=[("taskOutputMappingExecuted", TRUE_OUTPUT)]),
            camunda__asyncBefore="true",
        ),
        flow("task", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")

    engine.delete_process_instance(instance.id)

    assert engine.variables(instance.id) == {}


def test_delete_at_async_before_in_a_sub_process_runs_only_the_sub_process_output_mapping(
    engine: Engine,
) -> None:
    """Scenario 37 (`testDeleteInScopeShouldNotInvokeOutputMapping`): the sub-process's output
    mapping runs on deletion, the waiting task's does not.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "subProcess"),
        sub_process(
            "subProcess",
            element("startEvent", "subProcessStart"),
            flow("subProcessStart", "task"),
            element(
                "userTask",
                "task",
                extensions=input_output(outputs=[("taskOutputMappingExecuted", TRUE_OUTPUT)]),
                camunda__asyncBefore="true",
            ),
            flow("task", "subProcessEnd"),
            element("endEvent", "subProcessEnd"),
            extensions=input_output(outputs=[("subProcessOutputMappingExecuted", TRUE_OUTPUT)]),
        ),
        flow("subProcess", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")

    engine.delete_process_instance(instance.id)

    assert engine.variables(instance.id) == {"subProcessOutputMappingExecuted": True}
    sub = [h for h in engine.history(instance.id) if h.activity_id == "subProcess"]
    assert len(sub) == 1 and sub[0].canceled and sub[0].ended_at is not None


# --- combinations not in the list ------------------------------------------------------


def test_delete_at_async_after_does_not_end_the_finished_activity_again(
    engine: Engine, recorder: Recorder
) -> None:
    """Rule 1.4 (not in the list): a token waiting after an asyncAfter task has ended it;
    deleting runs neither its END listener nor its output mapping a second time.
    """
    counter = Counter()
    engine.delegates["counter"] = counter
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            extensions=listener("end")
            + input_output(outputs=[("outputRuns", "${counter.next()}")]),
            camunda__asyncAfter="true",
            camunda__expression="${true}",
        ),
        flow("service", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert recorder.events == [("end", "service")]
    assert engine.variables(instance.id)["outputRuns"] == 1

    engine.delete_process_instance(instance.id)

    assert recorder.events == [("end", "service")]
    assert counter.calls == 1
    assert engine.variables(instance.id)["outputRuns"] == 1
    assert [e.event.value for e in engine.job_log(job_id=job.id)] == ["created", "deleted"]
    service = [h for h in engine.history(instance.id) if h.activity_id == "service"]
    assert len(service) == 1 and not service[0].canceled


def test_delete_at_activity_end_job_in_a_sub_process(engine: Engine, recorder: Recorder) -> None:
    """Rule 1.4 (not in the list): an asyncAfter task without outgoing flow in a sub-process
    has ended; the sub-process has not. Deleting fires the sub-process END listener only.
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
                extensions=listener("end"),
                camunda__asyncAfter="true",
                camunda__expression="${true}",
            ),
            extensions=listener("end"),
        ),
        flow("subProcess", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")
    assert only_job(engine, instance.id).configuration == "activity-end"
    assert recorder.events == [("end", "service")]

    engine.delete_process_instance(instance.id)

    assert recorder.events == [("end", "service"), ("end", "subProcess")]
    assert engine.jobs(instance.id) == []


def test_delete_with_one_branch_at_a_task_and_one_at_an_async_job(
    engine: Engine, recorder: Recorder
) -> None:
    """Rule 1.3 (not in the list): of two concurrent branches, the one at a user task ends
    with its END listener; the one waiting at asyncBefore ends silently. Both go away.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "task"),
        flow("fork", "service"),
        element("userTask", "task", extensions=listener("end")),
        element(
            "serviceTask",
            "service",
            extensions=listener("end"),
            camunda__asyncBefore="true",
            camunda__delegateExpression="${record}",
        ),
    )
    instance = engine.start_process_instance_by_key("p")
    assert len(engine.tasks(instance.id)) == 1
    assert len(engine.jobs(instance.id)) == 1

    engine.delete_process_instance(instance.id)

    assert recorder.events == [("end", "task")]
    assert engine.tasks(instance.id) == []
    assert engine.jobs(instance.id) == []
    task = [h for h in engine.history(instance.id) if h.activity_id == "task"]
    assert len(task) == 1 and task[0].canceled


def test_delete_at_async_start_event_fires_only_the_process_end_listener(
    engine: Engine, recorder: Recorder
) -> None:
    """Rules 1.3/1.5 (not in the list): the instance waits at its async start event (nothing has
    started, not even the process START listeners); deleting it runs no START listener and
    no listener of the start event, but the process END listener (without an activity id).
    """
    deploy(
        engine,
        element("startEvent", "start", extensions=listener("end"), camunda__asyncBefore="true"),
        flow("start", "task"),
        element("userTask", "task"),
        listeners=listener("start") + listener("end"),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.configuration == "process-start"

    engine.delete_process_instance(instance.id)

    assert engine.jobs(instance.id) == []
    assert engine.history(instance.id) == []
    assert [event for event, _ in recorder.events] == ["end"]
    assert recorder.events == [("end", None)]  # the process END listener has no activity id
    assert [e.event.value for e in engine.job_log(job_id=job.id)] == ["created", "deleted"]
