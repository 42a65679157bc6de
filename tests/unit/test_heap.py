"""A service's start-up heap is frozen once, out of the cyclic collector's way.

Run in a fresh interpreter: the test process must not freeze its own heap.
"""

from __future__ import annotations

import json
import subprocess
import sys

from safepoint import heap

PROBE = """
import gc, json, weakref
import sqlalchemy  # what a service imports: a large heap
from safepoint import heap

class Node:
    pass

garbage = Node()
garbage.me = garbage  # a cycle start-up left behind: only the collector frees it
left_behind = weakref.ref(garbage)
del garbage
kept = Node()
frozen = heap.freeze_startup()
print(json.dumps({
    "frozen": frozen,
    "cycle_collected": left_behind() is None,
    # gc.get_objects() lists what the collector walks: the frozen objects are not there
    "kept_is_frozen": all(kept is not o for o in gc.get_objects()),
    "threshold": gc.get_threshold(),
}))
"""


def test_freezing_collects_start_up_garbage_then_takes_the_live_heap_out_of_the_walks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    seen = json.loads(done.stdout)

    assert seen["cycle_collected"]  # collected before the freeze, not frozen with the rest
    assert seen["frozen"] > 10_000  # the imported modules' objects
    assert seen["kept_is_frozen"]  # no generation the collector walks holds it any more
    assert tuple(seen["threshold"]) == heap.THRESHOLDS
