"""ISO-8601 durations and Camunda's ``failedJobRetryTimeCycle``, parsed without libraries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W"
    r"|(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+)(?:[.,](?P<fraction>\d+))?S)?)?)",
    re.ASCII,
)
_DAYS_PER_UNIT = {"years": 365, "months": 30, "weeks": 7, "days": 1}
_SECONDS_PER_UNIT = {"hours": 3600, "minutes": 60, "seconds": 1}
_REPEAT = re.compile(r"R(?P<count>[^/]*)/(?P<rest>.*)", re.DOTALL)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration ``PnYnMnDTnHnMnS`` or ``PnW``.

    A year counts 365 days and a month 30 days. Seconds may have a fraction
    (``PT1.5S``). Surrounding whitespace is ignored.

    Raises:
        ValueError: ``text`` is not such a duration.
    """
    stripped = text.strip()
    match = _DURATION.fullmatch(stripped)
    if match is None or stripped in ("P", "PT") or stripped.endswith("T"):
        raise ValueError(f"invalid ISO-8601 duration {text!r}: {_duration_problem(stripped)}")
    values = match.groupdict()
    days = sum(int(values[unit] or 0) * count for unit, count in _DAYS_PER_UNIT.items())
    seconds = sum(int(values[unit] or 0) * count for unit, count in _SECONDS_PER_UNIT.items())
    microseconds = int((values["fraction"] or "0")[:6].ljust(6, "0"))
    try:
        return timedelta(days=days, seconds=seconds, microseconds=microseconds)
    except OverflowError as exc:
        raise ValueError(f"invalid ISO-8601 duration {text!r}: it is too long") from exc


def _duration_problem(text: str) -> str:
    if not text:
        return "it is empty"
    if not text.startswith("P"):
        return "it must start with 'P', as in 'PT5M' or 'P1D'"
    if text == "P":
        return "it has no components, as in 'PT5M' or 'P1D'"
    if text.endswith("T"):
        return "'T' must be followed by hours, minutes or seconds, as in 'PT5M'"
    return (
        "expected the form PnYnMnDTnHnMnS or PnW, with hours, minutes and seconds after 'T'"
        " (only seconds may have a fraction)"
    )


@dataclass(frozen=True)
class RetryCycle:
    """A parsed ``camunda:failedJobRetryTimeCycle``.

    Attributes:
        intervals: the delays before the next attempts; one for the ``Rn/D`` form.
        attempts: how many times the job runs in total: the job's initial retries.
    """

    intervals: tuple[timedelta, ...]
    attempts: int

    def __post_init__(self) -> None:
        """Check that there is an interval and at least one attempt."""
        if not self.intervals:
            raise ValueError("a retry cycle needs at least one interval")
        if self.attempts < 1:
            raise ValueError(f"a retry cycle needs at least 1 attempt, not {self.attempts}")

    def interval_for(self, retries_before_decrement: int) -> timedelta:
        """The delay before the next attempt, after a failure with these retries left.

        Camunda's rule (``DefaultJobRetryCmd``): with ``k`` intervals and ``r`` retries
        before the decrement, the interval at index ``max(0, min(k-1, k-(r-1)))``. When an
        operator raised the retries above ``k + 1``, the first interval is reused.
        """
        count = len(self.intervals)
        index = max(0, min(count - 1, count - (retries_before_decrement - 1)))
        return self.intervals[index]


def parse_retry_cycle(text: str) -> RetryCycle:
    """Parse a retry cycle: ``R<n>/<duration>`` or a comma-separated list of durations.

    ``R<n>/D`` gives ``n`` attempts (0 is raised to 1, as Camunda does), one every ``D``.
    A list ``D1, D2, ..., Dk`` gives ``k + 1`` attempts, waiting ``Di`` after failure ``i``.

    Raises:
        ValueError: ``text`` is malformed, or is a repeat with a start or end date.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError("invalid retry cycle '': it is empty")
    try:
        if stripped.startswith("R"):
            return _parse_repeat(stripped)
        items = [item.strip() for item in stripped.split(",")]
        if "" in items:
            raise ValueError("a comma-separated list of durations has an empty item")
        intervals = tuple(parse_duration(item) for item in items)
        return RetryCycle(intervals=intervals, attempts=len(intervals) + 1)
    except ValueError as exc:
        raise ValueError(f"invalid retry cycle {text!r}: {exc}") from exc


def _parse_repeat(text: str) -> RetryCycle:
    match = _REPEAT.fullmatch(text)
    if match is None:
        raise ValueError("expected 'R<n>/<duration>', as in 'R5/PT5M'")
    count, rest = match["count"], match["rest"]
    if not count:
        raise ValueError("the repeat count is missing after 'R', as in 'R5/PT5M'")
    if not (count.isascii() and count.isdigit()):
        raise ValueError(f"the repeat count {count!r} is not a whole number >= 0")
    pieces = rest.split("/")
    if len(pieces) > 1 and not pieces[0].strip().startswith("P"):
        raise ValueError("start dates are not supported in a retry cycle; use 'R<n>/<duration>'")
    if len(pieces) > 1:
        raise ValueError(
            f"unexpected '/{'/'.join(pieces[1:])}' after the duration; use 'R<n>/<duration>'"
        )
    return RetryCycle(intervals=(parse_duration(rest),), attempts=max(int(count), 1))
