"""A job's run reads its own job only, and no activity instance; the others when needed.

A fork of many branches has as many jobs, and as many tokens waiting at its join, each
with an open activity instance; a branch's job that read them all would cost more the
wider the fork. These runs need the others (the terminate end event deletes the jobs;
the fork folding back into its scope execution moves them; the join ends the waiting
tokens' activity instances), and must treat them as they would have had they been
read at first.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from bpmn_doc import TERMINATE, definitions, element, flow, process, sub_process
from sqlalchemy import event

from safepoint import Engine, ManualClock, OptimisticLockError
from safepoint.core.entities import Job
from safepoint.embedded import CommandOutcome
from safepoint.persistence import instances


def _fork(first_end: str) -> bytes:
    """start → fork → a (asyncBefore) → ``first_end``; b, c (asyncBefore) → plain ends."""
    return definitions(
        process(
            "forking",
            element("startEvent", "start"),
            element("parallelGateway", "fork"),
            element("serviceTask", "a", camunda__asyncBefore="true", camunda__expression="${1}"),
            element("serviceTask", "b", camunda__asyncBefore="true", camunda__expression="${1}"),
            element("serviceTask", "c", camunda__asyncBefore="true", camunda__expression="${1}"),
            element("endEvent", "end_a", body=first_end),
            element("endEvent", "end_b"),
            element("endEvent", "end_c"),
            flow("start", "fork"),
            flow("fork", "a"),
            flow("fork", "b"),
            flow("fork", "c"),
            flow("a", "end_a"),
            flow("b", "end_b"),
            flow("c", "end_c"),
        )
    )


@pytest.fixture
def outcomes() -> list[CommandOutcome]:
    return []


@pytest.fixture
def forking(database_url: str, clock: ManualClock, outcomes: list[CommandOutcome]) -> Engine:
    return Engine(
        database_url, clock=clock, on_commit=outcomes.append, job_lease=timedelta(seconds=30)
    )


def _run(engine: Engine, job: Job) -> None:
    engine.execute_job(job.id, process_instance_id=job.process_instance_id, exclusive=True)


def _job_at(engine: Engine, instance_id: str, activity_id: str) -> Job:
    (job,) = [job for job in engine.jobs(instance_id) if job.activity_id == activity_id]
    return job


def test_a_terminate_end_deletes_the_jobs_it_did_not_read_at_first(
    forking: Engine, outcomes: list[CommandOutcome]
) -> None:
    with forking:
        forking.deploy("fork", {"fork.bpmn": _fork(TERMINATE)})
        instance = forking.start_process_instance_by_key("forking")
        assert len(forking.jobs(instance.id)) == 3
        outcomes.clear()

        _run(forking, _job_at(forking, instance.id, "a"))

        assert forking.process_instance(instance.id).ended
        assert forking.jobs(instance.id) == []
        (outcome,) = outcomes
        assert outcome.jobs == ()  # nothing new to publish
        deleted = [e for e in forking.job_log(instance.id) if e.event == "deleted"]
        assert sorted(entry.activity_id for entry in deleted) == ["b", "c"]


def test_jobs_read_late_keep_their_order_and_are_not_published_again(
    forking: Engine, outcomes: list[CommandOutcome]
) -> None:
    with forking:
        forking.deploy("fork", {"fork.bpmn": _fork("")})
        instance = forking.start_process_instance_by_key("forking")
        outcomes.clear()

        _run(forking, _job_at(forking, instance.id, "a"))
        _run(forking, _job_at(forking, instance.id, "b"))
        # Only c's branch is left: the fork folds back into the scope execution, and
        # c's job (read late) now belongs to it.
        (job,) = forking.jobs(instance.id)
        assert job.activity_id == "c"
        assert job.execution_id == instance.id
        assert all(outcome.jobs == () for outcome in outcomes)

        _run(forking, job)

        assert forking.process_instance(instance.id).ended
        assert forking.jobs(instance.id) == []


def _fork_join() -> bytes:
    """start → fork → a, b, c (asyncBefore) → join → end."""
    return definitions(
        process(
            "joining",
            element("startEvent", "start"),
            element("parallelGateway", "fork"),
            *(
                element(
                    "serviceTask", name, camunda__asyncBefore="true", camunda__expression="${1}"
                )
                for name in ("a", "b", "c")
            ),
            element("parallelGateway", "join"),
            element("endEvent", "end"),
            flow("start", "fork"),
            *(flow("fork", name) for name in ("a", "b", "c")),
            *(flow(name, "join") for name in ("a", "b", "c")),
            flow("join", "end"),
        )
    )


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str] | None]]:
    """Every late read of a job's run: the collection, and the ids asked for (None: all)."""
    seen: list[tuple[str, list[str] | None]] = []
    load_others = instances._load_others

    def recording(connection: Any, snapshot: Any, collection: Any, entity_ids: Any = None) -> Any:
        asked = None if entity_ids is None else list(entity_ids)
        seen.append((collection.attribute, asked))
        return load_others(connection, snapshot, collection, asked)

    monkeypatch.setattr(instances, "_load_others", recording)
    return seen


