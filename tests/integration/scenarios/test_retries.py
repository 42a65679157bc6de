"""Job retries and ``failedJobRetryTimeCycle`` (reference 1.7, 1.8; scenarios 39-44, 46).

Every failure below goes through ``Engine.execute_job`` or ``execute_available_jobs``,
which do what Camunda's job executor does: roll the job back, then record the failure
(exception, retries, due date, incident) in a new transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bpmn_doc import (
    Failing,
    chain,
    class_listener,
    deploy,
    element,
    flow,
    message_definition,
    only_job,
    retry_time_cycle,
    sub_process,
)

from safepoint import Engine, EngineConfig, ManualClock
from safepoint.core.entities import JobLogEvent
from safepoint.errors import BadUserRequest, DelegateNotFound

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def at(minute: int, second: int = 0) -> datetime:
    """10:<minute>:<second> on the test day."""
    return T0.replace(minute=minute, second=second)


def failing_task(task_id: str = "task", cycle: str | None = None, **attrs: str) -> str:
    """An asyncBefore service task running the always-failing ``failing`` delegate."""
    return element(
        "serviceTask",
        task_id,
        camunda__asyncBefore="true",
        camunda__class="failing",
        extensions=retry_time_cycle(cycle) if cycle else "",
        **attrs,
    )


def deploy_failing_task(engine: Engine, cycle: str | None = None) -> None:
    deploy(
        engine,
        element("startEvent", "start"),
        failing_task("task", cycle),
        element("endEvent", "end"),
        *chain("start", "task", "end"),
    )


# --- 39: default retries --------------------------------------------------------------------


def test_39_default_retries_count_down_and_a_manual_run_after_exhaustion_keeps_zero(
    engine: Engine, failing: Failing
) -> None:
    """Scenario 39: 3 retries by default → 2, 1, 0; failure logs hold the value before.

    A 4th manual execute_job still runs the job and fails; retries stay 0 and there is
    still exactly one incident.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        element(
            "serviceTask",
            "task",
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
            camunda__class="failing",
        ),
        element("endEvent", "end"),
        *chain("start", "task", "end"),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.retries == 3
    logs = engine.job_log(job_id=job.id)
    assert [(log.event, log.retries) for log in logs] == [(JobLogEvent.CREATED, 3)]

    for expected in (2, 1, 0):
        with pytest.raises(RuntimeError, match="expected failure"):
            engine.execute_job(job.id)
        assert engine.job(job.id).retries == expected

    failures = [log for log in engine.job_log(job_id=job.id) if log.event is JobLogEvent.FAILED]
    assert [log.retries for log in failures] == [3, 2, 1]
    assert [i.configuration for i in engine.incidents(instance.id)] == [job.id]

    with pytest.raises(RuntimeError, match="expected failure"):
        engine.execute_job(job.id)

    assert failing.calls == 4
    assert engine.job(job.id).retries == 0
    failures = [log for log in engine.job_log(job_id=job.id) if log.event is JobLogEvent.FAILED]
    assert [log.retries for log in failures] == [3, 2, 1, 0]
    assert len(engine.incidents(instance.id)) == 1
    # A job without retries is never picked up by the job executor again.
    assert engine.execute_available_jobs() == 0


# --- 40: R5/PT5M on many activity types -----------------------------------------------------

R5 = retry_time_cycle("R5/PT5M")
MISSING_LISTENER = class_listener("start", "non.existent.Listener")

FAILING_ACTIVITIES = {
    "service task": element(
        "serviceTask",
        "failing",
        camunda__asyncBefore="true",
        camunda__class="non.existent.Class",
        extensions=R5,
    ),
    "user task": element(
        "userTask", "failing", camunda__asyncBefore="true", extensions=R5 + MISSING_LISTENER
    ),
    "send task": element(
        "sendTask",
        "failing",
        camunda__asyncBefore="true",
        camunda__class="non.existent.Class",
        extensions=R5,
    ),
    "receive task": element(
        "receiveTask",
        "failing",
        camunda__asyncBefore="true",
        messageRef="msg_go",
        extensions=R5 + MISSING_LISTENER,
    ),
    "subprocess": sub_process(
        "failing",
        element("startEvent", "subStart"),
        element("serviceTask", "subTask", camunda__class="non.existent.Class"),
        element("endEvent", "subEnd"),
        *chain("subStart", "subTask", "subEnd"),
        camunda__asyncBefore="true",
        extensions=R5,
    ),
}


