"""Exclusive jobs of one process instance take turns in a job-executor process.

An exclusive job locks its process instance's row for its transaction, so two
exclusive jobs of one instance never run at once (Camunda's exclusive jobs; its job
acquisition hands an instance's exclusive jobs to one thread, which runs them one after
the other). A fork publishes its branches' jobs together, and without turns the
executor's worker threads would take several of them at once: all but one would wait
for the row lock inside an open transaction, each holding a thread and a database
connection, and read the instance again once it got the lock. With turns, a job message
whose instance already has an exclusive job running (or queued for a thread) in this
process waits on the event loop, unacknowledged, until that job's transaction is over;
no thread or connection is held for it. Waiting messages still count against the
consumer's prefetch (8 messages per worker thread by default): while they are fewer than
that, the threads run the jobs of other instances; a fork wider than that fills the
prefetch and runs one job at a time here (it could not run faster: its jobs exclude each
other). The row lock still decides between processes: turns only keep one process from
queueing on its own lock. A message requeued when the consumer stops counts as a
delivery (``x-delivery-count``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0
    """The jobs running or waiting for this instance (the entry goes at 0)."""


class InstanceTurns:
    """One turn at a time per process instance, first come first served (event loop only)."""

    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}

    @property
    def instances(self) -> int:
        """How many process instances have a job running or waiting here."""
        return len(self._turns)

    def busy(self, process_instance_id: str) -> bool:
        """Whether a job of ``process_instance_id`` has or waits for its turn."""
        return process_instance_id in self._turns

    @asynccontextmanager
    async def turn(self, process_instance_id: str) -> AsyncIterator[None]:
        """Wait until no other job of ``process_instance_id`` runs, and hold the turn.

        A waiter that is cancelled leaves the line; the next one gets the turn.
        """
        turn = self._turns.get(process_instance_id)
        if turn is None:
            turn = self._turns[process_instance_id] = _Turn()
        turn.holders += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.holders -= 1
            if turn.holders == 0:
                del self._turns[process_instance_id]
