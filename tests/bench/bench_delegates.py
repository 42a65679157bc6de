"""No-op delegates for the benchmark's services (``SAFEPOINT_DELEGATES_MODULE=bench_delegates``).

``noop`` does nothing but, when ``SAFEPOINT_BENCH_TIMES_DIR`` is set, append one line
``<process instance id> <activity id> <time.time()>`` to ``<pid>.times`` in that
directory: one unbuffered write of ~70 bytes (a few microseconds), from which the
harness computes the latency between consecutive safe points of an instance.
"""

from __future__ import annotations

import os
import time
from typing import Any

_DIR = os.environ.get("SAFEPOINT_BENCH_TIMES_DIR")
_FD: int | None = None


def _fd() -> int:
    global _FD
    if _FD is None:
        assert _DIR is not None
        path = os.path.join(_DIR, f"{os.getpid()}.times")
        _FD = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    return _FD


def noop(execution: Any) -> None:
    if _DIR:
        line = f"{execution.process_instance_id} {execution.activity_id} {time.time():.6f}\n"
        os.write(_fd(), line.encode())


DELEGATES = {"noop": noop}
