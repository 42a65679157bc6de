"""Optimistic locking and exclusive jobs under real concurrency (reference 1.10, 1.11).

Scenarios 54-57 and the exclusive-job rule need two transactions that both load a
process instance before either commits. Each test starts real threads that call the
engine, and a ``Rendezvous`` inside a delegate or listener holds both transactions
until both have loaded. That is only possible on PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from bpmn_doc import chain, deploy, element, flow, listener, retry_time_cycle

from safepoint import Engine, Job, ManualClock, OptimisticLockError
from safepoint.core.entities import JobLogEvent

THREAD_TIMEOUT = 30.0
"""Seconds a test waits for its threads; a hang fails the test instead of blocking it."""

SQLITE_SKIP = (
    "SQLite serialises writers (one write transaction per database) and has no row "
    "locks, so the job executor's concurrent transactions on one instance, and the "
    "instance lock that keeps exclusive jobs apart, are checked on PostgreSQL only"
)

CONFLICT = "was updated by another transaction concurrently"


def skip_on_sqlite(database_url: str) -> None:
    if "sqlite" in database_url:
        pytest.skip(SQLITE_SKIP)


class Rendezvous:
    """A delegate or listener at which the first two callers wait for each other.

    While armed, each call blocks until the other thread has arrived too, so both
    transactions have loaded the instance before either commits. ``disarm()`` lets later
    calls (retries) through at once. Each call also counts ``runs`` in a variable.
    """

    def __init__(self, parties: int = 2) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.armed = True
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, execution: Any) -> None:
        with self._lock:
            self.calls += 1
        execution.set_variable("runs", execution.get_variable("runs", 0) + 1)
        if self.armed:
            self.barrier.wait()

    def disarm(self) -> None:
        self.armed = False


def run_concurrently(*calls: Callable[[], object]) -> list[BaseException | None]:
    """Run each call in its own thread; return each one's exception (or None)."""
    outcomes: list[BaseException | None] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:  # reported to the test below
            outcomes[index] = exc

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + THREAD_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes


def winner_and_loser(outcomes: list[BaseException | None]) -> tuple[int, OptimisticLockError]:
    """The index of the call that succeeded and the OLE of the one that lost."""
    assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "OptimisticLockError"], (
        outcomes
    )
    winner = outcomes.index(None)
    loser = outcomes[1 - winner]
    assert isinstance(loser, OptimisticLockError)
    return winner, loser


def deploy_fork_into_two_non_exclusive_jobs(engine: Engine, cycle: str | None = None) -> None:
    """start → fork → taskA / taskB (asyncBefore, exclusive=false, ``meet``) → endA / endB."""
    extensions = retry_time_cycle(cycle) if cycle else ""
    deploy(
        engine,
        element("startEvent", "start"),
        element("parallelGateway", "fork"),
        *(
            element("serviceTask", task, camunda__asyncBefore="true",
                    camunda__exclusive="false", camunda__class="meet", extensions=extensions)
            for task in ("taskA", "taskB")
        ),
        element("endEvent", "endA"),
        element("endEvent", "endB"),
        *chain("start", "fork", "taskA", "endA"),
        *chain("fork", "taskB", "endB"),
    )  # fmt: skip


def race_two_jobs(engine: Engine, meet: Rendezvous) -> tuple[str, Job, OptimisticLockError]:
    """Start an instance and run its two jobs concurrently; return (instance, loser, OLE)."""
    instance = engine.start_process_instance_by_key("p")
    jobs = engine.jobs(instance.id)
    assert sorted(j.activity_id for j in jobs) == ["taskA", "taskB"]
    assert not any(j.exclusive for j in jobs)

    outcomes = run_concurrently(*(lambda job=job: engine.execute_job(job.id) for job in jobs))
    meet.disarm()

    winner, error = winner_and_loser(outcomes)
    loser = jobs[1 - winner]
    return instance.id, loser, error


