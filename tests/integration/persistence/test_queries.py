from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Protocol

import pytest
import sqlalchemy as sa

from safepoint.core.entities import EventSubscription, ProcessInstanceState
from safepoint.core.state import InstanceState
from safepoint.errors import BadUserRequest, OptimisticLockError
from safepoint.persistence.store import Store

NewState = Callable[..., InstanceState]


class HasId(Protocol):
    @property
    def id(self) -> str: ...


@pytest.fixture
def three_instances(store: Store, new_state: NewState) -> list[InstanceState]:
    """pi-1 (invoice, order-7), pi-2 (invoice, order-8, ended), pi-3 (approval, order-7)."""
    states = [
        new_state("pi-1", business_key="order-7"),
        new_state("pi-2", business_key="order-8"),
        new_state("pi-3", business_key="order-7", definition_key="approval"),
    ]
    for offset, state in enumerate(states):
        state.instance.started_at += timedelta(minutes=offset)
    states[1].instance.state = ProcessInstanceState.COMPLETED
    job = states[1].jobs["pi-2-job-1"]
    job.retries = 0
    job.exception_message = "boom"
    late = replace(states[0].jobs["pi-1-job-1"], id="pi-1-job-2", due_at=None)
    late.created_at += timedelta(seconds=1)
    states[0].jobs[late.id] = late
    states[2].jobs["pi-3-job-1"].due_at = states[2].instance.started_at + timedelta(hours=1)
    states[1].incidents["pi-2-inc-1"].resolved_at = states[1].instance.started_at
    with store.unit_of_work() as uow:
        for state in states:
            uow.insert_instance(state)
    return states


def ids(entities: Sequence[HasId]) -> list[str]:
    return [entity.id for entity in entities]


def test_process_instances_are_found_by_key_business_key_and_activity(
    store: Store, three_instances: list[InstanceState]
) -> None:
    with store.unit_of_work() as uow:
        assert ids(uow.process_instances()) == ["pi-1", "pi-2", "pi-3"]
        assert ids(uow.process_instances(process_definition_key="invoice")) == ["pi-1", "pi-2"]
        assert ids(uow.process_instances(business_key="order-7")) == ["pi-1", "pi-3"]
        assert ids(uow.process_instances(active=True)) == ["pi-1", "pi-3"]
        assert ids(uow.process_instances(active=False)) == ["pi-2"]
        assert ids(
            uow.process_instances(process_definition_key="invoice", business_key="order-7")
        ) == ["pi-1"]
        assert uow.process_instance("pi-2") == three_instances[1].instance
        assert uow.process_instance("pi-9") is None


def test_process_instances_are_found_by_ids_and_definition_and_paged_in_the_database(
    store: Store, three_instances: list[InstanceState]
) -> None:
    statements: list[str] = []
    sa.event.listen(
        store.engine, "before_cursor_execute", lambda c, cur, sql, *a: statements.append(sql)
    )
    definition_id = three_instances[2].instance.process_definition_id
    with store.unit_of_work() as uow:
        assert ids(uow.process_instances(process_instance_ids={"pi-3", "pi-1", "nope"})) == [
            "pi-1",
            "pi-3",
        ]
        assert ids(uow.process_instances(process_instance_ids=set())) == []
        assert ids(uow.process_instances(process_definition_id=definition_id)) == ["pi-3"]
        assert ids(uow.process_instances(first_result=1)) == ["pi-2", "pi-3"]
        assert ids(uow.process_instances(max_results=2)) == ["pi-1", "pi-2"]
        assert ids(uow.process_instances(first_result=1, max_results=1)) == ["pi-2"]
        assert ids(uow.process_instances(max_results=0)) == []
        statements.clear()
        assert ids(uow.process_instances(active=True, first_result=1, max_results=5)) == ["pi-3"]
    (paged,) = statements
    assert "LIMIT" in paged and "OFFSET" in paged  # not all rows read, then sliced


