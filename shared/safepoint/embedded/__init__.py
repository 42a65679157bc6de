"""The embedded engine: the core on a database, for Python programs and tests."""

from safepoint.embedded.clock import ManualClock, utc_now
from safepoint.embedded.engine import Engine
from safepoint.embedded.outcome import CommandOutcome

__all__ = ["CommandOutcome", "Engine", "ManualClock", "utc_now"]
