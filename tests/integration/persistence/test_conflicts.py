"""A locked SQLite database is a concurrent-transaction conflict, not a hard failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from safepoint.errors import OptimisticLockError
from safepoint.persistence.store import Store


def test_a_write_blocked_by_another_sqlite_writer_is_an_optimistic_lock_error(
    tmp_path: Path,
) -> None:
    """The busy timeout passes while another connection holds the write lock."""
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    store = Store(url)
    store.migrate()
    blocker = store.engine.raw_connection()
    try:
        blocker.execute("PRAGMA busy_timeout=0")
        blocker.execute("BEGIN IMMEDIATE")  # hold the write lock
        with pytest.raises(OptimisticLockError, match="concurrently"), store.unit_of_work() as uow:
            uow.connection.exec_driver_sql("PRAGMA busy_timeout=50")
            uow.connection.execute(text("DELETE FROM jobs"))
    finally:
        blocker.rollback()
        blocker.close()
        store.dispose()
