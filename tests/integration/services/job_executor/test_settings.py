"""The job-executor's settings: defaults, and the SAFEPOINT_* variables that change them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from safepoint_job_executor.settings import JobExecutorSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SAFEPOINT_") and not name.startswith("SAFEPOINT_TEST_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = JobExecutorSettings()

    assert settings.http.port == 8082
    assert settings.executor.concurrency == 8
    assert settings.executor.job_lease == timedelta(seconds=60)
    assert settings.executor.shutdown_grace_seconds == 25
    assert settings.engine.definition_cache_size == 1000
    assert settings.log_level == "INFO"


def test_the_environment_sets_every_group(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SAFEPOINT_DATABASE_URL": "postgresql+psycopg://sp@db/safepoint",
        "SAFEPOINT_AMQP_URL": "amqp://sp:secret@mq:5672/prod",
        "SAFEPOINT_HTTP_PORT": "9102",
        "SAFEPOINT_LOG_LEVEL": "DEBUG",
        "SAFEPOINT_DELEGATES_MODULE": "invoicing.delegates",
        "SAFEPOINT_ENGINE_FAILED_JOB_RETRY_TIME_CYCLE": "R5/PT1M",
        "SAFEPOINT_ENGINE_DEFINITION_CACHE_SIZE": "50",
        "SAFEPOINT_EXECUTOR_CONCURRENCY": "16",
        "SAFEPOINT_EXECUTOR_PREFETCH": "200",
        "SAFEPOINT_EXECUTOR_JOB_LEASE_SECONDS": "120",
        "SAFEPOINT_EXECUTOR_SHUTDOWN_GRACE_SECONDS": "5.5",
    }.items():
        monkeypatch.setenv(name, value)

    settings = JobExecutorSettings()

    assert settings.database.url == "postgresql+psycopg://sp@db/safepoint"
    assert settings.amqp.url == "amqp://sp:secret@mq:5672/prod"
    assert settings.http.port == 9102
    assert settings.log_level == "DEBUG"
    assert settings.delegates.module == "invoicing.delegates"
    assert settings.engine.failed_job_retry_time_cycle == "R5/PT1M"
    assert settings.engine.definition_cache_size == 50
    assert settings.executor.concurrency == 16
    assert settings.executor.prefetch == 200
    assert settings.executor.job_lease == timedelta(seconds=120)
    assert settings.executor.shutdown_grace_seconds == 5.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAFEPOINT_EXECUTOR_CONCURRENCY", "0"),
        ("SAFEPOINT_EXECUTOR_PREFETCH", "4"),  # fewer than the 8 threads
        ("SAFEPOINT_EXECUTOR_PREFETCH", "0"),
        ("SAFEPOINT_ENGINE_DEFINITION_CACHE_SIZE", "0"),
        ("SAFEPOINT_EXECUTOR_JOB_LEASE_SECONDS", "0"),
        ("SAFEPOINT_EXECUTOR_SHUTDOWN_GRACE_SECONDS", "-1"),
        ("SAFEPOINT_HTTP_PORT", "70000"),
    ],
)
def test_out_of_range_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError):
        JobExecutorSettings()
