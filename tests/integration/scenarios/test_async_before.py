"""asyncBefore on tasks: what is committed before the job, what runs in it (scenarios 1, 2)."""

from __future__ import annotations

from bpmn_doc import Recorder, deploy, element, flow, listener

from safepoint import Engine


def test_async_before_service_task_runs_only_in_its_job(engine: Engine, recorder: Recorder) -> None:
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${record}",
        ),
        flow("service", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")

    jobs = engine.jobs(instance.id)
    assert [(j.activity_id, j.configuration) for j in jobs] == [
        ("service", "transition-create-scope")
    ]
    assert recorder.events == []
    tree = engine.activity_instance(instance.id)
    assert [t.activity_id for t in tree.child_transition_instances] == ["service"]
    assert tree.child_activity_instances == []

    engine.execute_job(jobs[0].id)

    assert recorder.events == [("execute", "service")]
    assert engine.jobs(instance.id) == []
    assert engine.process_instance(instance.id).ended


def test_async_before_user_task_start_listener_runs_in_the_job(engine: Engine) -> None:
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "task"),
        element("userTask", "task", camunda__asyncBefore="true", extensions=listener("start")),
        flow("task", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")
    assert len(engine.jobs(instance.id)) == 1
    assert engine.tasks(instance.id) == []
    assert "listener_start_task" not in engine.variables(instance.id)

    engine.execute_job(engine.jobs(instance.id)[0].id)

    assert engine.variables(instance.id)["listener_start_task"] is True
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["task"]
    assert engine.jobs(instance.id) == []
