"""Setting groups every Safepoint service shares, as plain pydantic models.

Each service composes these groups into its own ``pydantic_settings.BaseSettings``
(``safepoint_<service>/settings.py``), which reads them from ``SAFEPOINT_*`` environment
variables: the group name, then the field, e.g. ``SAFEPOINT_DATABASE_URL`` →
``database.url``, ``SAFEPOINT_HTTP_PORT`` → ``http.port``. Settings are built once, in a
service's ``__main__``, and passed down; nothing here reads the environment or connects.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_DATABASE_URL = "sqlite:///safepoint.db"
"""A SQLite file in the working directory: the laptop default."""

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
"""A local RabbitMQ with its default user."""

DELEGATES_ENTRY_POINT_GROUP = "safepoint.delegates"
"""The Python entry point group delegates are registered in (name → ``module:attribute``)."""

LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
"""The log levels a service accepts (``SAFEPOINT_LOG_LEVEL``)."""

LogFormat = Literal["json", "text", "auto"]
"""The log formats a service accepts (``SAFEPOINT_LOG_FORMAT``): ``auto`` is ``text`` on
a terminal, else ``json`` (one object per line)."""

EventLoop = Literal["auto", "asyncio", "uvloop"]
"""The event loops a service runs on (``SAFEPOINT_EVENT_LOOP``): ``auto`` is uvloop where
it is installed, else asyncio's own (:mod:`safepoint.eventloop`)."""

_GROUP_CONFIG = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(BaseModel):
    """The database every service shares (``SAFEPOINT_DATABASE_*``)."""

    model_config = _GROUP_CONFIG

    url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://user@host/db",
    )
    pool_size: int = Field(default=5, ge=1, description="connections kept open per process")
    migrate: bool = Field(
        default=True,
        description="bring the schema up to date on start (turn off where a migration job does it)",
    )


class AmqpSettings(BaseModel):
    """The RabbitMQ broker (``SAFEPOINT_AMQP_*``)."""

    model_config = _GROUP_CONFIG

    url: str = Field(default=DEFAULT_AMQP_URL, description="amqp://user:password@host:port/vhost")


class HttpSettings(BaseModel):
    """Where a service's HTTP server listens (``SAFEPOINT_HTTP_*``).

    Each service subclasses it to give ``port`` its own default.
    """

    model_config = _GROUP_CONFIG

    host: str = Field(default="127.0.0.1", description="interface to bind (0.0.0.0 for all)")
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="the largest request body accepted; a larger one is answered 413",
    )


class DelegatesSettings(BaseModel):
    """Where the delegate registry comes from (``SAFEPOINT_DELEGATES_*``).

    Delegates are found by name only: in the entry point group ``entry_point_group`` of
    the installed distributions, and in the ``DELEGATES`` mapping of ``module`` if one is
    named. Nothing named in a BPMN file is ever imported.
    """

    model_config = _GROUP_CONFIG

    module: str | None = Field(
        default=None,
        description="dotted name of a module whose DELEGATES mapping names delegates",
    )
    entry_point_group: str = Field(default=DELEGATES_ENTRY_POINT_GROUP)
    use_entry_points: bool = Field(default=True, description="load the entry point group")


class EngineSettings(BaseModel):
    """Engine-wide behaviour (``SAFEPOINT_ENGINE_*``), Camunda's engine configuration."""

    model_config = _GROUP_CONFIG

    default_retries: int = Field(
        default=3, ge=0, description="attempts of a job that has no failedJobRetryTimeCycle"
    )
    failed_job_retry_time_cycle: str | None = Field(
        default=None,
        description="retry cycle (e.g. R5/PT1M) for activities that define none",
    )
    definition_cache_size: int = Field(
        default=1000,
        ge=1,
        description="process definitions kept parsed in memory (the ones used last)",
    )
