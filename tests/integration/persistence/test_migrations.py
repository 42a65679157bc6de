from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, make_url

from safepoint.persistence import migrate
from safepoint.persistence.engine import is_in_memory_sqlite
from safepoint.persistence.store import Store
from safepoint.persistence.tables import metadata


def test_migrating_an_empty_database_creates_exactly_the_tables(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.migrate()
        with store.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == "0001"
            assert set(inspect(connection).get_table_names()) == set(metadata.tables) | {
                "alembic_version"
            }
    finally:
        store.dispose()


def test_migrating_twice_changes_nothing(store: Store) -> None:
    store.migrate()

    with store.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0001"


def test_upgrade_by_url_finds_the_scripts_inside_the_package(database_url: str) -> None:
    migrate.upgrade(database_url)

    store = Store(database_url)
    try:
        with store.engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        store.dispose()
    # An in-memory SQLite database lives only as long as the engine that made it.
    assert revision == (None if is_in_memory_sqlite(make_url(database_url)) else "0001")
