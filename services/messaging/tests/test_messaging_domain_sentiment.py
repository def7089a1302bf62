"""Average sentiment for the arrival summary."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.messaging.domain import SentimentLabel, average_sentiment


def test_average_and_label() -> None:
    summary = average_sentiment([0.5, -0.1, 0.2])
    assert summary.count == 3
    assert summary.average == pytest.approx(0.2)
    assert summary.label is SentimentLabel.POSITIVE
    assert average_sentiment([0.04, -0.04]).label is SentimentLabel.NEUTRAL
    assert average_sentiment([-0.6]).label is SentimentLabel.NEGATIVE


def test_no_scores_yet() -> None:
    summary = average_sentiment([])
    assert (summary.average, summary.label, summary.count) == (None, None, 0)


@pytest.mark.parametrize("bad", [1.01, -1.5, math.nan, math.inf])
def test_out_of_range_scores_are_bugs(bad: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        average_sentiment([0.0, bad])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(min_value=-1, max_value=1), min_size=1, max_size=50))
def test_average_is_bounded_and_order_independent(scores: list[float]) -> None:
    summary = average_sentiment(scores)
    assert summary.average is not None
    assert min(scores) - 1e-12 <= summary.average <= max(scores) + 1e-12
    assert average_sentiment(reversed(scores)) == summary
