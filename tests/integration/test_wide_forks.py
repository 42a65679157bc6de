"""Wide forks run to their end one job at a time: joins, fold-back, terminate, sub-processes.

Each branch's job is its own transaction, and a job's run reads its own job alone and
no activity instance (the others when it needs them): the last token at a join, a
branch ending, a terminate end and a sub-process ending must still see and end every
other token, and leave the history complete.
"""

from __future__ import annotations

from bpmn_doc import TERMINATE, definitions, element, flow, process, sub_process

from safepoint import Engine, ManualClock
from safepoint.core.entities import Job

WIDTH = 40
"""Branches of each fork."""
NAMES = [f"b{n}" for n in range(1, WIDTH + 1)]


def _task(name: str) -> str:
    return element("serviceTask", name, camunda__asyncBefore="true", camunda__expression="${1}")


def _fork_into(join: str) -> bytes:
    """start → fork → ``WIDTH`` asyncBefore tasks → ``join`` gateway → end."""
    return definitions(
        process(
            "wide",
            element("startEvent", "start"),
            element("parallelGateway", "fork"),
            *(_task(name) for name in NAMES),
            element(join, "join"),
            element("endEvent", "end"),
            flow("start", "fork"),
            *(flow("fork", name) for name in NAMES),
            *(flow(name, "join") for name in NAMES),
            flow("join", "end"),
        )
    )


def _fork_to_ends(first_end: str = "") -> bytes:
    """start → fork → ``WIDTH`` asyncBefore tasks, each to its own end (b1's: ``first_end``)."""
    return definitions(
        process(
            "wide",
            element("startEvent", "start"),
            element("parallelGateway", "fork"),
            *(_task(name) for name in NAMES),
            *(
                element("endEvent", f"end_{name}", body=first_end if name == "b1" else "")
                for name in NAMES
            ),
            flow("start", "fork"),
            *(flow("fork", name) for name in NAMES),
            *(flow(name, f"end_{name}") for name in NAMES),
        )
    )


def _fork_of_sub_processes() -> bytes:
    """start → fork → ``WIDTH`` sub-processes (an asyncBefore task inside) → one end each."""
    branches = [
        sub_process(
            f"sub_{name}",
            element("startEvent", f"s_{name}"),
            _task(f"t_{name}"),
            element("endEvent", f"e_{name}"),
            flow(f"s_{name}", f"t_{name}"),
            flow(f"t_{name}", f"e_{name}"),
        )
        for name in NAMES
    ]
    return definitions(
        process(
            "wide",
            element("startEvent", "start"),
            element("parallelGateway", "fork"),
            *branches,
            *(element("endEvent", f"end_{name}") for name in NAMES),
            flow("start", "fork"),
            *(flow("fork", f"sub_{name}") for name in NAMES),
            *(flow(f"sub_{name}", f"end_{name}") for name in NAMES),
        )
    )


def _run(engine: Engine, job: Job) -> None:
    engine.execute_job(job.id, process_instance_id=job.process_instance_id, exclusive=True)


def _start(engine: Engine, model: bytes) -> tuple[str, dict[str, Job]]:
    engine.deploy("wide", {"wide.bpmn": model})
    instance = engine.start_process_instance_by_key("wide")
    jobs = {job.activity_id: job for job in engine.jobs(instance.id)}
    assert len(jobs) == WIDTH
    return instance.id, jobs


def _all_ended(engine: Engine, instance_id: str) -> None:
    assert engine.process_instance(instance_id).ended
    assert engine.jobs(instance_id) == []
    assert [h for h in engine.history(instance_id) if h.ended_at is None] == []


def test_a_parallel_join_of_a_wide_fork_fires_at_the_last_token(
    database_url: str, clock: ManualClock
) -> None:
    with Engine(database_url, clock=clock) as engine:
        instance_id, jobs = _start(engine, _fork_into("parallelGateway"))
        for name in NAMES[:-1]:
            _run(engine, jobs[name])
        waiting = [h for h in engine.history(instance_id) if h.activity_id == "join"]
        assert len(waiting) == WIDTH - 1

        _run(engine, jobs[NAMES[-1]])

        _all_ended(engine, instance_id)
        joins = [h for h in engine.history(instance_id) if h.activity_id == "join"]
        assert len(joins) == WIDTH
        assert [h.activity_id for h in engine.history(instance_id)][-1] == "end"


def test_an_inclusive_join_of_a_wide_fork_fires_once_every_token_is_there(
    database_url: str, clock: ManualClock
) -> None:
    with Engine(database_url, clock=clock) as engine:
        instance_id, jobs = _start(engine, _fork_into("inclusiveGateway"))
        for name in NAMES[:-1]:
            _run(engine, jobs[name])
        assert not engine.process_instance(instance_id).ended

        _run(engine, jobs[NAMES[-1]])

        _all_ended(engine, instance_id)
        assert sum(h.activity_id == "end" for h in engine.history(instance_id)) == 1


def test_branches_ending_one_by_one_fold_the_fork_back_at_the_last(
    database_url: str, clock: ManualClock
) -> None:
    with Engine(database_url, clock=clock) as engine:
        instance_id, jobs = _start(engine, _fork_to_ends())
        for name in NAMES[:-1]:
            _run(engine, jobs[name])
        (last,) = engine.jobs(instance_id)
        assert last.activity_id == NAMES[-1]
        assert last.execution_id == instance_id  # folded back into the scope execution

        _run(engine, last)

        _all_ended(engine, instance_id)


def test_a_terminate_end_in_a_wide_fork_ends_every_other_branch(
    database_url: str, clock: ManualClock
) -> None:
    with Engine(database_url, clock=clock) as engine:
        instance_id, jobs = _start(engine, _fork_to_ends(TERMINATE))
        _run(engine, jobs["b2"])

        _run(engine, jobs["b1"])

        _all_ended(engine, instance_id)
        deleted = [e for e in engine.job_log(instance_id) if e.event == "deleted"]
        assert len(deleted) == WIDTH - 2


def test_sub_processes_of_a_wide_fork_end_one_by_one(database_url: str, clock: ManualClock) -> None:
    with Engine(database_url, clock=clock) as engine:
        engine.deploy("wide", {"wide.bpmn": _fork_of_sub_processes()})
        instance_id = engine.start_process_instance_by_key("wide").id
        jobs = engine.jobs(instance_id)
        assert len(jobs) == WIDTH
        for job in jobs:
            _run(engine, job)

        _all_ended(engine, instance_id)
        ended = [h.activity_id for h in engine.history(instance_id)]
        assert sorted(a for a in ended if a.startswith("sub_")) == sorted(
            f"sub_{name}" for name in NAMES
        )
