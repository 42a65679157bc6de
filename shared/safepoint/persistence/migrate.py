"""Running Safepoint's Alembic migrations from code (no ``alembic.ini`` needed).

The migration scripts travel inside the package (``safepoint.persistence:migrations``),
so this works from an installed wheel as well as from a checkout.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

from safepoint.persistence.engine import build_engine

SCRIPT_LOCATION = "safepoint.persistence:migrations"
"""Where Alembic finds ``env.py`` and ``versions/``, as a package resource."""

_MIGRATION_LOCK_ID = 0x5AFE9017
"""PostgreSQL advisory lock key that keeps two services from migrating at once."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for Safepoint's migrations, using ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` in one transaction.

    On PostgreSQL a transaction-level advisory lock makes concurrent callers wait for
    each other, so several services may migrate at start-up.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        command.upgrade(alembic_config(connection), revision)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database at ``database_url`` to ``revision`` (the newest by default).

    An in-memory SQLite URL gets a database of its own that is gone afterwards: use
    :meth:`safepoint.persistence.store.Store.migrate` for those.
    """
    engine = build_engine(database_url, pool_size=1)
    try:
        upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """``python -m safepoint.persistence``: bring a database's schema up to date.

    The URL comes from ``--database-url``, else ``SAFEPOINT_DATABASE_URL``, else the
    laptop default (a SQLite file in the working directory).
    """
    import argparse
    import logging
    import os
    import sys

    from safepoint.errors import PersistenceError
    from safepoint.settings import DEFAULT_DATABASE_URL

    parser = argparse.ArgumentParser(prog="python -m safepoint.persistence")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SAFEPOINT_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="SQLAlchemy URL (default: $SAFEPOINT_DATABASE_URL or %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        upgrade(args.database_url)
    except PersistenceError as exc:
        sys.stderr.write(f"migration failed: {exc}\n")
        return 1
    logging.getLogger(__name__).info("database schema is up to date")
    return 0
