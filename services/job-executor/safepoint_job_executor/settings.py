"""The job-executor's settings, read once from ``SAFEPOINT_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from safepoint.settings import (
    AmqpSettings,
    DatabaseSettings,
    DelegatesSettings,
    EngineSettings,
    EventLoop,
    HttpSettings,
    LogFormat,
    LogLevel,
)

DEFAULT_PORT = 8082
"""The job-executor's HTTP port (health and metrics only) unless ``SAFEPOINT_HTTP_PORT``."""


class JobExecutorHttpSettings(HttpSettings):
    """Where the health and metrics endpoints listen (port 8082 by default)."""

    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)


class ExecutorSettings(BaseModel):
    """How the job-executor consumes and runs jobs (``SAFEPOINT_EXECUTOR_*``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    concurrency: int = Field(
        default=8,
        ge=1,
        le=256,
        description="jobs run at the same time: the worker threads "
        "(the database pool keeps at least as many connections)",
    )
    prefetch: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="job messages taken from the broker ahead, unacknowledged, at least "
        "`concurrency` (8 × `concurrency` when unset); on shutdown, what waits for a thread "
        "is requeued at once, what waits for its instance's turn when that turn comes",
    )
    follow_ups: int = Field(
        default=100,
        ge=0,
        le=100_000,
        description="exclusive jobs of the same process instance that a job's run creates "
        "and that are due run next in this executor, in the same turn, without a message "
        "(Camunda's exclusive follow-up jobs), up to this many per delivered message; "
        "0 publishes every job to the queue",
    )
    job_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="how long the jobs this executor creates are leased to it: the "
        "dispatcher republishes a job only once its lease has run out",
    )
    shutdown_grace_seconds: float = Field(
        default=25.0,
        ge=0,
        description="on SIGTERM, how long running jobs may take to finish; "
        "what is still running then is redelivered to another executor",
    )

    @model_validator(mode="after")
    def _prefetch_covers_the_threads(self) -> ExecutorSettings:
        if self.prefetch is not None and self.prefetch < self.concurrency:
            raise ValueError(
                f"prefetch ({self.prefetch}) must be at least concurrency ({self.concurrency}): "
                "each worker thread needs a message"
            )
        return self

    @property
    def job_lease(self) -> timedelta:
        """``job_lease_seconds`` as a duration."""
        return timedelta(seconds=self.job_lease_seconds)


class JobExecutorSettings(BaseSettings):
    """Everything the job-executor is configured with.

    Environment variables: ``SAFEPOINT_DATABASE_URL``, ``SAFEPOINT_DATABASE_POOL_SIZE``,
    ``SAFEPOINT_DATABASE_MIGRATE``, ``SAFEPOINT_AMQP_URL``, ``SAFEPOINT_HTTP_HOST``,
    ``SAFEPOINT_HTTP_PORT``, ``SAFEPOINT_LOG_LEVEL``, ``SAFEPOINT_LOG_FORMAT``,
    ``SAFEPOINT_EVENT_LOOP``,
    ``SAFEPOINT_DELEGATES_MODULE``,
    ``SAFEPOINT_ENGINE_DEFAULT_RETRIES``, ``SAFEPOINT_ENGINE_FAILED_JOB_RETRY_TIME_CYCLE``,
    ``SAFEPOINT_ENGINE_DEFINITION_CACHE_SIZE``,
    ``SAFEPOINT_EXECUTOR_CONCURRENCY``, ``SAFEPOINT_EXECUTOR_PREFETCH``,
    ``SAFEPOINT_EXECUTOR_JOB_LEASE_SECONDS``,
    ``SAFEPOINT_EXECUTOR_SHUTDOWN_GRACE_SECONDS``.

    The engine settings must match the engine service's: both run the same core.
    """

    model_config = SettingsConfigDict(
        env_prefix="SAFEPOINT_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
        frozen=True,
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    amqp: AmqpSettings = Field(default_factory=AmqpSettings)
    http: JobExecutorHttpSettings = Field(default_factory=JobExecutorHttpSettings)
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "auto"
    event_loop: EventLoop = "auto"
    delegates: DelegatesSettings = Field(default_factory=DelegatesSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