@pytest.mark.parametrize("activity", FAILING_ACTIVITIES.values(), ids=FAILING_ACTIVITIES.keys())
def test_40_retry_cycle_counts_down_and_the_token_stays_at_the_activity(
    engine: Engine, activity: str
) -> None:
    """Scenario 40: R5/PT5M gives retries 4, 3, 2, 1, 0; the execution stays at the activity.

    After each failure there is exactly one job with an exception; at the end exactly one
    job has no retries left.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        activity,
        element("endEvent", "end"),
        *chain("start", "failing", "end"),
        messages=("go",),
    )
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.retries == 5

    for expected in (4, 3, 2, 1, 0):
        with pytest.raises(DelegateNotFound):
            engine.execute_job(job.id)
        with_exception = engine.jobs(instance.id, with_exception=True)
        assert [(j.id, j.retries) for j in with_exception] == [(job.id, expected)]
        assert engine.active_activity_ids(instance.id) == ["failing"]
        assert engine.tasks(instance.id) == []

    assert [j.id for j in engine.jobs(no_retries_left=True)] == [job.id]


# --- 41: due date under R5/PT5M for events and gateways -------------------------------------


def _async_node(tag: str, node_id: str, body: str = "") -> str:
    return element(
        tag,
        node_id,
        camunda__asyncBefore="true",
        extensions=R5 + class_listener("start", "foo"),
        body=body,
    )


DUE_DATE_PROCESSES = {
    "end event": (
        "failing",
        [element("startEvent", "start"), _async_node("endEvent", "failing"),
         flow("start", "failing")],
    ),
    "intermediate message catch": (
        "failing",
        [element("startEvent", "start"),
         _async_node("intermediateCatchEvent", "failing", message_definition("go")),
         element("endEvent", "end"), *chain("start", "failing", "end")],
    ),
    "exclusive gateway": (
        "failing",
        [element("startEvent", "start"), _async_node("exclusiveGateway", "failing"),
         element("endEvent", "end"), *chain("start", "failing", "end")],
    ),
    "inclusive gateway": (
        "failing",
        [element("startEvent", "start"), _async_node("inclusiveGateway", "failing"),
         element("endEvent", "end"), *chain("start", "failing", "end")],
    ),
    "parallel gateway": (
        "failing",
        [element("startEvent", "start"), _async_node("parallelGateway", "failing"),
         element("endEvent", "end"), *chain("start", "failing", "end")],
    ),
    "async start event": (
        "start",
        [element("startEvent", "start", camunda__asyncBefore="true", extensions=R5),
         element("serviceTask", "task", camunda__class="bar"),
         element("endEvent", "end"), *chain("start", "task", "end")],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", DUE_DATE_PROCESSES.values(), ids=DUE_DATE_PROCESSES.keys())
def test_41_one_failure_under_r5_pt5m_leaves_4_retries_due_in_5_minutes(
    engine: Engine, clock: ManualClock, case: tuple[str, list[str]]
) -> None:
    """Scenario 41: the job is created with 5 retries; one failure at 10:00 → 4, due 10:05.

    The start listener class ``foo`` does not exist (for the async start event, the class
    ``bar`` of the following service task is missing instead).
    """
    activity_id, elements = case
    deploy(engine, *elements, messages=("go",))
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.retries, job.due_at) == (activity_id, 5, None)

    with pytest.raises(DelegateNotFound):
        engine.execute_job(job.id)

    job = engine.job(job.id)
    assert job.retries == 4
    assert job.due_at == at(5)
    assert job.lock_expires_at is None
    assert job.locked_by is None
    assert engine.active_activity_ids(instance.id) == [activity_id]


# --- 42: a list of intervals ----------------------------------------------------------------


def test_42_interval_list_sets_each_due_date_from_its_own_interval(
    engine: Engine, clock: ManualClock
) -> None:
    """Scenario 42: ``PT3M, PT10M,PT8M`` → retries 3 (10:03), 2 (10:13), 1 (10:21), then 0.

    A job is not run before its due date.
    """
    deploy_failing_task(engine, "PT3M, PT10M,PT8M")
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.retries == 4

    for retries, due in ((3, at(3)), (2, at(13)), (1, at(21))):
        assert engine.execute_available_jobs() == 1
        job = engine.job(job.id)
        assert (job.retries, job.due_at) == (retries, due)
        assert engine.incidents(instance.id) == []
        clock.set(due - timedelta(seconds=1))
        assert engine.execute_available_jobs() == 0
        clock.set(due)

    assert engine.execute_available_jobs() == 1
    assert engine.job(job.id).retries == 0
    assert len(engine.incidents(instance.id)) == 1


def test_42_raising_retries_above_the_list_reuses_the_first_interval(
    engine: Engine, clock: ManualClock
) -> None:
    """Scenario 42 (testIntervalsAfterUpdateRetries): retries raised to 5 after a failure.

    The next failures give retries 4, 3, 2, 1 with due increments of 3, 3, 10 and 8
    minutes: the surplus attempts reuse the first interval.
    """
    deploy_failing_task(engine, "PT3M, PT10M,PT8M")
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert engine.execute_available_jobs() == 1
    job = engine.job(job.id)
    assert (job.retries, job.due_at) == (3, at(3))

    engine.set_job_retries(job.id, 5)

    for retries, minutes in ((4, 3), (3, 3), (2, 10), (1, 8)):
        assert job.due_at is not None
        clock.set(job.due_at)
        failed_at = clock()
        assert engine.execute_available_jobs() == 1
        job = engine.job(job.id)
        assert job.retries == retries
        assert job.due_at == failed_at + timedelta(minutes=minutes)

    assert job.due_at is not None
    clock.set(job.due_at)
    assert engine.execute_available_jobs() == 1
    assert engine.job(job.id).retries == 0
    assert len(engine.incidents(instance.id)) == 1


# --- 43: initial retries from the cycle -----------------------------------------------------


@pytest.mark.parametrize(
    ("cycle", "initial", "after_one_failure"),
    [("R5/PT5M", 5, 4), ("PT10M,PT17M,PT20M", 4, 3), ("R0/PT5M", 1, 0)],
)
def test_43_the_cycle_sets_the_initial_retries(
    engine: Engine, cycle: str, initial: int, after_one_failure: int
) -> None:
    """Scenario 43 (non-legacy): Rn gives n, a list of k gives k+1, R0 gives 1 at creation.

    With R0/PT5M the first failure already raises the incident.
    """
    deploy_failing_task(engine, cycle)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.retries == initial

    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)

    assert engine.job(job.id).retries == after_one_failure
    incidents = engine.incidents(instance.id)
    assert len(incidents) == (1 if after_one_failure == 0 else 0)


# --- 44: an expression as the cycle ---------------------------------------------------------


def test_44_expression_cycle_is_evaluated_against_the_execution(engine: Engine) -> None:
    """Scenario 44: ``${var}`` with var='R10/PT5M' → the job has 10 retries, 9 after a failure."""
    deploy_failing_task(engine, "${var}")
    instance = engine.start_process_instance_by_key("p", {"var": "R10/PT5M"})
    job = only_job(engine, instance.id)
    assert job.retries == 10

    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)

    job = engine.job(job.id)
    assert (job.retries, job.due_at) == (9, at(5))


def test_44_expression_cycle_with_an_undefined_variable_uses_the_default_strategy(
    engine: Engine,
) -> None:
    """Scenario 44: ``${var}`` with var undefined → default 3 retries, 2 after a failure.

    The default strategy leaves the due date alone: the job is due again at once.
    """
    deploy_failing_task(engine, "${var}")
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.retries == 3

    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)

    job = engine.job(job.id)
    assert (job.retries, job.due_at) == (2, None)


def test_44_changing_the_variable_changes_the_next_interval(
    engine: Engine, clock: ManualClock
) -> None:
    """Scenario 44: var changes from R10/PT5M to R10/PT10M between failures.

    The first failure at 10:00 sets due 10:05; the second, at 10:05, sets due 10:15.
    The variable is changed by completing a user task on a parallel branch.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        element("parallelGateway", "fork"),
        failing_task("task", "${var}"),
        element("endEvent", "end"),
        element("userTask", "changeVar"),
        element("endEvent", "end2"),
        *chain("start", "fork", "task", "end"),
        *chain("fork", "changeVar", "end2"),
    )
    instance = engine.start_process_instance_by_key("p", {"var": "R10/PT5M"})
    job = only_job(engine, instance.id)

    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)
    assert engine.job(job.id).due_at == at(5)

    (task,) = engine.tasks(instance.id)
    engine.complete_task(task.id, {"var": "R10/PT10M"})
    assert engine.variables(instance.id)["var"] == "R10/PT10M"

    clock.set(at(5))
    assert engine.execute_available_jobs() == 1
    job = engine.job(job.id)
    assert (job.retries, job.due_at) == (8, at(15))


