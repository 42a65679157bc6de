"""Exclusive jobs of one process instance take turns in a job-executor process."""

from __future__ import annotations

import asyncio

from safepoint_job_executor.turns import InstanceTurns


async def _job(turns: InstanceTurns, instance: str, name: str, log: list[str]) -> None:
    async with turns.turn(instance):
        log.append(f"{name} starts")
        await asyncio.sleep(0.01)
        log.append(f"{name} ends")


def test_jobs_of_one_instance_run_one_at_a_time_in_arrival_order() -> None:
    async def scenario() -> list[str]:
        turns = InstanceTurns()
        log: list[str] = []
        await asyncio.gather(*(_job(turns, "pi-1", name, log) for name in "abc"))
        assert turns.instances == 0  # nothing kept once every turn is over
        return log

    assert asyncio.run(scenario()) == [
        "a starts",
        "a ends",
        "b starts",
        "b ends",
        "c starts",
        "c ends",
    ]


def test_jobs_of_other_instances_do_not_wait() -> None:
    async def scenario() -> list[str]:
        turns = InstanceTurns()
        log: list[str] = []
        await asyncio.gather(_job(turns, "pi-1", "a", log), _job(turns, "pi-2", "b", log))
        return log

    assert asyncio.run(scenario())[:2] == ["a starts", "b starts"]


def test_a_cancelled_waiter_leaves_the_line_and_the_next_one_gets_the_turn() -> None:
    async def scenario() -> list[str]:
        turns = InstanceTurns()
        log: list[str] = []
        first = asyncio.create_task(_job(turns, "pi-1", "a", log))
        await asyncio.sleep(0)
        assert turns.busy("pi-1") and not turns.busy("pi-2")
        second = asyncio.create_task(_job(turns, "pi-1", "b", log))
        third = asyncio.create_task(_job(turns, "pi-1", "c", log))
        await asyncio.sleep(0)
        second.cancel()
        await asyncio.gather(first, third, return_exceptions=True)
        assert second.cancelled()
        assert turns.instances == 0
        return log

    assert asyncio.run(scenario()) == ["a starts", "a ends", "c starts", "c ends"]
