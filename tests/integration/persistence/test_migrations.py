from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, make_url

from safepoint.persistence import migrate
from safepoint.persistence.engine import is_in_memory_sqlite
from safepoint.persistence.store import Store
from safepoint.persistence.tables import metadata

HEAD = "0006"
"""The newest migration."""


def test_migrating_an_empty_database_creates_exactly_the_tables(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.migrate()
        with store.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == HEAD
            assert set(inspect(connection).get_table_names()) == set(metadata.tables) | {
                "alembic_version"
            }
    finally:
        store.dispose()


def test_migrating_twice_changes_nothing(store: Store) -> None:
    store.migrate()

    with store.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == HEAD


def test_upgrade_by_url_finds_the_scripts_inside_the_package(database_url: str) -> None:
    migrate.upgrade(database_url)

    store = Store(database_url)
    try:
        with store.engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        store.dispose()
    # An in-memory SQLite database lives only as long as the engine that made it.
    assert revision == (None if is_in_memory_sqlite(make_url(database_url)) else HEAD)


def test_upgrading_a_0001_database_keeps_its_instances(database_url: str) -> None:
    """An instance stored before 0002 gets an empty trace context and still loads."""
    migrate.upgrade(database_url, revision="0001")
    store = Store(database_url)
    try:
        with store.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO process_instances (id, process_definition_id, "
                "process_definition_key, business_key, started_at, state, revision, "
                "next_ordinal) VALUES ('pi-1', 'p:1:d', 'p', NULL, "
                "'2026-01-01 10:00:00.000000+00:00', 'ACTIVE', 0, 0)"
            )
        store.migrate()
        with store.unit_of_work() as uow:
            instance = uow.process_instance("pi-1")
        assert instance is not None
        assert instance.trace_context == {}
    finally:
        store.dispose()


def test_downgrading_to_0002_and_upgrading_again_gives_the_same_schema(
    database_url: str,
) -> None:
    """0003 to 0005 undo cleanly: the processed commands, the open-row indexes and the
    definitions' history time to live go."""
    store = Store(database_url)
    try:
        store.migrate()
        with store.engine.begin() as connection:
            command.downgrade(migrate.alembic_config(connection), "0002")
        with store.engine.connect() as connection:
            inspector = inspect(connection)
            assert "processed_commands" not in inspector.get_table_names()
            indexes = {
                index["name"]
                for table in ("historic_activity_instances", "incidents")
                for index in inspector.get_indexes(table)
            }
            assert not indexes & {"ix_historic_activity_instances_open", "ix_incidents_open"}
            columns = {c["name"] for c in inspector.get_columns("process_definitions")}
            assert "history_time_to_live" not in columns

        store.migrate()

        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == HEAD
            # compare_metadata does not compare a partial index's predicate: check it.
            dialect = connection.dialect.name
            for table in ("historic_activity_instances", "incidents"):
                name = f"ix_{table}_open"
                (declared,) = [i for i in metadata.tables[table].indexes if i.name == name]
                (built,) = [i for i in inspect(connection).get_indexes(table) if i["name"] == name]
                expected = str(declared.dialect_options[dialect]["where"])
                where = str(built.get("dialect_options", {}).get(f"{dialect}_where", ""))
                assert where.replace("(", "").replace(")", "") == expected
    finally:
        store.dispose()


def test_upgrading_a_0004_database_keeps_its_definitions(database_url: str) -> None:
    """A definition deployed before 0005 has no history time to live, and still loads."""
    migrate.upgrade(database_url, revision="0004")
    store = Store(database_url)
    try:
        with store.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO deployments (id, name, deployed_at, source, resource_names) "
                "VALUES ('d', NULL, '2026-01-01 10:00:00.000000+00:00', NULL, '[]')"
            )
            connection.exec_driver_sql(
                "INSERT INTO process_definitions (id, key, version, deployment_id, "
                "resource_name, name, version_tag) VALUES ('p:1:d', 'p', 1, 'd', 'p.bpmn', "
                "NULL, NULL)"
            )
        store.migrate()
        with store.unit_of_work() as uow:
            definition = uow.process_definition("p:1:d")
        assert definition is not None
        assert definition.history_time_to_live is None
    finally:
        store.dispose()
