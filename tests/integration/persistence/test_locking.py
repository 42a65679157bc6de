import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from safepoint.core.state import InstanceState
from safepoint.errors import OptimisticLockError, PersistenceError
from safepoint.persistence import postgresql
from safepoint.persistence.rows import PROCESS_INSTANCES
from safepoint.persistence.store import Store

NewState = Callable[..., InstanceState]

CAMUNDA_WORDING = "process instance pi-1 was updated by another transaction concurrently"


def test_the_second_of_two_concurrent_saves_fails_and_changes_nothing(
    store: Store, new_state: NewState
) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with pytest.raises(OptimisticLockError) as raised:
        with store.unit_of_work() as late:
            stale = late.load_instance("pi-1")
            assert stale is not None
            with store.unit_of_work() as early:
                fresh = early.load_instance("pi-1")
                assert fresh is not None
                fresh.jobs["pi-1-job-1"].retries = 2
                early.save_instance(fresh)
            stale.jobs["pi-1-job-1"].retries = 0
            stale.variables["pi-1"]["amount"] = 99
            late.save_instance(stale)

    assert str(raised.value) == CAMUNDA_WORDING
    with store.unit_of_work() as uow:
        job = uow.job("pi-1-job-1")
        instance = uow.process_instance("pi-1")
        assert job is not None and job.retries == 2
        assert instance is not None and instance.revision == 2
        assert uow.variables("pi-1")["amount"] == 10

    with store.unit_of_work() as retry:  # the command, run again, succeeds
        again = retry.load_instance("pi-1")
        assert again is not None
        again.variables["pi-1"]["amount"] = 99
        retry.save_instance(again)
        assert again.instance.revision == 3


def test_concurrent_saves_from_threads_let_exactly_one_win(
    store: Store, new_state: NewState
) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))
    loaded = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def command(amount: int) -> None:
        try:
            with store.unit_of_work() as uow:
                state = uow.load_instance("pi-1")
                assert state is not None
                loaded.wait()  # both have read revision 1 before either writes
                state.variables["pi-1"]["amount"] = amount
                uow.save_instance(state)
            outcomes.append("saved")
        except OptimisticLockError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=command, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["conflict", "saved"]
    with store.unit_of_work() as uow:
        instance = uow.process_instance("pi-1")
        assert instance is not None and instance.revision == 2


def test_loading_with_lock_blocks_another_locking_load_on_postgresql(
    store: Store, new_state: NewState, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks: lock=True is ignored there")
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with store.unit_of_work() as holder:
        assert holder.load_instance("pi-1", lock=True) is not None
        with pytest.raises(PersistenceError, match="lock timeout"), store.unit_of_work() as other:
            other.connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
            assert other.load_instance("pi-1") is not None  # a plain read does not wait
            other.load_instance("pi-1", lock=True)


def test_a_locking_load_that_waited_sees_what_the_lock_holder_committed(
    store: Store, new_state: NewState, database_url: str
) -> None:
    # PostgreSQL reads the instance and its rows in one statement that also takes the
    # lock; one that waited must not return the rows as they were before the wait.
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks: lock=True is ignored there")
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))
    locked = threading.Event()
    seen: list[InstanceState] = []

    def waiter() -> None:
        locked.wait(10)
        with store.unit_of_work() as uow:
            state = uow.load_instance("pi-1", lock=True)  # blocks until the holder commits
            assert state is not None
            seen.append(state)

    thread = threading.Thread(target=waiter)
    with store.unit_of_work() as holder:
        state = holder.load_instance("pi-1", lock=True)
        assert state is not None
        thread.start()
        locked.set()
        time.sleep(0.3)  # the waiter's statement is running, and waits for the lock
        del state.jobs["pi-1-job-1"]
        state.variables["pi-1"]["amount"] = 11
        holder.save_instance(state)
    thread.join(10)

    (after,) = seen
    assert after.instance.revision == 2
    assert "pi-1-job-1" not in after.jobs
    assert after.variables["pi-1"]["amount"] == 11


def test_a_locking_load_reads_again_when_the_locked_row_is_newer_than_what_it_read(
    store: Store, new_state: NewState, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A transaction that commits between the load statement's snapshot and its lock
    # leaves the lock on a newer revision than the rows read; the load must read again.
    # The race cannot be timed from here, so the first statement's answer is made to
    # look like it: its locked revision one ahead, its instance row from another time.
    if not database_url.startswith("postgresql"):
        pytest.skip("the single-statement load is PostgreSQL's")
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1", business_key="order-7"))
    fetch = postgresql._fetch
    statements: list[str] = []

    def racing(connection: Any, name: str, sql: str, params: tuple[Any, ...]) -> Any:
        statements.append(sql)
        row = fetch(connection, name, sql, params)
        if sql in postgresql._LOAD_LOCKED.values() and row is not None:
            stale = list(row)
            stale[0] = list(row[0])
            stale[0][PROCESS_INSTANCES.names.index("business_key")] = "as-of-the-snapshot"
            stale[-1] = row[-1] + 1
            return stale
        return row

    monkeypatch.setattr(postgresql, "_fetch", racing)
    with store.unit_of_work() as uow:
        state = uow.load_instance("pi-1", lock=True)

    assert state is not None
    assert state.instance.business_key == "order-7"  # what the second read found
    assert statements[1] in postgresql._LOAD.values()
    assert len(statements) == 2