# --- 54, 55: OLE between two jobs of one instance -------------------------------------------


def test_54_ole_between_two_jobs_keeps_the_losers_retries(
    engine: Engine, database_url: str
) -> None:
    """Scenario 54: two jobs of one instance run concurrently; the second to commit gets an OLE.

    Default strategy: the losing job keeps its 3 retries (an OLE uses up none), has the
    exception message, no lock, and its due date is unchanged. Run again, it succeeds.
    """
    skip_on_sqlite(database_url)
    meet = engine.delegates["meet"] = Rendezvous()
    deploy_fork_into_two_non_exclusive_jobs(engine)

    instance_id, loser, error = race_two_jobs(engine, meet)

    assert CONFLICT in str(error)
    (remaining,) = engine.jobs(instance_id)
    assert remaining.id == loser.id
    assert remaining.retries == 3
    assert remaining.exception_message is not None
    assert CONFLICT in remaining.exception_message
    assert (remaining.locked_by, remaining.lock_expires_at) == (None, None)
    assert remaining.due_at is None
    assert engine.incidents() == []
    assert engine.variables(instance_id)["runs"] == 1

    engine.execute_job(loser.id)

    assert engine.process_instance(instance_id).ended
    assert engine.variables(instance_id)["runs"] == 2


def test_55_ole_between_two_jobs_with_a_retry_cycle_keeps_retries_and_sets_a_due_date(
    engine: Engine, database_url: str, clock: ManualClock
) -> None:
    """Scenario 55: as 54 with R5/PT5M: retries stay 5 (no decrement), due date now + 5m."""
    skip_on_sqlite(database_url)
    meet = engine.delegates["meet"] = Rendezvous()
    deploy_fork_into_two_non_exclusive_jobs(engine, "R5/PT5M")

    instance_id, loser, error = race_two_jobs(engine, meet)

    (remaining,) = engine.jobs(instance_id)
    assert remaining.id == loser.id
    assert remaining.retries == 5
    assert remaining.exception_message is not None
    assert CONFLICT in remaining.exception_message
    assert (remaining.locked_by, remaining.lock_expires_at) == (None, None)
    assert remaining.due_at == clock() + timedelta(minutes=5)
    assert engine.execute_available_jobs() == 0  # not due before 10:05

    clock.advance(minutes=5)
    assert engine.execute_available_jobs() == 1
    assert engine.process_instance(instance_id).ended


# --- 56: competing joins through the API ----------------------------------------------------


def test_56_competing_joins_one_wins_the_other_gets_an_ole_and_can_retry(
    engine: Engine, database_url: str
) -> None:
    """Scenario 56: fork → wait1 / wait2 → join; both tasks completed concurrently.

    One completion commits; the other fails with an OLE "...was updated by another
    transaction concurrently". Retrying the loser completes the instance, and the join
    fires exactly once.
    """
    skip_on_sqlite(database_url)
    meet = engine.delegates["meet"] = Rendezvous()
    deploy(
        engine,
        element("startEvent", "start"),
        element("parallelGateway", "fork"),
        element("userTask", "wait1"),
        element("userTask", "wait2"),
        element("parallelGateway", "join"),
        element("manualTask", "afterJoin"),
        element("endEvent", "end"),
        *chain("start", "fork", "wait1"),
        flow("fork", "wait2"),
        flow("wait1", "join", listeners=listener("take", "meet")),
        flow("wait2", "join", listeners=listener("take", "meet")),
        *chain("join", "afterJoin", "end"),
    )
    instance = engine.start_process_instance_by_key("p")
    tasks = engine.tasks(instance.id)
    assert sorted(t.activity_id for t in tasks) == ["wait1", "wait2"]

    outcomes = run_concurrently(
        *(lambda task=task: engine.complete_task(task.id) for task in tasks)
    )
    meet.disarm()

    winner, error = winner_and_loser(outcomes)
    assert CONFLICT in str(error)
    loser_task = tasks[1 - winner]
    assert [t.id for t in engine.tasks(instance.id)] == [loser_task.id]
    assert not engine.process_instance(instance.id).ended

    engine.complete_task(loser_task.id)

    assert engine.process_instance(instance.id).ended
    history = [h.activity_id for h in engine.history(instance.id)]
    assert history.count("afterJoin") == 1
    assert history.count("end") == 1
    assert engine.variables(instance.id)["runs"] == 2


