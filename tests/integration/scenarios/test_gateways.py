"""Async continuations on gateways: joins, forks and decisions (scenarios 14-16, and combos).

Rule 1.5 of the reference: asyncBefore on a join gives one job per arriving token; the
join behaviour runs in each job and fires only when every token has arrived. asyncAfter
on a join (not in the list): only the token that completes the join leaves it, with one
job per outgoing flow.
"""

from __future__ import annotations

import pytest
from bpmn_doc import (
    Recorder,
    deploy,
    element,
    flow,
    listener,
    only_job,
    set_variable_listener,
    sub_process,
)

from safepoint import Engine, Job
from safepoint.errors import NoOutgoingFlow

TAKE = "transition-notify-listener-take"


def configurations(jobs: list[Job]) -> list[tuple[str, str]]:
    return sorted((job.activity_id, job.configuration) for job in jobs)


def fork_into(*branches: str) -> tuple[str, ...]:
    """start → fork → one flow per branch id."""
    return (
        element("startEvent", "start"),
        flow("start", "fork"),
        element("parallelGateway", "fork"),
        *(flow("fork", branch) for branch in branches),
    )


# --- scenario 14 -----------------------------------------------------------------------


def test_async_parallel_join_gives_one_job_per_arriving_token(engine: Engine) -> None:
    """Scenario 14: asyncBefore (legacy camunda:async) on a parallel join without outgoing flow.

    Each token stops before the join with its own job, of the join's one job definition;
    the instance ends only when both have run.
    """
    deploy(
        engine,
        *fork_into("Task_1", "Task_2"),
        element("task", "Task_1"),
        element("task", "Task_2"),
        flow("Task_1", "parallelJoinEnd"),
        flow("Task_2", "parallelJoinEnd"),
        element("parallelGateway", "parallelJoinEnd", camunda__async="true"),
    )
    instance = engine.start_process_instance_by_key("p")

    jobs = engine.jobs(instance.id)
    assert configurations(jobs) == [
        ("parallelJoinEnd", "transition-create-scope"),
        ("parallelJoinEnd", "transition-create-scope"),
    ]
    assert len({job.job_definition_id for job in jobs}) == 1
    assert len({job.execution_id for job in jobs}) == 2
    assert not engine.process_instance(instance.id).ended
    tree = engine.activity_instance(instance.id)
    assert [t.activity_id for t in tree.child_transition_instances] == [
        "parallelJoinEnd",
        "parallelJoinEnd",
    ]

    engine.execute_job(jobs[0].id)

    assert not engine.process_instance(instance.id).ended
    assert [j.id for j in engine.jobs(instance.id)] == [jobs[1].id]

    engine.execute_job(jobs[1].id)

    assert engine.process_instance(instance.id).ended
    assert engine.jobs(instance.id) == []


# --- scenario 15 -----------------------------------------------------------------------


def test_async_join_after_a_user_task(engine: Engine) -> None:
    """Scenario 15, adapted: asyncBefore join; one flow goes straight to it, one via a task.

    Boundary timers are not supported, so the task has none. The straight token waits at
    its job at once; completing the task gives the second job; both run, the instance ends.
    """
    deploy(
        engine,
        element("startEvent", "theStart"),
        flow("theStart", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "join", "flow2"),
        flow("fork", "scopeTask", "flow3"),
        element("userTask", "scopeTask"),
        flow("scopeTask", "join", "flow4"),
        element("parallelGateway", "join", camunda__asyncBefore="true"),
        flow("join", "theEnd"),
        element("endEvent", "theEnd"),
    )
    instance = engine.start_process_instance_by_key("p")

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["scopeTask"]
    assert configurations(engine.jobs(instance.id)) == [("join", "transition-create-scope")]

    engine.complete_task(engine.tasks(instance.id)[0].id)

    jobs = engine.jobs(instance.id)
    assert configurations(jobs) == [
        ("join", "transition-create-scope"),
        ("join", "transition-create-scope"),
    ]
    for job in jobs:
        engine.execute_job(job.id)
    assert engine.process_instance(instance.id).ended


