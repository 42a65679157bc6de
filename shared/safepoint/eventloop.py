"""Which asyncio event loop a service runs on: uvloop where it is installed, or asyncio's own.

uvloop (libuv underneath) makes the AMQP side of a safe point cheaper: reading and
writing frames, futures, callbacks, the worker threads' hand-back. The services depend
on it wherever it builds (not on Windows); ``SAFEPOINT_EVENT_LOOP=asyncio`` turns it off,
e.g. to rule it out while chasing a bug. The engine and the deployer pass the choice to
uvicorn, whose ``loop`` option takes the same three names (their AMQP side runs on the
same loop); the job-executor runs its loop itself.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

from safepoint.settings import EventLoop

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(choice: EventLoop) -> LoopFactory:
    """The factory of the loop ``choice`` names; ``auto`` is uvloop when importable.

    Raises:
        RuntimeError: ``uvloop`` was asked for and is not installed.
    """
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise RuntimeError(
                "SAFEPOINT_EVENT_LOOP=uvloop but uvloop is not installed "
                "(it does not build on Windows); use auto or asyncio"
            ) from None
        return asyncio.new_event_loop
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: which kind ``loop`` is, for the start-up log line."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
