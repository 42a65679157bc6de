"""Carrying out a command once, however often it is delivered.

A command that comes over a queue is delivered at least once: RabbitMQ redelivers it
when the engine committed it but could not acknowledge it (a crash, a lost
connection), and a sender that got no publisher confirm sends it again. Inside
:func:`recording_command`, the first transaction the engine opens records the
command's id first thing (its answer last) in ``processed_commands``. A second
delivery is then recognised by that same insert, before it did anything: it raises
:class:`~safepoint.errors.DuplicateCommand` at once if the first committed, or once
the first commits if it still runs (a concurrent delivery); if the first rolls back,
the second runs. Either way the state changes once, and :meth:`Engine.processed_command
<safepoint.embedded.Engine.processed_command>` gives both deliveries the same answer.
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
    fingerprint: str | None = None
    recorded: bool = False

    def record(self, now: datetime) -> ProcessedCommand:
        """The record of this command, its answer still to come."""
        return ProcessedCommand(self.command_id, self.command_type, now, None, self.fingerprint)


_PENDING: ContextVar[PendingCommand | None] = ContextVar("safepoint_pending_command", default=None)


def pending_command() -> PendingCommand | None:
    """The command the current context carries out, if it is to be recorded."""
    return _PENDING.get()


@contextmanager
def recording_command(
    command_id: str,
    command_type: str,
    *,
    answer: Answer | None = None,
    fingerprint: str | None = None,
) -> Iterator[PendingCommand]:
    """Record the command ``command_id`` in the first transaction the engine opens here.

    Call one command of the engine (start, correlate, complete...) inside the block, in
    the same thread. ``answer`` makes the JSON the command is answered with from the
    outcomes of that transaction; it is stored with the record, so that a second
    delivery gets the same answer. ``fingerprint`` (a hash of the command's content)
    is stored too, to tell a redelivery from another command under the same id.

    Raises:
        DuplicateCommand: (from the engine's call inside the block) the id is recorded
            already: the command was carried out before, or concurrently; nothing of
            this run is kept. Look the record up with ``Engine.processed_command``.
    """
    pending = PendingCommand(command_id, command_type, answer, fingerprint)
    token = _PENDING.set(pending)
    try:
        yield pending
    finally:
        _PENDING.reset(token)


@contextmanager
def not_recording() -> Iterator[None]:
    """Leave the transactions of this block out of any command being recorded.

    The engine's own follow-up transactions (recording a job's failure after its run
    rolled back) do not carry out the command.
    """
    token = _PENDING.set(None)
    try:
        yield
    finally:
        _PENDING.reset(token)