# --- 57: the same job run twice at once -----------------------------------------------------


def test_57_a_job_run_twice_concurrently_commits_exactly_once(
    engine: Engine, database_url: str
) -> None:
    """Scenario 57: a job is re-run while its first run is still going (lock timeout).

    Both runs load the job; one commits, the other gets an OLE and, finding the job
    gone, records nothing. 0 jobs remain and the downstream activity ran once.
    """
    skip_on_sqlite(database_url)
    meet = engine.delegates["meet"] = Rendezvous()
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "task", camunda__asyncBefore="true",
                camunda__exclusive="false", camunda__class="meet"),
        element("manualTask", "after"),
        element("endEvent", "end"),
        *chain("start", "task", "after", "end"),
    )  # fmt: skip
    instance = engine.start_process_instance_by_key("p")
    job = engine.jobs(instance.id)[0]

    outcomes = run_concurrently(lambda: engine.execute_job(job.id),
                                lambda: engine.execute_job(job.id))  # fmt: skip
    meet.disarm()

    winner_and_loser(outcomes)
    assert meet.calls == 2
    assert engine.jobs() == []
    assert engine.incidents() == []
    assert engine.process_instance(instance.id).ended
    history = [h.activity_id for h in engine.history(instance.id)]
    assert history.count("task") == 1
    assert history.count("after") == 1
    assert engine.variables(instance.id)["runs"] == 1
    events = [log.event for log in engine.job_log(job_id=job.id)]
    assert events == [JobLogEvent.CREATED, JobLogEvent.SUCCESSFUL]


# --- 1.11: exclusive jobs -------------------------------------------------------------------


def test_exclusive_jobs_of_one_instance_never_overlap(engine: Engine, database_url: str) -> None:
    """1.11 (embedded): two exclusive jobs of one instance, run from two threads, take turns.

    The second job is started while the first one's delegate is running; it waits for
    the first to commit, then runs, and both succeed (no OLE).
    """
    skip_on_sqlite(database_url)
    spans: dict[str, list[float]] = {}
    first_inside = threading.Event()

    def timed(execution: Any) -> None:
        span = spans.setdefault(execution.activity_id, [time.monotonic()])
        first_inside.set()
        time.sleep(0.3)
        span.append(time.monotonic())

    engine.delegates["timed"] = timed
    deploy(
        engine,
        element("startEvent", "start"),
        element("parallelGateway", "fork"),
        *(
            element("serviceTask", task, camunda__asyncBefore="true", camunda__class="timed")
            for task in ("taskA", "taskB")
        ),
        element("endEvent", "endA"),
        element("endEvent", "endB"),
        *chain("start", "fork", "taskA", "endA"),
        *chain("fork", "taskB", "endB"),
    )
    instance = engine.start_process_instance_by_key("p")
    jobs = {j.activity_id: j for j in engine.jobs(instance.id)}
    assert all(j.exclusive for j in jobs.values())

    def second() -> None:
        assert first_inside.wait(THREAD_TIMEOUT)
        engine.execute_job(jobs["taskB"].id)

    outcomes = run_concurrently(lambda: engine.execute_job(jobs["taskA"].id), second)

    assert outcomes == [None, None]
    (a_start, a_end), (b_start, b_end) = spans["taskA"], spans["taskB"]
    assert a_end <= b_start, f"taskA ran {a_start}-{a_end}, taskB {b_start}-{b_end}"
    assert engine.process_instance(instance.id).ended
    assert engine.jobs() == []


