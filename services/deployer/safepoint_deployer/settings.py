"""The deployer service's settings, read once from ``SAFEPOINT_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from safepoint.parser import DEFAULT_MAX_BYTES
from safepoint.settings import (
    AmqpSettings,
    DatabaseSettings,
    DelegatesSettings,
    EventLoop,
    HttpSettings,
    LogFormat,
    LogLevel,
)

DEFAULT_PORT = 8081
"""The deployer's HTTP port unless ``SAFEPOINT_HTTP_PORT`` says otherwise."""


class DeployerHttpSettings(HttpSettings):
    """Where the deployer's HTTP API listens (port 8081 by default)."""

    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)


class Settings(BaseSettings):
    """Everything the deployer service is configured with.

    Environment variables: ``SAFEPOINT_DATABASE_URL``, ``SAFEPOINT_DATABASE_POOL_SIZE``,
    ``SAFEPOINT_DATABASE_MIGRATE``, ``SAFEPOINT_AMQP_URL``, ``SAFEPOINT_HTTP_HOST``,
    ``SAFEPOINT_HTTP_PORT``, ``SAFEPOINT_LOG_LEVEL``, ``SAFEPOINT_LOG_FORMAT``,
    ``SAFEPOINT_EVENT_LOOP``,
    ``SAFEPOINT_DELEGATES_MODULE`` (the
    end listeners that run when a cascading delete cancels instances), and
    ``SAFEPOINT_MAX_RESOURCE_BYTES``, ``SAFEPOINT_PUBLISH_EVENTS``.
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
    http: DeployerHttpSettings = Field(default_factory=DeployerHttpSettings)
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "auto"
    event_loop: EventLoop = "auto"
    delegates: DelegatesSettings = Field(default_factory=DelegatesSettings)
    max_resource_bytes: int = Field(
        default=DEFAULT_MAX_BYTES, ge=1, description="largest resource a deployment may hold"
    )
    publish_events: bool = Field(
        default=True,
        description="publish deployment.created to safepoint.events (needs RabbitMQ)",
    )
