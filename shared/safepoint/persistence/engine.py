"""Building a SQLAlchemy ``Engine`` for PostgreSQL (psycopg 3) or SQLite from a URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another writer's lock before it fails."""


def database_url(url: str | URL) -> URL:
    """Parse ``url``; a plain ``postgresql://`` URL gets the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_in_memory_sqlite(url: URL) -> bool:
    """Whether ``url`` names an in-memory SQLite database."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def build_engine(url: str | URL, *, pool_size: int = 5, echo: bool = False) -> Engine:
    """Create an engine for ``url``.

    In-memory SQLite uses one shared connection (``StaticPool``) so that every unit of
    work sees the same database; a SQLite file uses WAL and a busy timeout, so readers
    do not block the writer and writers queue up instead of failing at once.
    """
    parsed = database_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pre-ping: it would cost a round trip per unit of work. After a database
        # restart the first statement on a dead connection fails (the command is retried)
        # and SQLAlchemy replaces every pooled connection.
        return create_engine(parsed, pool_size=pool_size, echo=echo)
    if is_in_memory_sqlite(parsed):
        return create_engine(
            parsed,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            echo=echo,
        )
    engine = create_engine(parsed, pool_size=pool_size, echo=echo)
    event.listen(engine, "connect", _configure_sqlite_file)
    return engine


def _configure_sqlite_file(dbapi_connection: Any, connection_record: Any) -> None:
    """Put a new SQLite file connection in WAL mode with a busy timeout."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()
