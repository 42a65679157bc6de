"""PostgreSQL: the load and the save of one instance read that instance's rows only.

The cost of a job must not grow with the number of other instances in the database.
These tests fill the tables with thousands of other instances, run the planner's
statistics, then look at the plan PostgreSQL actually ran (``EXPLAIN ANALYZE`` of the
very statement and parameters, inside a savepoint that is rolled back): no node may
scan a whole instance table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from safepoint.core.state import InstanceState
from safepoint.persistence import instances, postgresql
from safepoint.persistence.store import Store

NewState = Callable[..., InstanceState]

OTHERS = 3000
"""Other instances in the database: enough for a whole-table scan to be the planner's
choice whenever a statement does not say which instance it means."""

INSTANCE_TABLES = (
    "executions",
    "variables",
    "jobs",
    "tasks",
    "external_tasks",
    "event_subscriptions",
    "incidents",
    "historic_activity_instances",
    "job_logs",
)


@pytest.fixture
def crowded(store: Store, new_state: NewState, database_url: str) -> Store:
    """``pi-1`` among :data:`OTHERS` copies of it (PostgreSQL only)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the plans checked are PostgreSQL's")
    with store.unit_of_work() as uow:
        uow.insert_instance(new_state("pi-1"))
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO process_instances SELECT (jsonb_populate_record(p, "
                "jsonb_build_object('id', 'copy-' || g))).* "
                "FROM process_instances p, generate_series(1, :n) g WHERE p.id = 'pi-1'"
            ),
            {"n": OTHERS},
        )
        for table in INSTANCE_TABLES:
            connection.execute(
                text(
                    f"INSERT INTO {table} SELECT (jsonb_populate_record(t, "  # noqa: S608
                    "jsonb_build_object('process_instance_id', 'copy-' || g))).* "
                    f"FROM {table} t, generate_series(1, :n) g "
                    "WHERE t.process_instance_id = 'pi-1'"
                ),
                {"n": OTHERS},
            )
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    return store


@pytest.fixture
def plans(crowded: Store) -> Iterator[list[dict[str, Any]]]:
    """The plan of every statement run from now on, as PostgreSQL executed it."""
    seen: list[dict[str, Any]] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        _explain(seen, cursor, statement, parameters)

    event.listen(crowded.engine, "before_cursor_execute", explain)
    try:
        yield seen
    finally:
        event.remove(crowded.engine, "before_cursor_execute", explain)


def _explain(seen: list[dict[str, Any]], cursor: Any, statement: str, parameters: Any) -> None:
    """Add the plan PostgreSQL executes for ``statement`` to ``seen`` (nothing it does stays)."""
    if statement.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE", "DELETE")):
        driver = cursor.connection
        driver.execute("SAVEPOINT plan")
        plan = driver.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).fetchone()[
            0
        ]
        driver.execute("ROLLBACK TO SAVEPOINT plan")
        seen.append({"statement": statement, "plan": plan[0]["Plan"]})


def _scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "Relation Name" in node:
        yield node
    for child in node.get("Plans", []):
        yield from _scans(child)


def _whole_table_reads(plans: list[dict[str, Any]]) -> list[str]:
    return [
        f"{scan['Node Type']} on {scan['Relation Name']}: {seen['statement'][:80]}"
        for seen in plans
        for scan in _scans(seen["plan"])
        if scan["Node Type"] == "Seq Scan"
        and scan["Relation Name"] in {*INSTANCE_TABLES, "process_instances"}
    ]


def test_a_locking_load_reads_only_the_instance_rows(
    crowded: Store, plans: list[dict[str, Any]]
) -> None:
    with crowded.unit_of_work() as uow:
        state = uow.load_instance("pi-1", lock=True)

    assert state is not None and state.jobs
    assert plans, "no statement was observed"
    assert _whole_table_reads(plans) == []


def test_a_save_of_every_kind_of_change_reads_only_the_instance_rows(
    crowded: Store, plans: list[dict[str, Any]]
) -> None:
    with crowded.unit_of_work() as uow:
        state = uow.load_instance("pi-1")
        assert state is not None
        plans.clear()
        execution = state.executions["pi-1-ex-2"]
        execution.activity_id = "next"  # updated
        state.jobs["pi-1-job-1"].retries = 1  # updated
        del state.tasks["pi-1-task-1"]  # deleted
        state.variables["pi-1"]["amount"] = 11  # updated
        del state.variables["pi-1"]["customer"]  # deleted
        state.variables["pi-1"]["fresh"] = "yes"  # inserted
        uow.save_instance(state)

    written = " ".join(seen["statement"] for seen in plans)
    for table in ("executions", "jobs", "tasks", "variables"):
        assert table in written
    assert _whole_table_reads(plans) == []
    with crowded.unit_of_work() as uow:
        stored = uow.variables("pi-1")
    assert stored == {"amount": 11, "approved": True, "items": [1, {"sku": "A"}], "fresh": "yes"}