def test_59_exclusive_follow_up_jobs_all_run(engine: Engine) -> None:
    """Scenario 59 (adapted): 3 instances of async task1 → async task2, both exclusive.

    The embedded engine has no acquisition or metrics; what remains is that all 6 jobs,
    the follow-up jobs created by the first ones included, run and succeed in one pass.
    """
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "task1", camunda__asyncBefore="true", camunda__class="record"),
        element("serviceTask", "task2", camunda__asyncBefore="true", camunda__class="record"),
        element("endEvent", "end"),
        *chain("start", "task1", "task2", "end"),
    )
    instances = [engine.start_process_instance_by_key("p") for _ in range(3)]
    assert all(j.exclusive for j in engine.jobs())

    assert engine.execute_available_jobs() == 6

    assert all(engine.process_instance(i.id).ended for i in instances)
    successful = [log for log in engine.job_log() if log.event is JobLogEvent.SUCCESSFUL]
    assert len(successful) == 6
    assert engine.jobs() == []


def test_deleting_a_job_while_it_runs_makes_the_run_fail_with_an_ole(engine: Engine) -> None:
    """1.10 (testCompetingJobExecutionDeleteJobDuringExecution): delete_job during the run.

    The deletion commits first; the running job then fails with an OLE, and because its
    job is gone nothing is recorded: no job, no incident, the token stays at the task.
    (The job is non-exclusive: an exclusive job would hold its instance row, and the
    deletion would wait for the run instead.)
    """
    inside, deleted = threading.Event(), threading.Event()

    def wait_for_delete(execution: Any) -> None:
        inside.set()
        assert deleted.wait(THREAD_TIMEOUT)

    engine.delegates["waitForDelete"] = wait_for_delete
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "task", camunda__asyncBefore="true",
                camunda__exclusive="false", camunda__class="waitForDelete"),
        element("endEvent", "end"),
        *chain("start", "task", "end"),
    )  # fmt: skip
    instance = engine.start_process_instance_by_key("p")
    job = engine.jobs(instance.id)[0]

    def delete_while_running() -> None:
        assert inside.wait(THREAD_TIMEOUT)
        try:
            engine.delete_job(job.id)
        finally:
            deleted.set()

    outcomes = run_concurrently(lambda: engine.execute_job(job.id), delete_while_running)

    assert isinstance(outcomes[0], OptimisticLockError), outcomes
    assert outcomes[1] is None
    assert engine.jobs() == []
    assert engine.incidents() == []
    assert engine.active_activity_ids(instance.id) == ["task"]
    events = [log.event for log in engine.job_log(job_id=job.id)]
    assert events == [JobLogEvent.CREATED, JobLogEvent.DELETED]


def test_exclusive_jobs_of_different_instances_run_in_parallel(engine: Engine) -> None:
    """1.11: exclusiveness is per process instance; other instances' jobs are not held up.

    Two instances' exclusive jobs meet inside their delegates: both are running at the
    same time (the rendezvous would time out otherwise), and both commit.
    """
    meet = engine.delegates["meet"] = Rendezvous()
    deploy(
        engine,
        element("startEvent", "start"),
        element("serviceTask", "task", camunda__asyncBefore="true", camunda__class="meet"),
        element("endEvent", "end"),
        *chain("start", "task", "end"),
    )
    instances = [engine.start_process_instance_by_key("p") for _ in range(2)]
    jobs = [engine.jobs(instance.id)[0] for instance in instances]
    assert all(job.exclusive for job in jobs)

    outcomes = run_concurrently(*(lambda job=job: engine.execute_job(job.id) for job in jobs))

    assert outcomes == [None, None]
    assert meet.calls == 2
    assert all(engine.process_instance(instance.id).ended for instance in instances)