# --- 46: a failing branch does not block the other one --------------------------------------


def test_46_a_failed_job_waiting_for_its_due_date_does_not_block_another_branch(
    engine: Engine, failing: Failing
) -> None:
    """Scenario 46: fork → failing async task (R2/PT5M) ‖ user task → async task → user task.

    After the first job fails once and ``beforePassing`` is completed, the job executor
    runs the passing job; the failed one (1 retry, no lock) is not due yet and not run.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        element("parallelGateway", "fork"),
        failing_task("failingTask", "R2/PT5M"),
        element("endEvent", "end1"),
        element("userTask", "beforePassing"),
        element("serviceTask", "passingTask", camunda__asyncBefore="true",
                camunda__class="record"),
        element("userTask", "afterPassing"),
        element("endEvent", "end2"),
        *chain("start", "fork", "failingTask", "end1"),
        *chain("fork", "beforePassing", "passingTask", "afterPassing", "end2"),
    )  # fmt: skip
    instance = engine.start_process_instance_by_key("p")
    failed = only_job(engine, instance.id)
    with pytest.raises(RuntimeError):
        engine.execute_job(failed.id)

    (before,) = engine.tasks(instance.id)
    assert before.activity_id == "beforePassing"
    engine.complete_task(before.id)
    assert engine.execute_available_jobs() == 1

    assert [t.activity_id for t in engine.tasks(instance.id)] == ["afterPassing"]
    failed = engine.job(failed.id)
    assert failed.retries == 1
    assert failed.lock_expires_at is None
    assert failed.due_at == at(5)
    assert failing.calls == 1
    assert [j.id for j in engine.jobs(instance.id)] == [failed.id]


# --- the acceptance test ------------------------------------------------------------


def test_r3_pt10s_tries_three_times_ten_seconds_apart_then_incident_then_recovers(
    engine: Engine, clock: ManualClock, failing: Failing
) -> None:
    """Done-when: a failing delegate with R3/PT10S runs 3 times 10 s apart, then an incident.

    Nothing runs before the due date. Setting retries resolves the incident and, once the
    delegate succeeds, the instance completes.
    """
    deploy_failing_task(engine, "R3/PT10S")
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.retries == 3

    failure_times = []
    for retries in (2, 1, 0):
        failure_times.append(clock())
        assert engine.execute_available_jobs() == 1
        job = engine.job(job.id)
        assert job.retries == retries
        assert job.due_at == clock() + timedelta(seconds=10)
        assert engine.execute_available_jobs() == 0
        clock.advance(seconds=9)
        assert engine.execute_available_jobs() == 0
        clock.advance(seconds=1)

    assert failure_times == [at(0, 0), at(0, 10), at(0, 20)]
    logged = [log.timestamp for log in engine.job_log(job_id=job.id)
              if log.event is JobLogEvent.FAILED]  # fmt: skip
    assert logged == failure_times
    assert failing.calls == 3
    # Exhausted: never picked up again, one incident.
    assert engine.execute_available_jobs() == 0
    (incident,) = engine.incidents()
    assert (incident.configuration, incident.message) == (job.id, "expected failure")

    engine.set_job_retries(job.id, 1)
    assert engine.incidents() == []

    engine.delegates["failing"] = lambda execution: None
    assert engine.execute_available_jobs() == 1
    assert engine.process_instance(instance.id).ended
    assert engine.jobs() == []
    assert engine.incidents() == []
    assert failing.calls == 3


# --- combinations ---------------------------------------------------------------------------


def test_the_activity_retry_cycle_applies_to_its_async_after_job(engine: Engine) -> None:
    """1.7: the cycle of an activity applies to its asyncAfter job too (R5/PT5M → 5, then 4)."""
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "task", camunda__asyncAfter="true", camunda__class="record",
                extensions=R5),
        element("serviceTask", "next", camunda__class="failing"),
        element("endEvent", "end"),
        *chain("start", "task", "next", "end"),
    )  # fmt: skip
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert (job.activity_id, job.retries) == ("task", 5)
    assert engine.variables(instance.id)["invoked_task"] is True

    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)

    job = engine.job(job.id)
    assert (job.retries, job.due_at, job.failed_activity_id) == (4, at(5), "next")
    assert engine.active_activity_ids(instance.id) == ["task"]


@pytest.mark.parametrize(
    ("local_cycle", "initial", "after_failure", "due"),
    [(None, 2, 1, at(1)), ("R5/PT5M", 5, 4, at(5))],
    ids=["global cycle", "local cycle wins"],
)
def test_global_retry_cycle_applies_where_the_activity_has_none(
    database_url: str,
    clock: ManualClock,
    failing: Failing,
    local_cycle: str | None,
    initial: int,
    after_failure: int,
    due: datetime,
) -> None:
    """1.7: EngineConfig(failed_job_retry_time_cycle) is the default; a local cycle wins."""
    config = EngineConfig(failed_job_retry_time_cycle="R2/PT1M")
    with Engine(database_url, delegates={"failing": failing}, clock=clock, config=config) as eng:
        deploy_failing_task(eng, local_cycle)
        instance = eng.start_process_instance_by_key("p")
        job = only_job(eng, instance.id)
        assert job.retries == initial

        with pytest.raises(RuntimeError):
            eng.execute_job(job.id)

        job = eng.job(job.id)
        assert (job.retries, job.due_at) == (after_failure, due)


@pytest.mark.parametrize(
    ("local_cycle", "initial", "after_failure", "due"),
    [(None, 5, 4, None), ("R2/PT5M", 2, 1, at(5))],
    ids=["default retries", "local cycle wins"],
)
def test_default_retries_setting_changes_the_default_of_three(
    database_url: str,
    clock: ManualClock,
    failing: Failing,
    local_cycle: str | None,
    initial: int,
    after_failure: int,
    due: datetime | None,
) -> None:
    """1.7: EngineConfig(default_retries=5) gives 5 attempts; a local cycle still wins."""
    config = EngineConfig(default_retries=5)
    with Engine(database_url, delegates={"failing": failing}, clock=clock, config=config) as eng:
        deploy_failing_task(eng, local_cycle)
        instance = eng.start_process_instance_by_key("p")
        job = only_job(eng, instance.id)
        assert job.retries == initial

        with pytest.raises(RuntimeError):
            eng.execute_job(job.id)

        job = eng.job(job.id)
        assert (job.retries, job.due_at) == (after_failure, due)


def test_legacy_fox_namespace_cycle_is_honoured(engine: Engine) -> None:
    """1.7: the cycle may also be written in the legacy ``fox:`` namespace."""
    fox_cycle = (
        '<fox:failedJobRetryTimeCycle xmlns:fox="http://www.camunda.com/fox">'
        "R5/PT5M</fox:failedJobRetryTimeCycle>"
    )
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "task", camunda__asyncBefore="true", camunda__class="failing",
                extensions=fox_cycle),
        element("endEvent", "end"),
        *chain("start", "task", "end"),
    )  # fmt: skip
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)
    assert job.retries == 5

    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)

    job = engine.job(job.id)
    assert (job.retries, job.due_at) == (4, at(5))


@pytest.mark.parametrize("retries", [-1, 2**31])
def test_retries_outside_an_integer_are_refused_and_nothing_changes(
    engine: Engine, retries: int
) -> None:
    """Camunda's retries are an ``Integer``: a count beyond it is the caller's mistake."""
    deploy_failing_task(engine)
    instance = engine.start_process_instance_by_key("p")
    job = only_job(engine, instance.id)

    with pytest.raises(BadUserRequest, match="retries must be between 0 and 2147483647"):
        engine.set_job_retries(job.id, retries)
    with pytest.raises(BadUserRequest, match="retries must be between 0 and 2147483647"):
        engine.set_job_retries_by_job_definition_id(job.job_definition_id, retries)

    assert only_job(engine, instance.id).retries == job.retries


def test_a_failure_whose_message_a_text_column_refuses_is_recorded_escaped(
    database_url: str, clock: ManualClock
) -> None:
    """NUL and an unpaired surrogate in an exception's message are stored escaped, so the
    retry counts down to an incident instead of the failure going unrecorded."""

    def refuse(execution: object) -> None:
        raise RuntimeError("card \x00 declined \ud800")

    with Engine(database_url, delegates={"failing": refuse}, clock=clock) as engine:
        deploy_failing_task(engine)
        instance = engine.start_process_instance_by_key("p")
        job = only_job(engine, instance.id)

        with pytest.raises(RuntimeError):
            engine.execute_job(job.id)

        failed = only_job(engine, instance.id)
        assert failed.retries == 2
        assert failed.exception_message == "card \\x00 declined \\ud800"
