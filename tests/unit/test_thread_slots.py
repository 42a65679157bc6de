"""Worker threads handed out on the event loop: first come first served, closed on stop."""

from __future__ import annotations

import asyncio

import pytest

from safepoint_job_executor.slots import ThreadSlots

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_free_threads_are_taken_at_once_then_jobs_wait_in_order() -> None:
    slots = ThreadSlots(2)
    assert await slots.take()
    assert await slots.take()

    order: list[int] = []

    async def job(n: int) -> None:
        assert await slots.take()
        order.append(n)

    waiting = [asyncio.create_task(job(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert slots.waiting == 3 and order == []

    for _ in range(3):
        slots.give_back()
        await asyncio.sleep(0)
    await asyncio.gather(*waiting)
    assert order == [0, 1, 2]
    assert slots.waiting == 0


async def test_closing_turns_the_waiting_jobs_and_later_ones_away() -> None:
    slots = ThreadSlots(1)
    assert await slots.take()
    waiting = asyncio.create_task(slots.take())
    await asyncio.sleep(0)

    slots.close()

    assert await waiting is False
    assert await slots.take() is False
    assert slots.waiting == 0


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    slots = ThreadSlots(1)
    assert await slots.take()
    cancelled = asyncio.create_task(slots.take())
    after = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    assert slots.waiting == 1

    slots.give_back()
    assert await after is True


async def test_a_thread_handed_to_a_waiter_cancelled_meanwhile_is_given_on() -> None:
    slots = ThreadSlots(1)
    assert await slots.take()
    first = asyncio.create_task(slots.take())
    second = asyncio.create_task(slots.take())
    await asyncio.sleep(0)

    slots.give_back()  # handed to first, which is cancelled before it resumes
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first

    assert await second is True


async def test_waiters_cancelled_together_do_not_take_the_threads_given_back() -> None:
    """A closing channel cancels every handler at once: the running ones give back first."""
    slots = ThreadSlots(1)
    assert await slots.take()
    cancelled = [asyncio.create_task(slots.take()) for _ in range(3)]
    later = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    for task in cancelled:
        task.cancel()  # their waiters are cancelled now; the tasks have not run yet

    slots.give_back()  # the running job's handler, before the cancelled ones leave

    assert await later is True
    for task in cancelled:
        with pytest.raises(asyncio.CancelledError):
            await task
    slots.give_back()
    assert await slots.take() is True  # the thread came back, nothing leaked


async def test_closing_with_cancelled_waiters_still_turns_the_others_away() -> None:
    slots = ThreadSlots(1)
    assert await slots.take()
    cancelled = asyncio.create_task(slots.take())
    waiting = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    cancelled.cancel()

    slots.close()

    assert await waiting is False
    with pytest.raises(asyncio.CancelledError):
        await cancelled


def test_at_least_one_thread() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ThreadSlots(0)