def test_async_join_after_a_scope_activity(engine: Engine) -> None:
    """Scenario 15, adapted: the second token comes out of a scope (a sub-process, instead of
    a task with a boundary timer). Still one job per token; the instance ends after both.
    """
    deploy(
        engine,
        element("startEvent", "theStart"),
        flow("theStart", "fork"),
        element("parallelGateway", "fork"),
        flow("fork", "join", "flow2"),
        flow("fork", "scope", "flow3"),
        sub_process(
            "scope",
            element("startEvent", "scopeStart"),
            flow("scopeStart", "scopeTask"),
            element("userTask", "scopeTask"),
            flow("scopeTask", "scopeEnd"),
            element("endEvent", "scopeEnd"),
        ),
        flow("scope", "join", "flow4"),
        element("parallelGateway", "join", camunda__asyncBefore="true"),
        flow("join", "theEnd"),
        element("endEvent", "theEnd"),
    )
    instance = engine.start_process_instance_by_key("p")
    assert len(engine.tasks(instance.id)) == 1
    assert len(engine.jobs(instance.id)) == 1

    engine.complete_task(engine.tasks(instance.id)[0].id)

    jobs = engine.jobs(instance.id)
    assert configurations(jobs) == [
        ("join", "transition-create-scope"),
        ("join", "transition-create-scope"),
    ]
    for job in jobs:
        engine.execute_job(job.id)
    assert engine.process_instance(instance.id).ended


# --- scenario 16 -----------------------------------------------------------------------


def test_async_inclusive_join_fires_once_for_two_tokens(engine: Engine) -> None:
    """Scenario 16: asyncBefore on an inclusive join reached by 2 of 3 conditional flows.

    Two tokens give two jobs; after all jobs have run there is exactly one user task.
    """
    deploy(
        engine,
        element("startEvent", "theStart"),
        flow("theStart", "inclusiveGw", "flow1", condition="${input <= 1}"),
        flow("theStart", "inclusiveGw", "flow2", condition="${input <= 2}"),
        flow("theStart", "inclusiveGw", "flow3", condition="${input <= 3}"),
        element("inclusiveGateway", "inclusiveGw", camunda__asyncBefore="true"),
        flow("inclusiveGw", "theTask", "flow4"),
        element("userTask", "theTask"),
        flow("theTask", "theEnd", "flow5"),
        element("endEvent", "theEnd"),
    )
    instance = engine.start_process_instance_by_key("p", {"input": 2})

    assert configurations(engine.jobs(instance.id)) == [
        ("inclusiveGw", "transition-create-scope"),
        ("inclusiveGw", "transition-create-scope"),
    ]
    assert engine.tasks(instance.id) == []

    engine.execute_available_jobs()

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["theTask"]
    assert engine.jobs(instance.id) == []
    engine.complete_task(engine.tasks(instance.id)[0].id)
    assert engine.process_instance(instance.id).ended


# --- combinations not in the list ------------------------------------------------------


def test_async_before_and_after_on_a_parallel_join(engine: Engine) -> None:
    """Rule 1.5 (not in the list): asyncBefore+asyncAfter on a parallel join.

    One before-job per token; the first one only parks its token at the join; the second
    fires the join, which stops at one after-job per outgoing flow.
    """
    deploy(
        engine,
        *fork_into("task1", "task2"),
        element("task", "task1"),
        element("task", "task2"),
        flow("task1", "join"),
        flow("task2", "join"),
        element(
            "parallelGateway",
            "join",
            extensions=set_variable_listener("end", "joinEnded"),
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
        ),
        flow("join", "after1", "out1"),
        flow("join", "after2", "out2"),
        element("userTask", "after1"),
        element("userTask", "after2"),
    )
    instance = engine.start_process_instance_by_key("p")
    first, second = engine.jobs(instance.id)
    assert {first.configuration, second.configuration} == {"transition-create-scope"}

    engine.execute_job(first.id)

    assert [j.id for j in engine.jobs(instance.id)] == [second.id]
    assert "joinEnded" not in engine.variables(instance.id)

    engine.execute_job(second.id)

    after_jobs = engine.jobs(instance.id)
    assert configurations(after_jobs) == [("join", f"{TAKE}$out1"), ("join", f"{TAKE}$out2")]
    assert first.job_definition_id.endswith("async-before")
    assert all(job.job_definition_id.endswith("async-after") for job in after_jobs)
    assert engine.variables(instance.id)["joinEnded"] is True
    assert engine.tasks(instance.id) == []

    for job in after_jobs:
        engine.execute_job(job.id)

    assert sorted(t.activity_id for t in engine.tasks(instance.id)) == ["after1", "after2"]
    assert engine.jobs(instance.id) == []


