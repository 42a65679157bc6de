"""A job's run on a wide instance reads the executions of its job's path only.

The instance built here is a fork of 20 tokens in the process scope: 5 wait at a join,
the others are at a task, and the 8th carries a sub-process whose own 2 tokens wait at
its inner join. A job's run reads its execution and those above it; the rest are read
when the run needs them, and the tokens waiting at a join are counted without being read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, text

from safepoint.core.entities import Execution
from safepoint.core.state import InstanceState
from safepoint.persistence import instances, postgresql
from safepoint.persistence.store import Store

NewState = Callable[..., InstanceState]
PID = "pi-1"


def _token(n: int, **fields: object) -> Execution:
    values: dict[str, object] = {
        "id": f"c{n:02}",
        "process_instance_id": PID,
        "parent_id": PID,
        "activity_id": "task",
        "is_concurrent": True,
        "ordinal": n,
    }
    return Execution(**(values | fields))  # type: ignore[arg-type]


def _wide(new_state: NewState) -> InstanceState:
    state = new_state(PID)
    root = replace(state.executions[PID], activity_id=None, activity_instance_id=None)
    root.is_active = False
    executions = [root]
    executions += [_token(n, activity_id="join", is_active=False) for n in range(1, 6)]
    executions += [_token(n) for n in range(6, 21)]
    executions += [
        Execution(
            id="s08",
            process_instance_id=PID,
            parent_id="c08",
            scope_activity_id="sub",
            scope_instance_id="sub:ai",
            is_scope=True,
            is_active=False,
            ordinal=21,
        ),
        *(
            _token(n, id=f"s08{name}", parent_id="s08", activity_id="inner_join", is_active=False)
            for n, name in ((22, "a"), (23, "b"))
        ),
        _token(24, id="s08c", parent_id="s08", activity_id="inner_task"),
    ]
    state.executions = {e.id: e for e in executions}
    job = next(iter(state.jobs.values()))
    state.jobs = {
        f"job-{e.id}": replace(job, id=f"job-{e.id}", execution_id=e.id)
        for e in executions
        if e.id in ("c07", "s08c")
    }
    state.instance.next_ordinal = 24
    return state


@pytest.fixture
def wide(store: Store, new_state: NewState) -> InstanceState:
    state = _wide(new_state)
    with store.unit_of_work() as uow:
        uow.insert_instance(state)
    return state


def _job_run(uow: object, job_id: str) -> InstanceState:
    state = uow.load_instance(PID, lock=True, only_job=job_id)  # type: ignore[attr-defined]
    assert state is not None
    return state  # type: ignore[no-any-return]


def test_a_job_of_a_wide_instance_reads_the_executions_of_its_path(
    store: Store, wide: InstanceState
) -> None:
    with store.unit_of_work() as uow:
        state = _job_run(uow, "job-s08c")

        assert list(state.executions) == [PID, "c08", "s08", "s08c"]
        assert "executions" in state.load_others
        assert list(state.all_executions()) == list(wide.executions)  # a whole load's order
        assert state.all_executions() == wide.executions
        assert "executions" not in state.load_others


def test_an_execution_not_read_is_read_when_asked_for(store: Store, wide: InstanceState) -> None:
    with store.unit_of_work() as uow:
        state = _job_run(uow, "job-c07")

        assert list(state.executions) == [PID, "c07"]
        assert state.execution("s08a") == wide.executions["s08a"]
        assert state.find_execution("nothing") is None
        with pytest.raises(KeyError):
            state.execution("nothing")


def test_an_instance_with_few_executions_is_read_whole(
    store: Store, wide: InstanceState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(instances, "WHOLE_UP_TO", len(wide.executions))
    with store.unit_of_work() as uow:
        state = _job_run(uow, "job-c07")

        assert state.executions == wide.executions
        assert "executions" not in state.load_others


def test_the_tokens_waiting_beside_the_jobs_are_counted_at_load(
    store: Store, wide: InstanceState, statements: list[str]
) -> None:
    with store.unit_of_work() as uow:
        state = _job_run(uow, "job-c07")
        statements.clear()

        assert state.waiting_at(PID, "join") == 5
        assert state.waiting_at(PID, "task") == 0  # active: not waiting
        assert statements == []  # counted by the load
        state.executions["c07"].activity_id = "join"
        state.executions["c07"].is_active = False
        assert state.waiting_at(PID, "join") == 6  # the job's own token, as it is now
        assert statements == []


def test_tokens_waiting_in_another_scope_are_counted_by_a_query(
    store: Store, wide: InstanceState, statements: list[str]
) -> None:
    with store.unit_of_work() as uow:
        state = _job_run(uow, "job-c07")
        statements.clear()

        assert state.waiting_at("s08", "inner_join") == 2
        assert len(statements) == 1
        assert "executions" in state.load_others  # counted, not read


def test_tokens_in_a_scope_the_command_created_are_counted_in_memory(
    store: Store, wide: InstanceState, statements: list[str]
) -> None:
    with store.unit_of_work() as uow:
        state = _job_run(uow, "job-c07")
        scope = Execution(id="new", process_instance_id=PID, parent_id="c07", is_scope=True)
        state.executions[scope.id] = scope
        statements.clear()

        assert state.waiting_at("new", "inner_join") == 0
        assert statements == []


def test_once_every_execution_is_read_they_are_counted_in_memory(
    store: Store, wide: InstanceState, statements: list[str]
) -> None:
    with store.unit_of_work() as uow:
        state = _job_run(uow, "job-s08c")
        state.all_executions()
        state.executions["c01"].is_active = True
        statements.clear()

        assert state.waiting_at(PID, "join") == 4
        assert state.waiting_at("s08", "inner_join") == 2
        assert statements == []


def test_a_job_run_saves_what_it_changed_and_deletes_only_what_it_removed(
    store: Store, wide: InstanceState
) -> None:
    with store.unit_of_work() as uow:
        state = _job_run(uow, "job-s08c")
        state.executions["s08c"].activity_id = "inner_join"
        state.executions["s08c"].is_active = False
        new = Execution(id="c25", process_instance_id=PID, parent_id=PID, ordinal=25)
        state.executions[new.id] = new
        uow.save_instance(state)

    with store.unit_of_work() as uow:
        loaded = uow.load_instance(PID)
        assert loaded is not None
        expected = dict(wide.executions)
        expected["s08c"] = replace(expected["s08c"], activity_id="inner_join", is_active=False)
        expected["c25"] = new
        assert loaded.executions == expected


def test_a_job_run_that_waits_for_a_wide_instance_reads_its_path_once_it_holds_the_lock(
    store: Store, wide: InstanceState, database_url: str
) -> None:
    """A wide fork's jobs contend for their instance across job-executors.

    The one that finds the instance locked learns, as it waits for the lock, that the
    instance has many executions: once it holds the lock, it reads the path at once.
    """
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks")
    holder = store.engine.connect()
    holder.begin()
    holder.execute(text("SELECT 1 FROM process_instances WHERE id = :id FOR UPDATE"), {"id": PID})
    statements: list[str] = []

    def release(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)
        if statement == postgresql._LOCK_COUNTING and holder.in_transaction():
            holder.commit()  # the run waits for the lock now: let the holder go

    event.listen(store.engine, "before_cursor_execute", release)
    try:
        with store.unit_of_work() as uow:
            state = _job_run(uow, "job-c07")
            assert list(state.executions) == [PID, "c07"]
            assert state.waiting_at(PID, "join") == 5
    finally:
        event.remove(store.engine, "before_cursor_execute", release)
        holder.close()

    assert statements == [
        postgresql._LOAD_LOCKED["job"],  # locked elsewhere: nothing read
        postgresql._LOCK_COUNTING,
        postgresql._LOAD["job's path"],
    ]


def test_an_unlocked_job_run_reads_again_when_a_commit_comes_between_its_two_reads(
    store: Store, wide: InstanceState, database_url: str
) -> None:
    """A non-exclusive job's load holds no lock: the path it reads second must be of the
    same instance revision as what it read first, or it reads everything again at once."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: no commit can come in between")
    statements: list[str] = []

    def commit_in_between(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE"):
            return  # the other transaction's
        statements.append(statement)
        if statement == postgresql._PATH:
            with store.engine.begin() as other:
                other.execute(
                    text("UPDATE process_instances SET revision = revision + 1 WHERE id = :id"),
                    {"id": PID},
                )

    event.listen(store.engine, "before_cursor_execute", commit_in_between)
    try:
        with store.unit_of_work() as uow:
            state = uow.load_instance(PID, lock=False, only_job="job-c07")
            assert state is not None
            assert list(state.executions) == [PID, "c07"]
            assert state.instance.revision == wide.instance.revision + 1
    finally:
        event.remove(store.engine, "before_cursor_execute", commit_in_between)

    assert statements == [
        postgresql._LOAD["job"],
        postgresql._PATH,  # of another revision than the first read's
        postgresql._LOAD["job's path"],
    ]