def test_a_job_runs_read_of_its_path_and_its_count_of_a_join_read_only_the_instance_rows(
    crowded: Store, plans: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(instances, "WHOLE_UP_TO", 0)
    with crowded.unit_of_work() as uow:
        state = uow.load_instance("pi-1")
        assert state is not None
        other = replace(state.executions["pi-1-ex-2"], id="pi-1-ex-3", ordinal=2)
        state.executions[other.id] = other
        uow.save_instance(state)
    plans.clear()

    with crowded.unit_of_work() as uow:
        state = uow.load_instance("pi-1", lock=True, only_job="pi-1-job-1")
        assert state is not None
        assert list(state.executions) == ["pi-1", "pi-1-ex-2"]  # the job's path
        assert state.waiting_at("pi-1-ex-2", "join") == 0  # not the scope counted at load

    # the load, the read of the path (the instance has too many executions), the count
    assert len(plans) == 3, [seen["statement"][:60] for seen in plans]
    assert _whole_table_reads(plans) == []


HISTORY = 2000
"""Closed activity instances and resolved incidents of ``pi-1`` itself (a long history)."""


def test_a_load_reads_none_of_the_instance_closed_rows(
    crowded: Store, plans: list[dict[str, Any]]
) -> None:
    """A job's load costs the same whether its instance ran 10 steps before or 10,000."""
    with crowded.engine.begin() as connection:
        for table, closed_at in (
            ("historic_activity_instances", "ended_at"),
            ("incidents", "resolved_at"),
        ):
            connection.execute(
                text(
                    f"INSERT INTO {table} SELECT (jsonb_populate_record(t, "  # noqa: S608
                    f"jsonb_build_object('id', 'closed-' || g, '{closed_at}', "
                    "'2026-01-01T11:00:00+00:00'))).* "
                    f"FROM {table} t, generate_series(1, :n) g "
                    "WHERE t.process_instance_id = 'pi-1'"
                ),
                {"n": HISTORY},
            )
    with crowded.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    plans.clear()

    with crowded.unit_of_work() as uow:
        state = uow.load_instance("pi-1", lock=True)

    assert state is not None
    assert list(state.activity_instances) == ["review:ai-1"]
    assert list(state.incidents) == ["pi-1-inc-1"]
    read = {
        scan["Relation Name"]: scan.get("Actual Rows", 0) + scan.get("Rows Removed by Filter", 0)
        for seen in plans
        for scan in _scans(seen["plan"])
        if scan["Relation Name"] in {"historic_activity_instances", "incidents"}
    }
    assert read == {"historic_activity_instances": 1, "incidents": 1}


def test_a_locking_load_reads_nothing_of_an_instance_locked_elsewhere_until_it_holds_the_lock(
    crowded: Store, database_url: str
) -> None:
    """The jobs of a wide fork contend for their instance across job-executors.

    The job that finds the instance locked must not build the instance's JSON only to
    drop it: its first statement reads the instance row alone, then it waits for the
    lock, then it reads the instance once.
    """
    holder_engine = create_engine(database_url, poolclass=NullPool)
    holder = holder_engine.connect()
    holder.begin()
    holder.execute(text("SELECT 1 FROM process_instances WHERE id = 'pi-1' FOR UPDATE"))
    plans: list[dict[str, Any]] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement == postgresql._LOCK and holder.in_transaction():
            holder.commit()  # the load waits for the lock now: let the holder go
        _explain(plans, cursor, statement, parameters)

    event.listen(crowded.engine, "before_cursor_execute", explain)
    try:
        with crowded.unit_of_work() as uow:
            state = uow.load_instance("pi-1", lock=True)
    finally:
        event.remove(crowded.engine, "before_cursor_execute", explain)
        holder.close()
        holder_engine.dispose()

    assert state is not None and state.jobs
    first = plans[0]["plan"]
    assert first.get("Actual Rows") == 0, "the first statement should have found the lock held"
    executed = {
        scan["Relation Name"]
        for scan in _scans(first)
        if scan["Relation Name"] in INSTANCE_TABLES and scan.get("Actual Loops", 0) > 0
    }
    assert executed == set()
    assert len(plans) == 3  # the attempt, the wait for the lock, the read


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_a_page_of_a_list_is_read_off_an_index_in_the_lists_order(
    crowded: Store, plans: list[dict[str, Any]]
) -> None:
    """A page of the oldest costs the same among 3,000 instances as among 3 million."""
    with crowded.engine.begin() as connection:  # a database that has run for long
        connection.execute(
            text(
                "UPDATE process_instances SET state = 'COMPLETED' "
                "WHERE id LIKE 'copy-%' AND id NOT LIKE 'copy-1%'"
            )
        )
    with crowded.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    plans.clear()

    with crowded.unit_of_work() as uow:
        running = uow.process_instances(active=True, max_results=10)
        every = uow.process_instances(max_results=10)
        tasks = uow.tasks(max_results=10)

    assert len(running) == len(every) == len(tasks) == 10
    assert all(instance.state == "ACTIVE" for instance in running)
    read = [(seen["statement"][:60], node) for seen in plans for node in _nodes(seen["plan"])]
    assert [where for where, node in read if "Sort" in node["Node Type"]] == []
    assert _whole_table_reads(plans) == []
    indexes = {node.get("Index Name") for _, node in read}
    assert {
        "ix_process_instances_running_started_at",
        "ix_process_instances_started_at",
        "ix_tasks_created_at",
    } <= indexes
