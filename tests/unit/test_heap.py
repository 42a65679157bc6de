"""A service's start-up heap is frozen once, out of the cyclic collector's way.

Run in a fresh interpreter: what is frozen is never freed, so the test process must not
freeze its own heap.
"""

from __future__ import annotations

import json
import subprocess
import sys

from safepoint import heap

PROBE = """
import gc, json
import sqlalchemy  # what a service imports: a large heap
from safepoint import heap

garbage = []
garbage.append(garbage)  # a cycle start-up left behind
del garbage
frozen = heap.freeze_startup()
print(json.dumps({
    "frozen": frozen,
    "count": gc.get_freeze_count(),
    "threshold": gc.get_threshold(),
    "young": gc.get_count()[0],
}))
"""


def test_freezing_collects_then_moves_every_live_object_out_of_the_collectors_walks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    seen = json.loads(done.stdout)

    assert seen["frozen"] == seen["count"] > 10_000  # the imported modules' objects
    assert tuple(seen["threshold"]) == heap.THRESHOLDS
    assert seen["young"] < 100  # collected first: nothing left in the young generation
