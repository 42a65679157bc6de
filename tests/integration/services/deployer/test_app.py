"""The deployer service's application: health, OpenAPI and settings."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from safepoint_deployer.settings import Settings


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "UP"
    assert client.get("/health/ready").json() == {
        "status": "UP",
        "database": "UP",
        "message": None,
    }


def test_openapi_is_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert client.get("/docs").status_code == 200
    assert schema["info"]["title"] == "Safepoint deployer"
    create = schema["paths"]["/engine-rest/deployment/create"]["post"]
    form = create["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"deployment-name", "enable-duplicate-filtering", "deploy-changed-only"} <= set(
        form["properties"]
    )
    assert "/engine-rest/deployment/{deployment_id}" in schema["paths"]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEPOINT_DATABASE_URL", "postgresql+psycopg://sp@db/safepoint")
    monkeypatch.setenv("SAFEPOINT_HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("SAFEPOINT_MAX_RESOURCE_BYTES", "1000")

    settings = Settings()

    assert settings.database.url == "postgresql+psycopg://sp@db/safepoint"
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 8081)
    assert settings.amqp.url == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.max_resource_bytes == 1000
