"""The embedded engine: the core on a database, for Python programs and tests."""

from safepoint.core.outcome import CommandOutcome
from safepoint.embedded.clock import ManualClock, utc_now
from safepoint.embedded.commands import recording_command
from safepoint.embedded.engine import Engine, JobRun, JobSkip
from safepoint.embedded.tracecontext import use_trace_context
from safepoint.persistence.commands import ProcessedCommand

__all__ = [
    "CommandOutcome",
    "Engine",
    "JobRun",
    "JobSkip",
    "ManualClock",
    "ProcessedCommand",
    "recording_command",
    "use_trace_context",
    "utc_now",
]