def test_async_before_and_after_on_a_parallel_join_with_one_outgoing_flow(
    engine: Engine,
) -> None:
    """Rule 1.5 (not in the list): a firing join with asyncAfter and one flow: 1 after-job."""
    deploy(
        engine,
        *fork_into("task1", "task2"),
        element("task", "task1"),
        element("task", "task2"),
        flow("task1", "join"),
        flow("task2", "join"),
        element("parallelGateway", "join", camunda__asyncBefore="true", camunda__asyncAfter="true"),
        flow("join", "after", "out"),
        element("userTask", "after"),
    )
    instance = engine.start_process_instance_by_key("p")
    for job in engine.jobs(instance.id):
        engine.execute_job(job.id)

    after = only_job(engine, instance.id)
    assert (after.activity_id, after.configuration) == ("join", f"{TAKE}$out")
    # The joined token is gone: the tree is compacted back onto the process instance.
    assert after.execution_id == instance.id
    tree = engine.activity_instance(instance.id)
    assert [t.activity_id for t in tree.child_transition_instances] == ["join"]
    assert tree.child_activity_instances == []

    engine.execute_job(after.id)
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["after"]


def test_async_after_on_a_parallel_join_only_the_completing_token_leaves(
    engine: Engine,
) -> None:
    """Rule 1.5 (not in the list): asyncAfter on a parallel join.

    The first token waits at the join without a job; the token that completes the join
    leaves it with one job per outgoing flow (not `activity-end` jobs).
    """
    deploy(
        engine,
        *fork_into("task1", "task2"),
        element("userTask", "task1"),
        element("userTask", "task2"),
        flow("task1", "join"),
        flow("task2", "join"),
        element("parallelGateway", "join", camunda__asyncAfter="true"),
        flow("join", "end1", "out1"),
        flow("join", "end2", "out2"),
        element("endEvent", "end1"),
        element("endEvent", "end2"),
    )
    instance = engine.start_process_instance_by_key("p")
    task1 = next(t for t in engine.tasks(instance.id) if t.activity_id == "task1")
    task2 = next(t for t in engine.tasks(instance.id) if t.activity_id == "task2")

    engine.complete_task(task1.id)

    assert engine.jobs(instance.id) == []
    assert engine.active_activity_ids(instance.id) == ["task2"]

    engine.complete_task(task2.id)

    jobs = engine.jobs(instance.id)
    assert configurations(jobs) == [("join", f"{TAKE}$out1"), ("join", f"{TAKE}$out2")]
    assert not engine.process_instance(instance.id).ended

    for job in jobs:
        engine.execute_job(job.id)
    assert engine.process_instance(instance.id).ended


def test_async_join_job_waits_for_a_token_still_at_a_user_task(engine: Engine) -> None:
    """Rule 1.5 (not in the list): an async join job whose token is first parks it (inactive);
    the join fires synchronously later when the last token arrives through its own job.
    """
    deploy(
        engine,
        *fork_into("direct", "task"),
        element("task", "direct"),
        element("userTask", "task"),
        flow("direct", "join"),
        flow("task", "join"),
        element("parallelGateway", "join", camunda__asyncBefore="true"),
        flow("join", "after"),
        element("userTask", "after"),
    )
    instance = engine.start_process_instance_by_key("p")
    engine.execute_job(only_job(engine, instance.id).id)

    assert engine.jobs(instance.id) == []
    assert engine.active_activity_ids(instance.id) == ["task"]

    engine.complete_task(engine.tasks(instance.id)[0].id)
    assert [t.activity_id for t in engine.tasks(instance.id)] == []

    engine.execute_job(only_job(engine, instance.id).id)

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["after"]
    assert engine.active_activity_ids(instance.id) == ["after"]


