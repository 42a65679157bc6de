import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import make_url

from safepoint.core.deployments import Deployment, ProcessDefinition, process_definition_id
from safepoint.errors import PersistenceError
from safepoint.persistence.engine import is_in_memory_sqlite
from safepoint.persistence.store import Store
from safepoint.persistence.unit_of_work import UnitOfWork

DEPLOYED_AT = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def deploy(
    uow: UnitOfWork,
    deployment_id: str,
    keys: tuple[str, ...] = ("invoice",),
    *,
    deployed_at: datetime = DEPLOYED_AT,
) -> Deployment:
    definitions = []
    for key in keys:
        version = uow.next_version(key)
        definitions.append(
            ProcessDefinition(
                id=process_definition_id(key, version, deployment_id),
                key=key,
                version=version,
                deployment_id=deployment_id,
                resource_name=f"{key}.bpmn",
                name=key.title(),
                version_tag="v1" if key == "invoice" else None,
            )
        )
    deployment = Deployment(
        id=deployment_id,
        name=f"deployment {deployment_id}",
        deployed_at=deployed_at,
        source="test",
        resource_names=tuple(f"{key}.bpmn" for key in keys),
        process_definitions=tuple(definitions),
    )
    uow.add_deployment(
        deployment, {f"{key}.bpmn": f"<definitions id='{key}'/>".encode() for key in keys}
    )
    return deployment


def test_a_deployment_comes_back_as_it_was_stored(store: Store) -> None:
    with store.unit_of_work() as uow:
        deployed = deploy(uow, "dep-1", ("invoice", "approval"))

    with store.unit_of_work() as uow:
        loaded = uow.deployment("dep-1")
        assert loaded is not None
        assert loaded.deployed_at.tzinfo is UTC
        by_key = tuple(sorted(deployed.process_definitions, key=lambda d: d.key))
        assert loaded == replace(deployed, process_definitions=by_key)
        assert uow.resource("dep-1", "invoice.bpmn") == b"<definitions id='invoice'/>"
        assert uow.resource("dep-1", "missing.bpmn") is None
        assert uow.deployment("nope") is None
        assert uow.process_definition("invoice:1:dep-1") == deployed.process_definitions[0]
        assert uow.process_definition("invoice:9:dep-1") is None


def test_versions_count_up_per_key(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.next_version("invoice") == 1
        deploy(uow, "dep-1", ("invoice",))
    with store.unit_of_work() as uow:
        deploy(uow, "dep-2", ("invoice", "approval"), deployed_at=DEPLOYED_AT + timedelta(1))
    with store.unit_of_work() as uow:
        deploy(uow, "dep-3", ("invoice",), deployed_at=DEPLOYED_AT + timedelta(2))

    with store.unit_of_work() as uow:
        latest = uow.latest_process_definition("invoice")
        assert latest is not None and (latest.version, latest.deployment_id) == (3, "dep-3")
        # every field, as plain SQL (by key, by id) and through SQLAlchemy Core (the list)
        assert latest == uow.process_definition(latest.id) == uow.process_definitions("invoice")[-1]
        assert uow.latest_process_definition("unknown") is None
        assert [d.id for d in uow.process_definitions("invoice")] == [
            "invoice:1:dep-1",
            "invoice:2:dep-2",
            "invoice:3:dep-3",
        ]
        assert [(d.key, d.version) for d in uow.process_definitions()] == [
            ("approval", 1),
            ("invoice", 1),
            ("invoice", 2),
            ("invoice", 3),
        ]
        assert [d.id for d in uow.deployments()] == ["dep-1", "dep-2", "dep-3"]
        assert [d.key for d in uow.deployments()[1].process_definitions] == [
            "approval",
            "invoice",
        ]


def test_a_version_cannot_be_taken_twice(store: Store) -> None:
    with store.unit_of_work() as uow:
        deploy(uow, "dep-1")

    with pytest.raises(PersistenceError) as raised, store.unit_of_work() as uow:
        uow.add_deployment(
            Deployment(
                id="dep-2",
                name=None,
                deployed_at=DEPLOYED_AT,
                process_definitions=(
                    ProcessDefinition("invoice:1:dep-2", "invoice", 1, "dep-2", "invoice.bpmn"),
                ),
            ),
            {},
        )
    assert raised.value.__cause__ is not None

    with store.unit_of_work() as uow:
        assert uow.deployment("dep-2") is None


def test_deleting_a_deployment_removes_its_resources_and_definitions(store: Store) -> None:
    with store.unit_of_work() as uow:
        deploy(uow, "dep-1")
        deploy(uow, "dep-2", ("approval",))

    with store.unit_of_work() as uow:
        uow.delete_deployment("dep-1")

    with store.unit_of_work() as uow:
        assert uow.deployment("dep-1") is None
        assert uow.resource("dep-1", "invoice.bpmn") is None
        assert uow.process_definitions("invoice") == []
        assert [d.id for d in uow.deployments()] == ["dep-2"]
        assert uow.next_version("invoice") == 1


def test_concurrent_deployments_of_one_key_get_distinct_versions(
    store: Store, database_url: str
) -> None:
    if is_in_memory_sqlite(make_url(database_url)):
        pytest.skip("in-memory SQLite has a single connection: nothing runs concurrently")
    first_has_version = threading.Event()
    versions: dict[str, int] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with store.unit_of_work() as uow:
                versions["first"] = uow.next_version("invoice")
                first_has_version.set()
                threading.Event().wait(0.3)  # the second deployment starts meanwhile
                deploy(uow, "dep-1")
        except BaseException as exc:  # reported below
            errors.append(exc)
            first_has_version.set()

    def second() -> None:
        try:
            first_has_version.wait(5)
            with store.unit_of_work() as uow:
                deployment = deploy(uow, "dep-2")
                versions["second"] = deployment.process_definitions[0].version
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert versions == {"first": 1, "second": 2}
    with store.unit_of_work() as uow:
        assert [d.version for d in uow.process_definitions("invoice")] == [1, 2]