def test_the_join_ends_the_waiting_tokens_activity_instances_it_did_not_read_at_first(
    forking: Engine, reads: list[tuple[str, list[str] | None]]
) -> None:
    with forking:
        forking.deploy("joining", {"joining.bpmn": _fork_join()})
        instance = forking.start_process_instance_by_key("joining")
        for name in ("a", "b"):
            _run(forking, _job_at(forking, instance.id, name))
        waiting = [h for h in forking.history(instance.id) if h.activity_id == "join"]
        assert len(waiting) == 2
        assert all(h.ended_at is None for h in waiting)
        reads.clear()

        _run(forking, _job_at(forking, instance.id, "c"))

        # The two waiting tokens' activity instances are read together, in one read (the
        # fork folding back then reads whatever is left of them all).
        assert [(name, sorted(ids)) for name, ids in reads if ids is not None] == [
            ("activity_instances", sorted(h.id for h in waiting))
        ]

        assert forking.process_instance(instance.id).ended
        history = forking.history(instance.id)
        assert [h.activity_id for h in history if h.activity_id == "join"] == ["join"] * 3
        assert [h for h in history if h.ended_at is None] == []


def test_many_activity_instances_are_read_in_parts_of_at_most_ids_per_read(
    forking: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(instances, "IDS_PER_READ", 1)  # one bound id per statement
    with forking:
        forking.deploy("joining", {"joining.bpmn": _fork_join()})
        instance = forking.start_process_instance_by_key("joining")
        for name in ("a", "b", "c"):
            _run(forking, _job_at(forking, instance.id, name))

        assert forking.process_instance(instance.id).ended
        joins = [h for h in forking.history(instance.id) if h.activity_id == "join"]
        assert len(joins) == 3 and all(h.ended_at is not None for h in joins)


def test_a_terminate_end_reads_the_cancelled_branches_activity_instances_together(
    forking: Engine, reads: list[tuple[str, list[str] | None]]
) -> None:
    model = definitions(
        process(
            "terminating",
            element("startEvent", "start"),
            element("parallelGateway", "fork"),
            element("serviceTask", "a", camunda__asyncBefore="true", camunda__expression="${1}"),
            element("userTask", "b"),
            element("userTask", "c"),
            element("endEvent", "end_a", body=TERMINATE),
            element("endEvent", "end_b"),
            element("endEvent", "end_c"),
            flow("start", "fork"),
            *(flow("fork", name) for name in ("a", "b", "c")),
            *(flow(name, f"end_{name}") for name in ("a", "b", "c")),
        )
    )
    with forking:
        forking.deploy("terminating", {"terminating.bpmn": model})
        instance = forking.start_process_instance_by_key("terminating")
        tasks = [h for h in forking.history(instance.id) if h.activity_id in ("b", "c")]
        assert len(tasks) == 2
        reads.clear()

        _run(forking, _job_at(forking, instance.id, "a"))

        assert forking.process_instance(instance.id).ended
        assert [(name, sorted(ids)) for name, ids in reads if ids is not None] == [
            ("activity_instances", sorted(h.id for h in tasks))
        ]
        cancelled = [h for h in forking.history(instance.id) if h.activity_id in ("b", "c")]
        assert all(h.canceled and h.ended_at is not None for h in cancelled)


def _fork_of_sub_processes() -> bytes:
    """start → fork → sub_a, sub_b, sub_c (each: an asyncBefore task inside) → plain ends."""
    branches = []
    for name in ("a", "b", "c"):
        branches.append(
            sub_process(
                f"sub_{name}",
                element("startEvent", f"s_{name}"),
                element(
                    "serviceTask",
                    f"t_{name}",
                    camunda__asyncBefore="true",
                    camunda__expression="${1}",
                ),
                element("endEvent", f"e_{name}"),
                flow(f"s_{name}", f"t_{name}"),
                flow(f"t_{name}", f"e_{name}"),
            )
        )
    return definitions(
        process(
            "subs",
            element("startEvent", "start"),
            element("parallelGateway", "fork"),
            *branches,
            *(element("endEvent", f"end_{name}") for name in ("a", "b", "c")),
            flow("start", "fork"),
            *(flow("fork", f"sub_{name}") for name in ("a", "b", "c")),
            *(flow(f"sub_{name}", f"end_{name}") for name in ("a", "b", "c")),
        )
    )


def test_a_sub_process_ending_reads_its_own_activity_instance_alone(
    forking: Engine, reads: list[tuple[str, list[str] | None]]
) -> None:
    with forking:
        forking.deploy("subs", {"subs.bpmn": _fork_of_sub_processes()})
        instance = forking.start_process_instance_by_key("subs")
        sub_a = next(h for h in forking.history(instance.id) if h.activity_id == "sub_a")

        _run(forking, _job_at(forking, instance.id, "t_a"))

        # Two branches go on: no fold-back, and of the open activity instances only the
        # sub-process's own is read, to end it.
        assert reads == [("activity_instances", [sub_a.id])]
        ended = {h.activity_id for h in forking.history(instance.id) if h.ended_at is not None}
        assert {"t_a", "e_a", "sub_a", "end_a"} <= ended
        assert "sub_b" not in ended
        for name in ("t_b", "t_c"):
            _run(forking, _job_at(forking, instance.id, name))
        assert forking.process_instance(instance.id).ended
        assert [h for h in forking.history(instance.id) if h.ended_at is None] == []


def test_jobs_read_late_after_a_concurrent_commit_cannot_be_saved(
    database_url: str, clock: ManualClock
) -> None:
    # A non-exclusive job does not lock its instance: another branch's job can commit
    # between its load and the late read of the other jobs, which then sees rows newer
    # than the rest of its state. The instance row's revision refuses such a save.
    if "sqlite" in database_url:
        pytest.skip("SQLite serialises writers: no commit can come in between")
    with Engine(database_url, clock=clock) as engine:
        engine.deploy("fork", {"fork.bpmn": _fork("")})
        instance = engine.start_process_instance_by_key("forking")
        job_a = _job_at(engine, instance.id, "a")
        job_b = _job_at(engine, instance.id, "b")
        with engine.store.unit_of_work() as uow:
            state = uow.load_instance(instance.id, lock=False, only_job=job_a.id)
            assert state is not None and list(state.jobs) == [job_a.id]

            engine.execute_job(job_b.id, process_instance_id=instance.id, exclusive=False)
            read_late = state.all_jobs()

            assert job_b.id not in read_late  # the concurrent run deleted it
            with pytest.raises(OptimisticLockError):
                uow.save_instance(state)
        assert {job.activity_id for job in engine.jobs(instance.id)} == {"a", "c"}


def test_a_token_arriving_at_a_wide_join_reads_no_other_execution_until_the_last(
    database_url: str,
    clock: ManualClock,
    reads: list[tuple[str, list[str] | None]],
) -> None:
    width = instances.WHOLE_UP_TO + 4
    names = [f"b{n}" for n in range(width)]
    model = definitions(
        process(
            "wide",
            element("startEvent", "start"),
            element("parallelGateway", "fork"),
            *(
                element("serviceTask", n, camunda__asyncBefore="true", camunda__expression="${1}")
                for n in names
            ),
            element("parallelGateway", "join"),
            element("endEvent", "end"),
            flow("start", "fork"),
            *(flow("fork", n) for n in names),
            *(flow(n, "join") for n in names),
            flow("join", "end"),
        )
    )
    statements: list[str] = []
    with Engine(database_url, clock=clock) as engine:
        engine.deploy("wide", {"wide.bpmn": model})
        instance = engine.start_process_instance_by_key("wide")
        jobs = {job.activity_id: job for job in engine.jobs(instance.id)}
        event.listen(
            engine.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2])
        )
        for name in names[:-1]:
            reads.clear()
            statements.clear()
            _run(engine, jobs[name])
            assert reads == []
            if "postgresql" in database_url:
                # the load, the read of the job's path of executions (with the count of
                # the tokens at the join) and the save: no count of its own
                assert len(statements) == 3, statements

        reads.clear()
        _run(engine, jobs[names[-1]])

        assert ("executions", None) in reads
        assert engine.process_instance(instance.id).ended
        history = engine.history(instance.id)
        assert [h.activity_id for h in history].count("join") == width
        assert [h for h in history if h.ended_at is None] == []
