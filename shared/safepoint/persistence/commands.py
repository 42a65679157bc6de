"""The processed-commands log: which commands were carried out, and their answers.

A command that arrives over a queue is delivered at least once. Recording its id first
thing in the transaction that carries it out makes a second delivery recognisable: the
insert finds the id taken, the second transaction rolls back before doing anything,
and the caller answers with the recorded result instead
(:func:`safepoint.embedded.recording_command`).

The insert is ``ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite alike): a concurrent
transaction holding the same id makes it wait for that one's end, and a taken id is
reported by no row inserted rather than by a unique violation in the database's log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from safepoint.errors import DuplicateCommand
from safepoint.persistence import tables

_TABLE = tables.processed_commands


@dataclass(frozen=True, slots=True)
class ProcessedCommand:
    """A command carried out: its id, its type, when it committed and its answer.

    ``result`` is the JSON value it was answered with (``None`` for most commands);
    ``fingerprint`` identifies its content (a hash), to tell a redelivery from another
    command sent with the same id.
    """

    id: str
    command_type: str
    processed_at: datetime
    result: Any = None
    fingerprint: str | None = None


def record(connection: Connection, command: ProcessedCommand) -> None:
    """Insert ``command`` in the connection's transaction.

    Raises:
        DuplicateCommand: its id is recorded already (committed by another transaction).
    """
    values = {
        "id": command.id,
        "command_type": command.command_type,
        "processed_at": command.processed_at,
        "result": _dumps(command.result),
        "fingerprint": command.fingerprint,
    }
    if connection.dialect.name == "postgresql":
        insert = postgresql.insert(_TABLE).values(values).on_conflict_do_nothing()
        inserted = connection.execute(insert.returning(_TABLE.c.id)).first() is not None
    else:  # SQLite: RETURNING needs 3.35; the row count says the same
        ignore = sqlite.insert(_TABLE).values(values).on_conflict_do_nothing()
        inserted = connection.execute(ignore).rowcount == 1
    if not inserted:
        raise DuplicateCommand(command.id)


def set_result(connection: Connection, command_id: str, result: Any) -> None:
    """Store the answer of a command recorded in this transaction."""
    connection.execute(
        update(_TABLE).where(_TABLE.c.id == command_id).values(result=_dumps(result))
    )


def _dumps(result: Any) -> str | None:
    return None if result is None else json.dumps(result)


def find(connection: Connection, command_id: str) -> ProcessedCommand | None:
    """The processed command with this id, or ``None``."""
    row = connection.execute(select(_TABLE).where(_TABLE.c.id == command_id)).mappings().first()
    if row is None:
        return None
    return ProcessedCommand(
        id=row["id"],
        command_type=row["command_type"],
        processed_at=row["processed_at"],
        result=None if row["result"] is None else json.loads(row["result"]),
        fingerprint=row["fingerprint"],
    )


def prune(connection: Connection, *, before: datetime, limit: int) -> int:
    """Forget up to ``limit`` commands processed before ``before``; return how many."""
    oldest = (
        select(_TABLE.c.id)
        .where(_TABLE.c.processed_at < before)
        .order_by(_TABLE.c.processed_at)
        .limit(limit)
    )
    return connection.execute(delete(_TABLE).where(_TABLE.c.id.in_(oldest))).rowcount
