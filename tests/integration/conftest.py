"""Fixtures for tests against a real database: an embedded engine with a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from bpmn_doc import Failing, Recorder

from safepoint import Engine, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """A clock standing at 2026-01-01 10:00 UTC until moved."""
    return ManualClock(datetime(2026, 1, 1, 10, 0, tzinfo=UTC))


@pytest.fixture
def recorder() -> Recorder:
    """Records every delegate and listener call (registered as ``record``)."""
    return Recorder()


@pytest.fixture
def failing() -> Failing:
    """Fails while the variable ``fail`` is not false (registered as ``failing``)."""
    return Failing()


@pytest.fixture
def engine(
    database_url: str, clock: ManualClock, recorder: Recorder, failing: Failing
) -> Iterator[Engine]:
    """An embedded engine on a fresh database (SQLite and PostgreSQL)."""
    with Engine(
        database_url, delegates={"record": recorder, "failing": failing}, clock=clock
    ) as instance:
        yield instance
