"""The engine service's application: health, OpenAPI, settings and the delegate registry."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from importlib import metadata, resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safepoint import Engine, ManualClock
from safepoint.registry import DelegateRegistryError, load_delegates
from safepoint.settings import DatabaseSettings, DelegatesSettings
from safepoint_engine.app import create_app
from safepoint_engine.settings import Settings


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "UP", "database": None, "message": None}
    assert client.get("/health/ready").json() == {
        "status": "UP",
        "database": "UP",
        "message": None,
    }


def test_readiness_fails_without_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "safepoint.db"
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{missing}", migrate=False))

    with TestClient(create_app(settings, delegates={})) as client:
        ready = client.get("/health/ready")

    assert ready.status_code == 503
    assert ready.json()["status"] == "DOWN"
    assert client.get("/health").status_code == 200


def test_openapi_is_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    docs = client.get("/docs")

    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert schema["info"]["title"] == "Safepoint engine"
    for path in (
        "/engine-rest/process-definition/key/{key}/start",
        "/engine-rest/process-instance/{process_instance_id}/activity-instances",
        "/engine-rest/job/{job_id}/retries",
        "/engine-rest/message",
        "/engine-rest/task/{task_id}/complete",
        "/engine-rest/external-task/{external_task_id}/complete",
        "/engine-rest/history/activity-instance",
    ):
        assert path in schema["paths"], path


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEPOINT_DATABASE_URL", "postgresql+psycopg://sp@db/safepoint")
    monkeypatch.setenv("SAFEPOINT_AMQP_URL", "amqp://sp:secret@mq:5672/")
    monkeypatch.setenv("SAFEPOINT_HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("SAFEPOINT_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SAFEPOINT_DELEGATES_MODULE", "invoicing.delegates")
    monkeypatch.setenv("SAFEPOINT_ENGINE_DEFAULT_RETRIES", "5")

    settings = Settings()

    assert settings.database.url == "postgresql+psycopg://sp@db/safepoint"
    assert settings.amqp.url == "amqp://sp:secret@mq:5672/"
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 8080)
    assert settings.log_level == "DEBUG"
    assert settings.delegates.module == "invoicing.delegates"
    assert settings.engine.default_retries == 5
    monkeypatch.setenv("SAFEPOINT_HTTP_PORT", "9000")
    assert Settings().http.port == 9000


@pytest.fixture
def delegates_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], str]]:
    """Write a module on sys.path; returns its name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(source: str) -> str:
        name = f"sp_test_delegates_{len(written)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def test_the_engine_takes_its_delegates_from_the_settings_module(
    database_url: str, clock: ManualClock, delegates_module: Callable[[str], str]
) -> None:
    module = delegates_module(
        """
        def generate(execution):
            execution.variables["invoiceNumber"] = "FROM-MODULE"

        DELEGATES = {"generateInvoice": generate}
        """
    )
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        delegates=DelegatesSettings(module=module, use_entry_points=False),
    )
    invoice = resources.files("safepoint.examples").joinpath("invoice.bpmn").read_bytes()

    with TestClient(create_app(settings, clock=clock)) as client:
        with Engine(database_url, migrate=False) as engine:
            engine.deploy("invoice", {"invoice.bpmn": invoice})
        started = client.post(
            "/engine-rest/process-definition/key/invoice/start",
            json={"variables": {"amount": {"value": 1}}, "withVariablesInReturn": True},
        )

    assert started.status_code == 200, started.text
    assert started.json()["variables"]["invoiceNumber"]["value"] == "FROM-MODULE"


def test_the_registry_takes_entry_points_and_refuses_a_name_registered_twice(
    delegates_module: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    group = "safepoint.delegates"
    entry_points = [metadata.EntryPoint(name="archive", value="builtins:print", group=group)]
    monkeypatch.setattr(metadata, "entry_points", lambda group: entry_points)
    other = delegates_module("DELEGATES = {'send': len}")
    clash = delegates_module("DELEGATES = {'archive': len}")

    assert load_delegates(DelegatesSettings(module=other)) == {"archive": print, "send": len}
    with pytest.raises(DelegateRegistryError, match="'archive' is registered twice"):
        load_delegates(DelegatesSettings(module=clash))


def test_the_registry_refuses_what_it_cannot_trust(
    delegates_module: Callable[[str], str],
) -> None:
    not_a_mapping = delegates_module("DELEGATES = ['generateInvoice']")
    no_attribute = delegates_module("OTHER = {}")
    fine = delegates_module("DELEGATES = {'a': print}")

    assert load_delegates(DelegatesSettings(module=fine, use_entry_points=False)) == {"a": print}
    assert load_delegates(DelegatesSettings(entry_point_group="sp.none")) == {}
    with pytest.raises(DelegateRegistryError, match="must define DELEGATES as a mapping"):
        load_delegates(DelegatesSettings(module=not_a_mapping))
    with pytest.raises(DelegateRegistryError, match="must define DELEGATES"):
        load_delegates(DelegatesSettings(module=no_attribute))
    with pytest.raises(DelegateRegistryError, match="cannot be imported"):
        load_delegates(DelegatesSettings(module="sp_no_such_module_anywhere"))
