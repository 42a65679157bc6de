"""Fixtures for the engine service: its app over a fresh database, and the invoice example."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safepoint import Engine, ManualClock
from safepoint.settings import DatabaseSettings
from safepoint_engine.app import create_app
from safepoint_engine.settings import Settings

INVOICE = resources.files("safepoint.examples").joinpath("invoice.bpmn").read_bytes()
"""The invoice example that ships with Safepoint."""


class Invoicing:
    """The invoice example's delegates; the mail server can be taken down."""

    def __init__(self) -> None:
        self.mail_server_down = False

    def generate_invoice(self, execution: Any) -> None:
        execution.variables["invoiceNumber"] = "INV-1001"

    def send_invoice(self, execution: Any) -> None:
        if self.mail_server_down:
            raise ConnectionError("mail server smtp.example.com refused the connection")
        execution.variables["sent"] = True

    def archive_invoice(self, execution: Any) -> None:
        execution.variables["archived"] = True

    def registry(self) -> dict[str, object]:
        return {
            "generateInvoice": self.generate_invoice,
            "sendInvoice": self.send_invoice,
            "archiveInvoice": self.archive_invoice,
        }


@pytest.fixture
def invoicing() -> Invoicing:
    return Invoicing()


@pytest.fixture
def client(database_url: str, clock: ManualClock, invoicing: Invoicing) -> Iterator[TestClient]:
    """The engine's HTTP API on a fresh database (migrated by the app's start-up)."""
    settings = Settings(database=DatabaseSettings(url=database_url))
    app = create_app(settings, delegates=invoicing.registry(), clock=clock, messaging=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def deploy(client: TestClient, database_url: str, clock: ManualClock) -> Callable[..., str]:
    """Deploy resources straight into the database (the deployer's job); returns its id."""

    def deploy_resources(resources: dict[str, bytes] | None = None) -> str:
        with Engine(database_url, migrate=False, clock=clock) as engine:
            return engine.deploy("test", resources or {"invoice.bpmn": INVOICE}).id

    return deploy_resources
