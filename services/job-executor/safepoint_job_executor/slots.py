"""The job-executor's worker threads, handed out on the event loop one job at a time.

The consumer's prefetch is larger than its worker threads (``SAFEPOINT_EXECUTOR_PREFETCH``,
8 × the threads by default): the broker keeps the executor supplied while its threads
run, and a message whose process instance is busy here (:mod:`~safepoint_job_executor.turns`)
does not hold a thread's place. A delivered message waits for a free thread here, on the
event loop and unacknowledged, first come first served; no job waits in the thread pool's
own queue, so a stopping consumer can hand back every message that has not started
(:meth:`ThreadSlots.close`): it is requeued for another executor at once, not run during
the shutdown's grace period.
"""

from __future__ import annotations

import asyncio
from collections import deque


class ThreadSlots:
    """``size`` worker threads, taken and given back by jobs (event loop only).

    Args:
        size: how many jobs run at once.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self._free = size
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self._closed = False

    @property
    def waiting(self) -> int:
        """How many jobs wait for a thread (safe to read from another thread).

        A waiter cancelled with its task (a closing channel cancels every handler at
        once) counts until its task runs again and leaves the line.
        """
        return len(self._waiters)

    async def take(self) -> bool:
        """Wait for a free thread and take it; ``False`` (nothing taken) once closed.

        A caller cancelled while waiting leaves the line, and gives back a thread it was
        handed meanwhile.
        """
        if self._closed:
            return False
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.give_back()  # handed over just before the cancellation landed
            else:
                waiter.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            raise

    def give_back(self) -> None:
        """Give a taken thread back: to the longest waiting job, or to the free ones."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # not cancelled with its task before it could leave
                waiter.set_result(True)
                return
        self._free += 1

    def close(self) -> None:
        """Turn every waiting job away (its :meth:`take` returns ``False``), and later ones."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(False)
