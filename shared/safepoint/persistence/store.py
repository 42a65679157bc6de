"""The entry point of persistence: a database, and units of work on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from safepoint.persistence.engine import build_engine
from safepoint.persistence.migrate import upgrade_engine
from safepoint.persistence.unit_of_work import UnitOfWork, translate_errors


class Store:
    """Safepoint's database, PostgreSQL (``postgresql+psycopg://``) or SQLite.

    Nothing connects until a unit of work is opened or :meth:`migrate` is called.
    ``sqlite://`` (in memory) keeps one database for the life of the store, shared by
    every unit of work.

    Args:
        database_url: a SQLAlchemy URL; ``postgresql://`` means psycopg 3.
        pool_size: how many connections the pool keeps open (not for in-memory SQLite).
        echo: log every statement (SQLAlchemy's ``echo``).
    """

    def __init__(self, database_url: str, *, pool_size: int = 5, echo: bool = False) -> None:
        self.engine: Engine = build_engine(database_url, pool_size=pool_size, echo=echo)

    def migrate(self) -> None:
        """Bring the schema up to date (Alembic ``upgrade head``)."""
        with translate_errors():
            upgrade_engine(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Open one transaction: committed on a clean exit, rolled back on an exception.

        Raises:
            PersistenceError: the database failed or refused (``OptimisticLockError``
                passes through as it is).
        """
        with translate_errors(), self.engine.connect() as connection:
            uow = UnitOfWork(connection)
            try:
                with connection.begin():
                    yield uow
            finally:
                uow.close()
