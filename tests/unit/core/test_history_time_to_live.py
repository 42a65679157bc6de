"""``camunda:historyTimeToLive`` in days, read as Camunda's ParseUtil reads it."""

from __future__ import annotations

import pytest

from safepoint.core.deployments import history_time_to_live_days


@pytest.mark.parametrize(
    ("written", "days"),
    [
        ("180", 180),
        ("P30D", 30),
        ("0", 0),
        ("+5", 5),
        ("", None),
        (None, None),
        ("2147483647", 2147483647),
    ],
)
def test_days_as_an_integer_or_p_days_d(written: str | None, days: int | None) -> None:
    assert history_time_to_live_days(written) == days


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("-1", "Cannot parse historyTimeToLive: negative value is not allowed"),
        ("P-1D", "is neither a number of days nor P<days>D"),
        ("P1M", "is neither a number of days nor P<days>D"),
        ("P\u0665D", "is neither a number of days nor P<days>D"),  # an Arabic-Indic 5
        ("${ttl}", "is neither a number of days nor P<days>D"),
        ("2147483648", "is neither a number of days nor P<days>D"),
        (" 5", "is neither a number of days nor P<days>D"),
    ],
)
def test_what_camunda_cannot_parse_is_refused(written: str, message: str) -> None:
    with pytest.raises(ValueError, match="Cannot parse historyTimeToLive") as refused:
        history_time_to_live_days(written)
    assert message in str(refused.value)
