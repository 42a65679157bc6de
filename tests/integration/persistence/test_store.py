from collections.abc import Callable

import pytest
from sqlalchemy import exc, make_url, text

from safepoint.core.state import InstanceState
from safepoint.errors import PersistenceError
from safepoint.persistence.engine import is_in_memory_sqlite
from safepoint.persistence.store import Store

NewState = Callable[..., InstanceState]


def test_a_unit_of_work_commits_on_a_clean_exit(store: Store, new_state: NewState) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with store.unit_of_work() as uow:
        assert uow.process_instance("pi-1") is not None


def test_a_unit_of_work_rolls_back_on_an_exception(store: Store, new_state: NewState) -> None:
    with pytest.raises(RuntimeError, match="delegate failed"), store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))
        raise RuntimeError("delegate failed")

    with store.unit_of_work() as uow:
        assert uow.process_instance("pi-1") is None
        assert uow.jobs() == []


def test_database_errors_become_persistence_errors(store: Store, new_state: NewState) -> None:
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    with pytest.raises(PersistenceError) as raised, store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))

    assert isinstance(raised.value.__cause__, exc.IntegrityError)


def test_an_unreachable_database_is_a_persistence_error() -> None:
    store = Store("postgresql://postgres@127.0.0.1:1/nothing")
    try:
        with pytest.raises(PersistenceError), store.unit_of_work():
            pass
    finally:
        store.dispose()


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    store = Store("postgresql://postgres@127.0.0.1:5432/anything")

    assert store.engine.dialect.driver == "psycopg"
    store.dispose()


def test_in_memory_sqlite_is_one_database_for_every_unit_of_work(new_state: NewState) -> None:
    store = Store("sqlite://")
    try:
        store.migrate()
        with store.unit_of_work() as uow:
            uow.insert_instance(new_state("pi-1"))

        with store.unit_of_work() as uow:
            loaded = uow.load_instance("pi-1")
            assert loaded is not None and loaded.variables == new_state("pi-1").variables
    finally:
        store.dispose()


def test_a_sqlite_file_runs_in_wal_mode(store: Store, database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or is_in_memory_sqlite(url):
        pytest.skip("only SQLite files have a journal mode to set")

    with store.unit_of_work() as uow:
        assert uow.connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert uow.connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
