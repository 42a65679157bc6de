"""Carrying out a command once, however often it is delivered.

A command that comes over a queue is delivered at least once: RabbitMQ redelivers it
when the engine committed it but could not acknowledge it (a crash, a lost
connection), and a sender that got no publisher confirm sends it again. Inside
:func:`recording_command`, the first transaction the engine commits also records the
command's id, with its answer, in ``processed_commands``. A second delivery is then
recognised: before running it, by :meth:`Engine.processed_command
<safepoint.embedded.Engine.processed_command>`; while running it (a concurrent
delivery), by :class:`~safepoint.errors.DuplicateCommand` from its commit, which rolls
everything back. Either way the state changes once, and both deliveries get the same
answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from safepoint.core.outcome import CommandOutcome
from safepoint.persistence.commands import ProcessedCommand

Answer = Callable[[Sequence[CommandOutcome]], object]
"""The JSON answer of a command, made from what its transaction did (before it commits)."""


@dataclass(slots=True)
class PendingCommand:
    """A command being carried out, recorded by the first transaction that commits."""

    command_id: str
    command_type: str
    answer: Answer | None
    recorded: bool = False

    def processed(self, outcomes: Sequence[CommandOutcome], now: datetime) -> ProcessedCommand:
        """The record of this command, carried out by a transaction with ``outcomes``."""
        result = None if self.answer is None else self.answer(outcomes)
        return ProcessedCommand(self.command_id, self.command_type, now, result)


_PENDING: ContextVar[PendingCommand | None] = ContextVar("safepoint_pending_command", default=None)


def pending_command() -> PendingCommand | None:
    """The command the current context carries out, if it is to be recorded."""
    return _PENDING.get()


@contextmanager
def recording_command(
    command_id: str, command_type: str, *, answer: Answer | None = None
) -> Iterator[PendingCommand]:
    """Record the command ``command_id`` in the first transaction the engine commits here.

    Call the engine's command (start, correlate, complete...) inside the block, in the
    same thread. ``answer`` makes the JSON the command is answered with from the
    outcomes of that transaction; it is stored with the record, so that a second
    delivery gets the same answer.

    Raises:
        DuplicateCommand: (from the engine's call inside the block) the id is recorded
            already: the command was carried out before, or concurrently; nothing of
            this run is kept. Look the record up with ``Engine.processed_command``.
    """
    pending = PendingCommand(command_id, command_type, answer)
    token = _PENDING.set(pending)
    try:
        yield pending
    finally:
        _PENDING.reset(token)
