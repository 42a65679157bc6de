from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sql_writes import writes

from safepoint.core.entities import (
    Execution,
    Job,
    JobLog,
    JobLogEvent,
    ProcessInstanceState,
)
from safepoint.core.state import InstanceState
from safepoint.persistence.store import Store

NewState = Callable[..., InstanceState]


def test_a_full_state_comes_back_equal_after_a_commit(store: Store, new_state: NewState) -> None:
    state = new_state("pi-1")
    with store.unit_of_work() as uow:
        uow.insert_instance(state)

    with store.unit_of_work() as uow:
        loaded = uow.load_instance("pi-1")

    assert loaded is not None
    assert loaded.instance == state.instance
    assert loaded.executions == state.executions
    assert loaded.variables == state.variables
    assert loaded.jobs == state.jobs
    assert loaded.tasks == state.tasks
    assert loaded.external_tasks == state.external_tasks
    assert loaded.subscriptions == state.subscriptions
    assert loaded.incidents == state.incidents
    assert loaded.activity_instances == state.activity_instances
    assert loaded.job_logs == []
    job = next(iter(loaded.jobs.values()))
    assert job.created_at.tzinfo is UTC and job.due_at is not None and job.due_at.tzinfo is UTC
    assert loaded.instance.state is ProcessInstanceState.ACTIVE
    assert next(iter(loaded.tasks.values())).candidate_groups == ("accounting", "management")
    with store.unit_of_work() as uow:
        assert uow.job_logs("pi-1") == state.job_logs
        assert uow.load_instance("unknown") is None


def test_datetimes_in_other_zones_come_back_as_the_same_instant_in_utc(
    store: Store, new_state: NewState
) -> None:
    state = new_state("pi-1")
    plus_two = datetime(2026, 11, 24, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    state.instance.started_at = plus_two
    with store.unit_of_work() as uow:
        uow.insert_instance(state)

    with store.unit_of_work() as uow:
        loaded = uow.process_instance("pi-1")

    assert loaded is not None
    assert loaded.started_at == plus_two
    assert loaded.started_at.utcoffset() == timedelta(0)


def test_saving_an_unchanged_state_only_bumps_the_revision(
    store: Store, new_state: NewState, statements: list[str]
) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with store.unit_of_work() as uow:
        state = uow.load_instance("pi-1")
        assert state is not None
        statements.clear()
        uow.save_instance(state)
        assert len(statements) == 1
        sql = " ".join(statements[0].upper().split())
        # SQLite: a plain UPDATE; PostgreSQL: the same UPDATE as the one CTE of its write
        assert "UPDATE PROCESS_INSTANCES" in sql
        assert "INSERT INTO" not in sql and "DELETE FROM" not in sql
        assert state.instance.revision == 2

    with store.unit_of_work() as uow:
        reloaded = uow.process_instance("pi-1")
        assert reloaded is not None and reloaded.revision == 2


def test_an_added_instance_is_inserted_whole_by_its_first_save(
    store: Store, new_state: NewState, statements: list[str]
) -> None:
    state = new_state("pi-1")
    with store.unit_of_work() as uow:
        uow.add_instance(state)
        assert statements == []  # nothing written yet
        state.instance.business_key = "order-7"  # what the start did meanwhile
        uow.save_instance(state)
        assert state.instance.revision == 0

    assert [verb for verb, _ in writes(statements)] == ["INSERT"] * len(writes(statements))
    assert ("INSERT", "process_instances") in writes(statements)
    if store.engine.dialect.name == "postgresql":
        assert len(statements) == 1  # SQLite: one per table
    with store.unit_of_work() as uow:
        loaded = uow.load_instance("pi-1")
    assert loaded is not None
    assert loaded.instance == state.instance
    assert loaded.executions == state.executions
    assert loaded.jobs == state.jobs
    assert loaded.variables == state.variables


def test_an_added_instance_never_saved_is_not_written(store: Store, new_state: NewState) -> None:
    with store.unit_of_work() as uow:
        uow.add_instance(new_state("pi-1"))

    with store.unit_of_work() as uow:
        assert uow.process_instance("pi-1") is None


def test_changing_one_job_writes_one_update_for_it(
    store: Store, new_state: NewState, statements: list[str]
) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with store.unit_of_work() as uow:
        state = uow.load_instance("pi-1")
        assert state is not None
        job = state.jobs["pi-1-job-1"]
        job.retries = 2
        job.exception_message = "boom"
        job.trace_context["tracestate"] = "vendor=1"  # a change inside a dict counts too
        statements.clear()
        uow.save_instance(state)

    assert writes(statements) == [("UPDATE", "process_instances"), ("UPDATE", "jobs")]
    # PostgreSQL writes a save as one statement (a CTE per table), SQLite one per table
    assert len(statements) == (1 if store.engine.dialect.name == "postgresql" else 2)
    with store.unit_of_work() as uow:
        stored = uow.job("pi-1-job-1")
    assert stored is not None
    assert (stored.retries, stored.exception_message) == (2, "boom")
    assert stored.trace_context["tracestate"] == "vendor=1"


def test_entities_missing_from_the_state_are_deleted_but_history_is_kept(
    store: Store, new_state: NewState
) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with store.unit_of_work() as uow:
        state = uow.load_instance("pi-1")
        assert state is not None
        del state.executions["pi-1-ex-2"]
        state.jobs.clear()
        state.tasks.clear()
        state.external_tasks.clear()
        state.subscriptions.clear()
        state.incidents.clear()
        state.activity_instances.clear()
        del state.variables["review:ai-1"]
        del state.variables["pi-1"]["items"]
        uow.save_instance(state)

    with store.unit_of_work() as uow:
        loaded = uow.load_instance("pi-1")
        assert loaded is not None
        assert list(loaded.executions) == ["pi-1"]
        assert (loaded.jobs, loaded.tasks, loaded.external_tasks, loaded.subscriptions) == (
            {},
            {},
            {},
            {},
        )
        assert loaded.variables == {"pi-1": {"amount": 10, "approved": True, "customer": "Ann"}}
        assert [i.id for i in loaded.incidents.values()] == ["pi-1-inc-1"]
        assert [a.id for a in loaded.activity_instances.values()] == ["review:ai-1"]


def test_new_entities_are_inserted_and_ended_history_leaves_the_runtime_state(
    store: Store, new_state: NewState
) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))
    later = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    with store.unit_of_work() as uow:
        state = uow.load_instance("pi-1")
        assert state is not None
        state.activity_instances["review:ai-1"].ended_at = later
        state.incidents["pi-1-inc-1"].resolved_at = later
        state.executions["pi-1-ex-3"] = Execution("pi-1-ex-3", "pi-1", "pi-1", "archive", ordinal=2)
        new_job = replace(state.jobs["pi-1-job-1"], id="pi-1-job-2", activity_id="archive")
        state.jobs[new_job.id] = new_job
        state.instance.state = ProcessInstanceState.COMPLETED
        state.instance.ended_at = later
        uow.save_instance(state)

    with store.unit_of_work() as uow:
        loaded = uow.load_instance("pi-1")
        assert loaded is not None
        assert loaded.instance.state is ProcessInstanceState.COMPLETED
        assert loaded.instance.ended_at == later
        assert list(loaded.executions) == ["pi-1", "pi-1-ex-2", "pi-1-ex-3"]
        assert loaded.jobs["pi-1-job-2"] == new_job
        assert loaded.incidents == {} and loaded.activity_instances == {}
        history = uow.historic_activity_instances("pi-1")
        assert [(a.id, a.ended_at) for a in history] == [("review:ai-1", later)]
        assert [i.resolved_at for i in uow.incidents("pi-1", open_only=False)] == [later]