def test_jobs_are_filtered(store: Store, three_instances: list[InstanceState]) -> None:
    t0 = three_instances[0].instance.started_at
    with store.unit_of_work() as uow:
        # oldest first: pi-1-job-2 was created a second after the others
        assert ids(uow.jobs()) == ["pi-1-job-1", "pi-2-job-1", "pi-3-job-1", "pi-1-job-2"]
        assert ids(uow.jobs(process_instance_id="pi-1")) == ["pi-1-job-1", "pi-1-job-2"]
        assert ids(uow.jobs(with_exception=True)) == ["pi-2-job-1"]
        assert ids(uow.jobs(no_retries_left=True)) == ["pi-2-job-1"]
        # pi-1-job-1 is due at t0 + 5 min, pi-1-job-2 has no due time, pi-3-job-1 at t0 + 62 min
        assert ids(uow.jobs(executable_at=t0)) == ["pi-1-job-2"]
        assert ids(uow.jobs(executable_at=t0 + timedelta(minutes=5))) == [
            "pi-1-job-1",
            "pi-1-job-2",
        ]
        assert ids(uow.jobs(executable_at=t0 + timedelta(days=1))) == [
            "pi-1-job-1",
            "pi-3-job-1",
            "pi-1-job-2",
        ]
        assert ids(uow.jobs(where={"job_definition_id": "approval:send:before"})) == ["pi-3-job-1"]
        assert ids(uow.jobs(where={"process_definition_key": "invoice", "id": "pi-2-job-1"})) == [
            "pi-2-job-1"
        ]
        assert ids(uow.jobs(with_retries_left=True)) == ["pi-1-job-1", "pi-3-job-1", "pi-1-job-2"]
        assert ids(uow.jobs(first_result=1, max_results=2)) == ["pi-2-job-1", "pi-3-job-1"]
        assert ids(uow.jobs(with_retries_left=True, first_result=2)) == ["pi-1-job-2"]
        assert uow.jobs(process_instance_id="pi-3", no_retries_left=True) == []


def test_tasks_and_external_tasks_are_found(
    store: Store, three_instances: list[InstanceState]
) -> None:
    with store.unit_of_work() as uow:
        assert ids(uow.tasks()) == ["pi-1-task-1", "pi-2-task-1", "pi-3-task-1"]
        assert ids(uow.tasks("pi-2")) == ["pi-2-task-1"]
        assert uow.task("pi-3-task-1") == three_instances[2].tasks["pi-3-task-1"]
        assert uow.task("nope") is None
        assert ids(uow.external_tasks(topic="send")) == ["pi-1-ext-1", "pi-2-ext-1", "pi-3-ext-1"]
        assert ids(uow.external_tasks(topic="send", process_instance_id="pi-3")) == ["pi-3-ext-1"]
        assert uow.external_tasks(topic="other") == []
        assert ids(uow.external_tasks(where={"activity_id": "send"}, first_result=2)) == [
            "pi-3-ext-1"
        ]
        assert ids(uow.external_tasks(with_retries_left=True, max_results=1)) == ["pi-1-ext-1"]
        assert uow.external_tasks(no_retries_left=True) == []
        assert ids(uow.tasks(where={"assignee": "ann", "name": "Review"}, max_results=2)) == [
            "pi-1-task-1",
            "pi-2-task-1",
        ]
        assert ids(uow.tasks(candidate_group="management", first_result=1)) == [
            "pi-2-task-1",
            "pi-3-task-1",
        ]
        assert uow.tasks(candidate_group="manage") == []
        assert uow.external_task("pi-1-ext-1") == three_instances[0].external_tasks["pi-1-ext-1"]
        assert uow.external_task("nope") is None


def test_subscriptions_are_found_by_event_and_business_key(
    store: Store, three_instances: list[InstanceState]
) -> None:
    with store.unit_of_work() as uow:
        state = uow.load_instance("pi-3")
        assert state is not None
        signal = EventSubscription(
            "pi-3-sub-2", "pi-3", "pi-3", "wait", "payment-received", state.instance.started_at
        )
        signal.event_type = "signal"
        state.subscriptions[signal.id] = signal
        uow.save_instance(state)

    with store.unit_of_work() as uow:
        found = uow.subscriptions("payment-received")
        assert ids(found) == ["pi-1-sub-1", "pi-2-sub-1", "pi-3-sub-1"]
        assert found[0] == three_instances[0].subscriptions["pi-1-sub-1"]
        assert ids(uow.subscriptions("payment-received", business_key="order-7")) == [
            "pi-1-sub-1",
            "pi-3-sub-1",
        ]
        assert ids(uow.subscriptions("payment-received", process_instance_id="pi-2")) == [
            "pi-2-sub-1"
        ]
        assert ids(uow.subscriptions("payment-received", event_type="signal")) == ["pi-3-sub-2"]
        assert uow.subscriptions("payment-received", business_key="order-9") == []
        assert uow.subscriptions("other") == []


