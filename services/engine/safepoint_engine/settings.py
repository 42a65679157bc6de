"""The engine service's settings, read once from ``SAFEPOINT_*`` environment variables."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
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

DEFAULT_PORT = 8080
"""The engine's HTTP port unless ``SAFEPOINT_HTTP_PORT`` says otherwise."""


class EngineHttpSettings(HttpSettings):
    """Where the engine's HTTP API listens (port 8080 by default)."""

    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)


class EngineMessagingSettings(BaseModel):
    """The engine's use of RabbitMQ (``SAFEPOINT_MESSAGING_*``).

    ``job_lease`` (seconds) is how long a new job or external task is left to the
    publisher that created it (and an external task to its worker) before the
    dispatcher hands it out again; ``command_retention`` (seconds, 7 days by default)
    how long a processed command is remembered, so that its redelivery is answered
    and not run again; ``enabled=false`` runs the HTTP API alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    commands_prefetch: int = Field(default=16, ge=1)
    dispatch_interval: float = Field(default=0.5, gt=0)
    dispatch_batch: int = Field(default=500, ge=1)
    job_lease: float = Field(default=300.0, gt=0)
    command_retention: float = Field(default=7 * 24 * 3600.0, gt=0)
    node_name: str | None = None


class Settings(BaseSettings):
    """Everything the engine service is configured with.

    Environment variables: ``SAFEPOINT_DATABASE_URL``, ``SAFEPOINT_DATABASE_POOL_SIZE``,
    ``SAFEPOINT_DATABASE_MIGRATE``, ``SAFEPOINT_AMQP_URL``, ``SAFEPOINT_HTTP_HOST``,
    ``SAFEPOINT_HTTP_PORT``, ``SAFEPOINT_LOG_LEVEL``, ``SAFEPOINT_LOG_FORMAT``,
    ``SAFEPOINT_EVENT_LOOP``,
    ``SAFEPOINT_DELEGATES_MODULE``,
    ``SAFEPOINT_ENGINE_DEFAULT_RETRIES``, ``SAFEPOINT_ENGINE_FAILED_JOB_RETRY_TIME_CYCLE``,
    ``SAFEPOINT_ENGINE_DEFINITION_CACHE_SIZE``,
    ``SAFEPOINT_MESSAGING_ENABLED``, ``SAFEPOINT_MESSAGING_JOB_LEASE``,
    ``SAFEPOINT_MESSAGING_DISPATCH_INTERVAL``, ``SAFEPOINT_MESSAGING_COMMANDS_PREFETCH``,
    ``SAFEPOINT_MESSAGING_COMMAND_RETENTION``.
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
    http: EngineHttpSettings = Field(default_factory=EngineHttpSettings)
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "auto"
    event_loop: EventLoop = "auto"
    delegates: DelegatesSettings = Field(default_factory=DelegatesSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    messaging: EngineMessagingSettings = Field(default_factory=EngineMessagingSettings)
