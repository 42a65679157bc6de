"""ISO-8601 durations and Camunda retry cycles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safepoint.isodate import RetryCycle, parse_duration, parse_retry_cycle


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT5M", timedelta(minutes=5)),
        ("PT30S", timedelta(seconds=30)),
        ("PT1H", timedelta(hours=1)),
        ("P2D", timedelta(days=2)),
        ("P1W", timedelta(weeks=1)),
        ("P1Y", timedelta(days=365)),
        ("P1M", timedelta(days=30)),
        ("P1Y2M3DT4H5M6S", timedelta(days=365 + 60 + 3, hours=4, minutes=5, seconds=6)),
        ("PT1.5S", timedelta(seconds=1, milliseconds=500)),
        ("PT0,25S", timedelta(milliseconds=250)),
        ("PT0.0000019S", timedelta(microseconds=1)),
        ("PT0S", timedelta(0)),
        ("PT90M", timedelta(minutes=90)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("  PT5M\n", timedelta(minutes=5)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "it is empty"),
        ("P", "it has no components"),
        ("PT", "'T' must be followed by hours, minutes or seconds"),
        ("P1DT", "'T' must be followed by hours, minutes or seconds"),
        ("5M", "it must start with 'P'"),
        ("-PT5M", "it must start with 'P'"),
        ("P1H", "expected the form PnYnMnDTnHnMnS or PnW"),
        ("PT1D", "expected the form PnYnMnDTnHnMnS or PnW"),
        ("PT0.5H", "only seconds may have a fraction"),
        ("P1W2D", "expected the form PnYnMnDTnHnMnS or PnW"),
        ("P1M1Y", "expected the form PnYnMnDTnHnMnS or PnW"),
        ("pt5m", "it must start with 'P'"),
        ("PT5M extra", "expected the form PnYnMnDTnHnMnS or PnW"),
        ("PT١M", "expected the form PnYnMnDTnHnMnS or PnW"),
        ("P99999999999D", "it is too long"),
    ],
)
def test_malformed_durations(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match="invalid ISO-8601 duration") as caught:
        parse_duration(text)
    assert problem in str(caught.value)


@settings(database=None)
@given(
    days=st.integers(0, 999),
    hours=st.integers(0, 99),
    minutes=st.integers(0, 999),
    seconds=st.integers(0, 99_999),
)
def test_duration_components_add_up(days: int, hours: int, minutes: int, seconds: int) -> None:
    text = f"P{days}DT{hours}H{minutes}M{seconds}S"
    assert parse_duration(text) == timedelta(
        days=days, hours=hours, minutes=minutes, seconds=seconds
    )


@pytest.mark.parametrize(
    ("text", "intervals", "attempts"),
    [
        ("R5/PT5M", (timedelta(minutes=5),), 5),
        ("R0/PT30S", (timedelta(seconds=30),), 1),
        ("R1/PT1M", (timedelta(minutes=1),), 1),
        ("R12/P1D", (timedelta(days=1),), 12),
        (" R3/PT10S ", (timedelta(seconds=10),), 3),
        ("PT5M", (timedelta(minutes=5),), 2),
        (
            "PT10M,PT17M,PT20M",
            (timedelta(minutes=10), timedelta(minutes=17), timedelta(minutes=20)),
            4,
        ),
        (
            "PT3M, PT10M,PT8M",
            (timedelta(minutes=3), timedelta(minutes=10), timedelta(minutes=8)),
            4,
        ),
        ("PT1M ,  PT2M", (timedelta(minutes=1), timedelta(minutes=2)), 3),
    ],
)
def test_parse_retry_cycle(text: str, intervals: tuple[timedelta, ...], attempts: int) -> None:
    assert parse_retry_cycle(text) == RetryCycle(intervals=intervals, attempts=attempts)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("R/PT5M", "the repeat count is missing"),
        ("Rx/PT5M", "the repeat count 'x' is not a whole number"),
        ("R-1/PT5M", "the repeat count '-1' is not a whole number"),
        ("R5/5M", "it must start with 'P'"),
        ("R5", "expected 'R<n>/<duration>'"),
        ("R5/", "it is empty"),
        ("R5/PT5M/extra", "unexpected '/extra' after the duration"),
        ("R5/2024-01-01T00:00:00Z/PT5M", "start dates are not supported in a retry cycle"),
        ("PT5M,,PT1M", "has an empty item"),
        ("PT5M,", "has an empty item"),
        ("PT5M,R3/PT1M", "it must start with 'P'"),
        ("PT5M;PT1M", "expected the form PnYnMnDTnHnMnS or PnW"),
    ],
)
def test_malformed_retry_cycles(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match="invalid retry cycle") as caught:
        parse_retry_cycle(text)
    assert problem in str(caught.value)


def test_a_retry_cycle_needs_an_interval_and_an_attempt() -> None:
    with pytest.raises(ValueError, match="at least one interval"):
        RetryCycle(intervals=(), attempts=2)
    with pytest.raises(ValueError, match="at least 1 attempt"):
        RetryCycle(intervals=(timedelta(minutes=1),), attempts=0)


@pytest.mark.parametrize(
    ("retries", "minutes"),
    [
        # created with 4 retries: failures at 4, 3, 2 retries use the list in order
        (4, 3),
        (3, 10),
        (2, 8),
        (1, 8),
        # an operator raised the retries to 5: the first interval is reused
        (5, 3),
        (9, 3),
    ],
)
def test_interval_for_follows_camunda(retries: int, minutes: int) -> None:
    cycle = parse_retry_cycle("PT3M,PT10M,PT8M")
    assert cycle.interval_for(retries) == timedelta(minutes=minutes)


def test_interval_sequence_after_retries_raised_to_five() -> None:
    cycle = parse_retry_cycle("PT3M,PT10M,PT8M")
    assert [cycle.interval_for(r) for r in (5, 4, 3, 2)] == [
        timedelta(minutes=m) for m in (3, 3, 10, 8)
    ]


@pytest.mark.parametrize("retries", [5, 4, 3, 2, 1, 0, 17])
def test_repeat_form_always_uses_its_duration(retries: int) -> None:
    assert parse_retry_cycle("R5/PT5M").interval_for(retries) == timedelta(minutes=5)