def test_job_logs_are_appended_once_even_over_several_saves(
    store: Store, new_state: NewState
) -> None:
    with store.unit_of_work() as uow:
        state = new_state("pi-1")
        uow.insert_instance(state)
        uow.save_instance(state)  # the inserted entry is not written again

    def log(number: int, event: JobLogEvent) -> JobLog:
        return JobLog(
            id=f"log-{number}",
            process_instance_id="pi-1",
            job_id="pi-1-job-1",
            activity_id="send",
            configuration="transition-create-scope",
            event=event,
            timestamp=datetime(2026, 11, 24, 10, number, tzinfo=UTC),
            ordinal=10 + number,
            retries=3,
            exception_message="boom" if event is JobLogEvent.FAILED else None,
        )

    with store.unit_of_work() as uow:
        loaded = uow.load_instance("pi-1")
        assert loaded is not None
        loaded.job_logs.append(log(1, JobLogEvent.FAILED))
        uow.save_instance(loaded)
        loaded.job_logs.append(log(2, JobLogEvent.SUCCESSFUL))
        uow.save_instance(loaded)
        assert loaded.instance.revision == 4

    with store.unit_of_work() as uow:
        logs = uow.job_logs(job_id="pi-1-job-1")
    assert [(entry.id, entry.event) for entry in logs] == [
        ("pi-1-log-1", JobLogEvent.CREATED),
        ("log-1", JobLogEvent.FAILED),
        ("log-2", JobLogEvent.SUCCESSFUL),
    ]
    assert logs[1] == log(1, JobLogEvent.FAILED)


def test_a_state_not_loaded_in_this_unit_of_work_is_refused(
    store: Store, new_state: NewState
) -> None:
    with store.unit_of_work() as uow:
        state = new_state("pi-1")
        uow.insert_instance(state)

    with pytest.raises(ValueError, match="not loaded or inserted"), store.unit_of_work() as uow:
        uow.save_instance(state)


def test_a_naive_datetime_is_refused(store: Store, new_state: NewState) -> None:
    state = new_state("pi-1")
    state.jobs["pi-1-job-1"] = replace(
        state.jobs["pi-1-job-1"], due_at=datetime(2026, 11, 24, 10, 0)
    )

    with pytest.raises(ValueError, match="naive datetime"), store.unit_of_work() as uow:
        uow.insert_instance(state)

    with store.unit_of_work() as uow:
        assert uow.process_instance("pi-1") is None


def test_jobs_are_equal_to_what_was_stored_field_by_field(
    store: Store, new_state: NewState
) -> None:
    state = new_state("pi-1")
    job: Job = state.jobs["pi-1-job-1"]
    job.locked_by = "executor-1"
    job.lock_expires_at = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)
    job.exclusive = False
    job.priority = 7
    job.exception_stacktrace = "Traceback ...\n  ValueError"
    job.failed_activity_id = "send"
    with store.unit_of_work() as uow:
        uow.insert_instance(state)

    with store.unit_of_work() as uow:
        assert uow.job("pi-1-job-1") == job
        assert uow.job("missing") is None
