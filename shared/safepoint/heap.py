"""A service's heap: what its start-up made is frozen, out of the cyclic collector's way.

A service imports SQLAlchemy, pydantic, FastAPI, aio-pika, OpenTelemetry and lxml:
hundreds of thousands of objects that live as long as the process. Python's cyclic
garbage collector walks every one of them at each collection of its oldest generation,
holding the GIL. Under the benchmark's chain (``make bench``, 2026-11-25) the
job-executors made such full collections while jobs ran, of 50 to 378 ms each: for that
long, no job of the process moved, and no heartbeat or health check was answered.

:func:`freeze_startup` runs once, when the service has imported and built what it keeps
(the job-executor: just before it takes its first job; the engine and the deployer:
before their HTTP server starts, so what their lifespan opens is not frozen). It
collects what start-up left behind, moves everything still alive to the permanent
generation (:func:`gc.freeze`: the collector never walks those objects again, so a
cycle among them is never collected; reference counting still frees them), and
collects the young generation less often. Reference counting frees nearly everything
a request or a job allocates; the collector is only there for the rare cycles, and it
still runs.
"""

from __future__ import annotations

import gc
from typing import Final

THRESHOLDS: Final = (10_000, 20, 50)
"""The collector's thresholds once the start-up heap is frozen (Python's: 700, 10, 10):
a young collection every 10,000 net allocations of container objects, a middle one
every 20 young ones, a full one after 50 middle ones at the earliest (CPython also waits until
a quarter as many objects as the oldest generation holds are waiting to join it)."""


def freeze_startup() -> int:
    """Collect, freeze what is alive, raise the thresholds; return how many objects froze.

    Call it once, at the end of a service's start, never in a library or a test process
    that goes on building and dropping applications: a cycle among frozen objects is
    never collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return gc.get_freeze_count()
