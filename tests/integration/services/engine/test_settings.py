"""The engine's settings from ``SAFEPOINT_*`` variables: defaults, values, refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from safepoint_engine.settings import Settings


def test_defaults() -> None:
    settings = Settings()

    assert settings.messaging.command_retention == 7 * 24 * 3600
    assert settings.messaging.job_lease == 300
    assert settings.engine.definition_cache_size == 1000


def test_the_environment_sets_the_retention_and_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEPOINT_MESSAGING_COMMAND_RETENTION", "3600")
    monkeypatch.setenv("SAFEPOINT_ENGINE_DEFINITION_CACHE_SIZE", "20")

    settings = Settings()

    assert settings.messaging.command_retention == 3600
    assert settings.engine.definition_cache_size == 20


@pytest.mark.parametrize(
    "name", ["SAFEPOINT_MESSAGING_COMMAND_RETENTION", "SAFEPOINT_ENGINE_DEFINITION_CACHE_SIZE"]
)
def test_zero_is_refused(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "0")

    with pytest.raises(ValidationError):
        Settings()