def test_incidents_history_and_job_logs_are_found(
    store: Store, three_instances: list[InstanceState]
) -> None:
    with store.unit_of_work() as uow:
        assert ids(uow.incidents()) == ["pi-1-inc-1", "pi-3-inc-1"]
        assert ids(uow.incidents(open_only=False)) == ["pi-1-inc-1", "pi-2-inc-1", "pi-3-inc-1"]
        assert ids(uow.incidents("pi-2")) == []
        assert uow.incidents("pi-2", open_only=False) == list(three_instances[1].incidents.values())
        assert ids(uow.incidents(where={"configuration": "pi-3-job-1"})) == ["pi-3-inc-1"]
        assert ids(uow.incidents(where={"incident_type": "failedJob"}, first_result=1)) == [
            "pi-3-inc-1"
        ]
        assert ids(uow.incidents(open_only=False, max_results=2)) == ["pi-1-inc-1", "pi-2-inc-1"]
        assert ids(uow.historic_activity_instances("pi-1")) == ["review:ai-1"]
        assert ids(uow.job_logs()) == ["pi-1-log-1", "pi-2-log-1", "pi-3-log-1"]
        assert ids(uow.job_logs("pi-2")) == ["pi-2-log-1"]
        assert ids(uow.job_logs(job_id="pi-3-job-1")) == ["pi-3-log-1"]


def test_setting_retries_by_job_definition_revives_failed_jobs_only(
    store: Store, new_state: NewState
) -> None:
    states = [new_state(f"pi-{n}") for n in (1, 2, 3)]
    for state in states[:2]:
        job = next(iter(state.jobs.values()))
        job.retries = 0
        job.locked_by = "executor-1"
        job.lock_expires_at = job.created_at
    with store.unit_of_work() as uow:
        for state in states:
            uow.insert_instance(state)

    with store.unit_of_work() as earlier:
        stale = earlier.load_instance("pi-1")
        assert stale is not None
        with store.unit_of_work() as uow:
            revived = uow.set_job_retries_by_job_definition("invoice:send:before", 4)
            assert uow.set_job_retries_by_job_definition("unknown", 4) == []
        # a state loaded before the bulk change cannot overwrite it
        with pytest.raises(OptimisticLockError):
            earlier.save_instance(stale)

    assert revived == ["pi-1", "pi-2"]
    with store.unit_of_work() as uow:
        assert [(j.process_instance_id, j.retries) for j in uow.jobs()] == [
            ("pi-1", 4),
            ("pi-2", 4),
            ("pi-3", 3),
        ]
        assert {(j.locked_by, j.lock_expires_at) for j in uow.jobs()} == {(None, None)}
        assert [i.revision for i in uow.process_instances()] == [2, 2, 1]
        assert ids(uow.incidents()) == ["pi-1-inc-1", "pi-2-inc-1", "pi-3-inc-1"]


def test_negative_retries_are_refused(store: Store) -> None:
    with pytest.raises(BadUserRequest, match="non-negative"), store.unit_of_work() as uow:
        uow.set_job_retries_by_job_definition("invoice:send:before", -1)


@pytest.mark.parametrize(
    "group", ["sales", "sa%es", "sa_es", 'a"b', "back\\slash", "günther", "x,y", ",", ""]
)
def test_a_candidate_group_is_matched_whole_whatever_its_characters(
    store: Store, new_state: NewState, group: str
) -> None:
    state = new_state("pi-1")
    task = state.tasks["pi-1-task-1"]
    others = ("sales-eu", "presales", 'x"sales"y', 'x"sales', 'sales"y', "Sales", "SALES")
    state.tasks[task.id] = replace(task, candidate_groups=(*others, group))
    decoy = replace(task, id="pi-1-task-2", candidate_groups=others)
    state.tasks[decoy.id] = decoy
    with store.unit_of_work() as uow:
        uow.insert_instance(state)

    with store.unit_of_work() as uow:
        assert ids(uow.tasks(candidate_group=group)) == ["pi-1-task-1"]
        assert ids(uow.tasks(candidate_group="sales-eu")) == ["pi-1-task-1", "pi-1-task-2"]


def test_a_negative_page_is_refused(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(ValueError, match="negative"):
        uow.jobs(first_result=-1)
    with store.unit_of_work() as uow, pytest.raises(ValueError, match="negative"):
        uow.incidents(max_results=-5)
