"""Attributes of async-continuation jobs: exclusive flag and priority (scenarios 58, 60).

Rules 1.2, 1.11 and 1.12 of the reference: jobs are exclusive unless the activity says
``camunda:exclusive="false"``; the priority is the activity's ``camunda:jobPriority``,
else the process's, else 0 (a sub-process's is not inherited), the same for the
asyncBefore and asyncAfter jobs of one activity; a new job is due at once (no due date)
with the default 3 retries.
"""

from __future__ import annotations

import pytest
from bpmn_doc import (
    Recorder,
    deploy,
    element,
    flow,
    only_job,
    retry_time_cycle,
    set_variable_listener,
    sub_process,
)

from safepoint import Engine


def async_service(**attrs: str) -> tuple[str, ...]:
    return (
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${record}",
            **attrs,
        ),
        flow("service", "end"),
        element("endEvent", "end"),
    )


# --- scenario 58 -----------------------------------------------------------------------


def test_async_job_is_exclusive_by_default(engine: Engine) -> None:
    """Scenario 58 (`testExclusiveService`): default attributes of an async job."""
    deploy(engine, *async_service())
    instance = engine.start_process_instance_by_key("p")

    job = only_job(engine, instance.id)
    assert job.exclusive is True
    assert job.retries == 3
    assert job.due_at is None
    assert job.priority == 0
    assert job.job_type == "async-continuation"
    assert job.process_definition_key == "p"
    assert job.exception_message is None
    assert job.locked_by is None and job.lock_expires_at is None


def test_async_job_with_exclusive_false_is_not_exclusive(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 58 (`testNonExclusiveService`): ``camunda:exclusive="false"`` on the activity."""
    deploy(engine, *async_service(camunda__exclusive="false"))
    instance = engine.start_process_instance_by_key("p")

    assert only_job(engine, instance.id).exclusive is False

    engine.execute_job(only_job(engine, instance.id).id)
    assert recorder.events == [("execute", "service")]
    assert engine.process_instance(instance.id).ended


def test_exclusive_false_applies_to_the_async_after_job_too(engine: Engine) -> None:
    """Rule 1.2 (not in the list): the flag belongs to the activity: both of its jobs."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
            camunda__exclusive="false",
            camunda__expression="${true}",
        ),
        flow("service", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")
    before = only_job(engine, instance.id)
    engine.execute_job(before.id)
    after = only_job(engine, instance.id)

    assert (before.exclusive, after.exclusive) == (False, False)
    assert after.configuration.startswith("transition-notify-listener-take$")


def test_three_way_fork_into_async_services_gives_three_exclusive_jobs(
    engine: Engine, recorder: Recorder
) -> None:
    """Scenario 58 (`testExclusiveServiceConcurrent`): 3 exclusive jobs; all complete."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        *(
            part
            for name in ("service1", "service2", "service3")
            for part in (
                flow("fork", name),
                element(
                    "serviceTask",
                    name,
                    camunda__asyncBefore="true",
                    camunda__delegateExpression="${record}",
                ),
                flow(name, "join"),
            )
        ),
        element("parallelGateway", "join"),
        flow("join", "end"),
        element("endEvent", "end"),
    )
    instance = engine.start_process_instance_by_key("p")

    jobs = engine.jobs(instance.id)
    assert sorted(j.activity_id for j in jobs) == ["service1", "service2", "service3"]
    assert all(j.exclusive for j in jobs)

    assert engine.execute_available_jobs() == 3

    assert engine.jobs(instance.id) == []
    assert sorted(activity for _, activity in recorder.events) == [
        "service1",
        "service2",
        "service3",
    ]
    assert engine.process_instance(instance.id).ended


# --- scenario 60 -----------------------------------------------------------------------


def manual_task(**attrs: str) -> tuple[str, ...]:
    return (
        element("startEvent", "start"),
        flow("start", "task"),
        element(
            "manualTask", "task", camunda__asyncBefore="true", camunda__asyncAfter="true", **attrs
        ),
        flow("task", "end"),
        element("endEvent", "end"),
    )


def before_and_after_priorities(
    engine: Engine, variables: dict[str, object] | None = None
) -> tuple[int, int]:
    instance = engine.start_process_instance_by_key("p", variables)
    before = only_job(engine, instance.id)
    engine.execute_job(before.id)
    after = only_job(engine, instance.id)
    assert before.configuration == "transition-create-scope"
    assert after.configuration == "transition-notify-listener-take$task_end"
    return before.priority, after.priority


@pytest.mark.parametrize(
    ("process_attrs", "task_attrs", "expected"),
    [
        pytest.param("", {}, 0, id="default"),
        pytest.param('camunda:jobPriority="10"', {}, 10, id="process"),
        pytest.param('camunda:jobPriority="10"', {"camunda__jobPriority": "5"}, 5, id="activity"),
        pytest.param("", {"camunda__jobPriority": "5"}, 5, id="activity-only"),
    ],
)
def test_job_priority_of_async_before_and_after_jobs(
    engine: Engine, process_attrs: str, task_attrs: dict[str, str], expected: int
) -> None:
    """Scenario 60: a manual task with asyncBefore+asyncAfter; both jobs get the same priority:
    0 by default, the process's 10, or the activity's 5 over the process's.
    """
    deploy(engine, *manual_task(**task_attrs), attrs=process_attrs)

    assert before_and_after_priorities(engine) == (expected, expected)


def test_sub_process_priority_is_not_inherited(engine: Engine) -> None:
    """Scenario 60 (`testSubProcessPriorityIsNotDefaultForContainedActivities`): a sub-process's
    priority 20 is not inherited; its child's job gets the process's 10.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "sub"),
        sub_process(
            "sub",
            element("startEvent", "subStart"),
            flow("subStart", "task"),
            element("manualTask", "task", camunda__asyncBefore="true"),
            flow("task", "subEnd"),
            element("endEvent", "subEnd"),
            camunda__jobPriority="20",
        ),
        flow("sub", "end"),
        element("endEvent", "end"),
        attrs='camunda:jobPriority="10"',
    )
    instance = engine.start_process_instance_by_key("p")

    job = only_job(engine, instance.id)
    assert job.activity_id == "task"
    assert job.priority == 10


