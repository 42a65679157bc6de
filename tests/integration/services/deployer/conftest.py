"""Fixtures for the deployer service: its app over a fresh database, events it publishes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from safepoint import ManualClock
from safepoint.contract import DeploymentCreated
from safepoint.settings import DatabaseSettings
from safepoint_deployer.app import create_app
from safepoint_deployer.settings import Settings

MAX_RESOURCE_BYTES = 200_000
"""The resource size limit of the test app (the invoice example is far smaller)."""


@pytest.fixture
def published() -> list[DeploymentCreated]:
    """The ``deployment.created`` events the app handed to its publisher port."""
    return []


@pytest.fixture
def client(
    database_url: str, clock: ManualClock, published: list[DeploymentCreated]
) -> Iterator[TestClient]:
    """The deployer's HTTP API on a fresh database (migrated by the app's start-up)."""
    settings = Settings(
        database=DatabaseSettings(url=database_url), max_resource_bytes=MAX_RESOURCE_BYTES
    )
    app = create_app(
        settings,
        delegates={"generateInvoice": lambda execution: None},
        clock=clock,
        on_deployed=published.append,
    )
    with TestClient(app) as test_client:
        yield test_client
