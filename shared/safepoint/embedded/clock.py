"""Clocks for the embedded engine: the real one, and one tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until moved: ``clock.advance(seconds=10)``.

    Pass it as ``Engine(..., clock=clock)`` to see retry delays without waiting.
    """

    def __init__(self, start: datetime | None = None) -> None:
        """Start at ``start`` (aware), or at the current time."""
        if start is not None and start.tzinfo is None:
            raise ValueError("the clock's start must be timezone-aware")
        self.now = start or utc_now()

    def __call__(self) -> datetime:
        """The clock's current time."""
        return self.now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move the clock forward by ``delta`` or by ``timedelta(**kwargs)``."""
        self.now += delta if delta is not None else timedelta(**kwargs)
        return self.now

    def set(self, now: datetime) -> None:
        """Move the clock to ``now`` (aware)."""
        if now.tzinfo is None:
            raise ValueError("the clock's time must be timezone-aware")
        self.now = now
