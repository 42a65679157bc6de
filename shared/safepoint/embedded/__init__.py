"""The embedded engine: the core on a database, for Python programs and tests."""

from safepoint.core.outcome import CommandOutcome
from safepoint.embedded.clock import ManualClock, utc_now
from safepoint.embedded.engine import Engine

__all__ = ["CommandOutcome", "Engine", "ManualClock", "utc_now"]
