"""Which event loop a service runs on (``SAFEPOINT_EVENT_LOOP``)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from safepoint import eventloop
from safepoint.settings import EventLoop


def _kind(choice: EventLoop) -> str:
    loop = eventloop.loop_factory(choice)()
    try:
        return eventloop.loop_name(loop)
    finally:
        loop.close()


def test_auto_is_uvloop_a_dependency_here_and_asyncio_is_asyncio() -> None:
    assert _kind("auto") == "uvloop"
    assert _kind("uvloop") == "uvloop"
    assert _kind("asyncio") == "asyncio"


def test_without_uvloop_auto_falls_back_and_asking_for_it_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what a platform without it sees

    assert _kind("auto") == "asyncio"
    with pytest.raises(RuntimeError, match="uvloop is not installed"):
        eventloop.loop_factory("uvloop")


def test_a_uvloop_loop_runs_coroutines_and_worker_threads() -> None:
    async def main() -> int:
        return await asyncio.get_running_loop().run_in_executor(None, sum, [1, 2, 3])

    with asyncio.Runner(loop_factory=eventloop.loop_factory("uvloop")) as runner:
        assert runner.run(main()) == 6
