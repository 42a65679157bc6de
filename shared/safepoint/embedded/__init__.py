"""The embedded engine: the core on a database, for Python programs and tests."""

from safepoint.core.outcome import CommandOutcome
from safepoint.embedded.clock import ManualClock, utc_now
from safepoint.embedded.engine import Engine, JobRun, JobSkip
from safepoint.embedded.tracecontext import use_trace_context

__all__ = [
    "CommandOutcome",
    "Engine",
    "JobRun",
    "JobSkip",
    "ManualClock",
    "use_trace_context",
    "utc_now",
]