def test_async_before_exclusive_gateway_decides_in_its_job(engine: Engine) -> None:
    """Rules 1.3/1.4 (not in the list): an asyncBefore gateway evaluates its conditions in the
    job, against the variables as they are then (the mirror image of asyncAfter).
    """
    deploy(
        engine,
        *fork_into("gw", "change"),
        element("userTask", "change"),
        flow("change", "changeEnd"),
        element("endEvent", "changeEnd"),
        element("exclusiveGateway", "gw", camunda__asyncBefore="true", default="toB"),
        flow("gw", "a", "toA", condition="${x > 5}"),
        flow("gw", "b", "toB"),
        element("userTask", "a"),
        element("userTask", "b"),
    )
    instance = engine.start_process_instance_by_key("p", {"x": 1})
    job = only_job(engine, instance.id)
    assert job.configuration == "transition-create-scope"

    engine.complete_task(engine.tasks(instance.id)[0].id, {"x": 10})
    engine.execute_job(job.id)

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["a"]


def test_async_after_inclusive_gateway_with_one_true_condition_gives_one_job(
    engine: Engine, recorder: Recorder
) -> None:
    """Rule 1.4 (not in the list): jobs are created for the selected flows only."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "gw"),
        element(
            "inclusiveGateway",
            "gw",
            extensions=listener("end"),
            camunda__asyncAfter="true",
            default="toDefault",
        ),
        flow("gw", "a", "toA", condition="${x > 5}"),
        flow("gw", "b", "toB", condition="${x > 50}"),
        flow("gw", "c", "toDefault"),
        element("userTask", "a"),
        element("userTask", "b"),
        element("userTask", "c"),
    )
    first = engine.start_process_instance_by_key("p", {"x": 10})
    assert configurations(engine.jobs(first.id)) == [("gw", f"{TAKE}$toA")]

    second = engine.start_process_instance_by_key("p", {"x": 1})
    assert configurations(engine.jobs(second.id)) == [("gw", f"{TAKE}$toDefault")]

    third = engine.start_process_instance_by_key("p", {"x": 100})
    assert configurations(engine.jobs(third.id)) == [("gw", f"{TAKE}$toA"), ("gw", f"{TAKE}$toB")]

    engine.execute_available_jobs()
    assert [t.activity_id for t in engine.tasks(first.id)] == ["a"]
    assert [t.activity_id for t in engine.tasks(second.id)] == ["c"]
    assert sorted(t.activity_id for t in engine.tasks(third.id)) == ["a", "b"]
    assert recorder.events == [("end", "gw")] * 3


def no_matching_flow(**gateway_attrs: str) -> tuple[str, ...]:
    return (
        element("startEvent", "start"),
        flow("start", "gw"),
        element("exclusiveGateway", "gw", **gateway_attrs),
        flow("gw", "a", "toA", condition="${x == 1}"),
        flow("gw", "b", "toB", condition="${x == 2}"),
        element("userTask", "a"),
        element("userTask", "b"),
    )


def test_async_after_gateway_without_a_matching_flow_fails_before_the_boundary(
    engine: Engine,
) -> None:
    """Rule 1.4 (not in the list): flows are selected before the asyncAfter boundary, so a
    gateway where no condition holds fails the command that runs it; nothing is committed.
    """
    deploy(engine, *no_matching_flow(camunda__asyncAfter="true"))

    with pytest.raises(NoOutgoingFlow):
        engine.start_process_instance_by_key("p", {"x": 3})

    assert engine.process_instances(process_definition_key="p") == []
    assert engine.jobs() == []


def test_async_before_gateway_without_a_matching_flow_fails_in_its_job(engine: Engine) -> None:
    """Rule 1.3 (not in the list): with asyncBefore the same gateway fails inside its job; the
    instance stays waiting before the gateway and the job records the failure.
    """
    deploy(engine, *no_matching_flow(camunda__asyncBefore="true"))
    instance = engine.start_process_instance_by_key("p", {"x": 3})
    job = only_job(engine, instance.id)

    with pytest.raises(NoOutgoingFlow):
        engine.execute_job(job.id)

    failed = engine.job(job.id)
    assert failed.retries == 2
    assert failed.failed_activity_id == "gw"
    assert failed.exception_message is not None and "'gw'" in failed.exception_message
    assert engine.active_activity_ids(instance.id) == ["gw"]
    assert [
        t.activity_id for t in engine.activity_instance(instance.id).child_transition_instances
    ] == ["gw"]


def test_loop_through_an_async_task_creates_a_new_job_each_pass(engine: Engine) -> None:
    """Rules 1.3/1.4 (not in the list): a loop back through an asyncBefore task and an
    asyncAfter gateway: every pass stops at both safe points with fresh jobs; the gateway's
    decision for each pass is made before its after-job.
    """
    engine.delegates["increment"] = lambda execution: execution.set_variable(
        "count", int(execution.get_variable("count")) + 1
    )
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "service"),
        element(
            "serviceTask",
            "service",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${increment}",
        ),
        flow("service", "gw"),
        element("exclusiveGateway", "gw", camunda__asyncAfter="true", default="again"),
        flow("gw", "done", "exit", condition="${count >= 3}"),
        flow("gw", "service", "again"),
        element("userTask", "done"),
    )
    instance = engine.start_process_instance_by_key("p", {"count": 0})

    seen: list[tuple[str, str]] = []
    while jobs := engine.jobs(instance.id):
        (job,) = jobs
        seen.append((job.activity_id, job.configuration))
        engine.execute_job(job.id)

    assert seen == [
        ("service", "transition-create-scope"),
        ("gw", f"{TAKE}$again"),
        ("service", "transition-create-scope"),
        ("gw", f"{TAKE}$again"),
        ("service", "transition-create-scope"),
        ("gw", f"{TAKE}$exit"),
    ]
    assert engine.variables(instance.id)["count"] == 3
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["done"]
    assert [h.activity_id for h in engine.history(instance.id)].count("service") == 3
    created = [e for e in engine.job_log(instance.id) if e.event.value == "created"]
    assert len({e.job_id for e in created}) == 6


@pytest.mark.parametrize("gateway", ["parallelGateway", "inclusiveGateway"])
@pytest.mark.parametrize("continuation", ["", "camunda__asyncBefore", "camunda__asyncAfter"])
def test_a_join_fires_its_end_listeners_for_every_token_it_joins(
    engine: Engine, recorder: Recorder, gateway: str, continuation: str
) -> None:
    """Not in the list: every token arriving at a join starts an activity instance of its
    own, and the join ends each (Camunda's ``leaveActivityViaTransitions`` ends every
    joined execution, end listeners and all; the one that goes on fires them as it
    leaves): two start and two end notifications for two tokens, async or not.
    """
    attrs = {continuation: "true"} if continuation else {}
    deploy(
        engine,
        *fork_into("a", "b"),
        element("task", "a"),
        element("task", "b"),
        flow("a", "join"),
        flow("b", "join"),
        element(gateway, "join", extensions=listener("start") + listener("end"), **attrs),
        flow("join", "wait"),
        element("userTask", "wait"),
    )
    instance = engine.start_process_instance_by_key("p")
    engine.execute_available_jobs()

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["wait"]
    at_join = [event for event, activity in recorder.events if activity == "join"]
    assert sorted(at_join) == ["end", "end", "start", "start"]
    joins = [h for h in engine.history(instance.id) if h.activity_id == "join"]
    assert len(joins) == 2 and all(h.ended_at and not h.canceled for h in joins)


def test_a_join_of_three_tokens_in_a_sub_process_ends_all_three(
    engine: Engine, recorder: Recorder
) -> None:
    """Three tokens start the join, and all three end it (the two waiting ones when the
    last arrives, then the last as it leaves), before the sub-process goes on."""
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "sub"),
        sub_process(
            "sub",
            element("startEvent", "subStart"),
            flow("subStart", "fork"),
            element("parallelGateway", "fork"),
            *(flow("fork", branch) for branch in ("a", "b", "c")),
            *(element("task", branch, extensions=listener("start")) for branch in ("a", "b", "c")),
            *(flow(branch, "join") for branch in ("a", "b", "c")),
            element("parallelGateway", "join", extensions=listener("start") + listener("end")),
            flow("join", "subEnd"),
            element("endEvent", "subEnd"),
        ),
        flow("sub", "wait"),
        element("userTask", "wait"),
    )
    instance = engine.start_process_instance_by_key("p")

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["wait"]
    events = [event for event, activity in recorder.events if activity in ("a", "b", "c", "join")]
    assert events == ["start"] * 3 + ["start"] * 3 + ["end"] * 3