def test_sub_process_priority_applies_to_its_own_async_job(engine: Engine) -> None:
    """Rule 1.12 (not in the list): an asyncBefore sub-process's own job has its priority."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "sub"),
        sub_process(
            "sub",
            element("startEvent", "subStart"),
            flow("subStart", "subEnd"),
            element("endEvent", "subEnd"),
            camunda__asyncBefore="true",
            camunda__jobPriority="20",
        ),
        flow("sub", "end"),
        element("endEvent", "end"),
        attrs='camunda:jobPriority="10"',
    )
    instance = engine.start_process_instance_by_key("p")

    job = only_job(engine, instance.id)
    assert (job.activity_id, job.priority) == ("sub", 20)


def test_job_priority_expression_is_evaluated_when_each_job_is_created(engine: Engine) -> None:
    """Rule 1.12 (not in the list): ``camunda:jobPriority="${prio}"`` is evaluated at job
    creation, so the after-job sees a value changed by the activity's own listener.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "task"),
        element(
            "manualTask",
            "task",
            extensions=set_variable_listener("end", "prio", "7"),
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
            camunda__jobPriority="${prio}",
        ),
        flow("task", "end"),
        element("endEvent", "end"),
    )

    assert before_and_after_priorities(engine, {"prio": 3}) == (3, 7)


def test_retry_cycle_gives_both_jobs_of_an_activity_their_retries(engine: Engine) -> None:
    """Rules 1.2/1.7 (not in the list): the activity's retry cycle sets the initial retries of
    its asyncBefore and its asyncAfter job alike; neither has a due date.
    """
    deploy(
        engine,
        *manual_task(extensions=retry_time_cycle("R5/PT5M")),
    )
    instance = engine.start_process_instance_by_key("p")
    before = only_job(engine, instance.id)
    engine.execute_job(before.id)
    after = only_job(engine, instance.id)

    assert (before.retries, after.retries) == (5, 5)
    assert (before.due_at, after.due_at) == (None, None)


def test_async_start_event_job_gets_the_process_priority(engine: Engine) -> None:
    """Rule 1.12 (not in the list): the `process-start` job has the process's priority, and
    the start event's own priority overrides it.
    """
    deploy(
        engine,
        element("startEvent", "start", camunda__asyncBefore="true"),
        flow("start", "task"),
        element("userTask", "task"),
        attrs='camunda:jobPriority="10"',
    )
    instance = engine.start_process_instance_by_key("p")
    assert only_job(engine, instance.id).priority == 10

    deploy(
        engine,
        element("startEvent", "start", camunda__asyncBefore="true", camunda__jobPriority="3"),
        flow("start", "task"),
        element("userTask", "task"),
        attrs='camunda:jobPriority="10"',
    )
    second = engine.start_process_instance_by_key("p")
    assert only_job(engine, second.id).priority == 3
