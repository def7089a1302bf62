"""Average sentiment for the arrival summary, from per-message scores in [-1, 1].

The per-message score comes from the service's lexicon model (VADER's compound score); the thresholds
±0.05 are VADER's own convention for neutral, so the label agrees with how the scores were made.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

NEUTRAL_BAND = 0.05


class SentimentLabel(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


@dataclass(frozen=True, slots=True)
class SentimentSummary:
    average: float | None  # None when no customer message was scored yet
    label: SentimentLabel | None
    count: int


def label_for(score: float) -> SentimentLabel:
    if score >= NEUTRAL_BAND:
        return SentimentLabel.POSITIVE
    if score <= -NEUTRAL_BAND:
        return SentimentLabel.NEGATIVE
    return SentimentLabel.NEUTRAL


def average_sentiment(scores: Iterable[float]) -> SentimentSummary:
    """Arithmetic mean of the scores; a score outside [-1, 1] or NaN is a bug in the scorer."""
    values = list(scores)
    for value in values:
        if math.isnan(value) or not -1.0 <= value <= 1.0:
            raise ValueError(f"sentiment score {value!r} is outside [-1, 1]")
    if not values:
        return SentimentSummary(average=None, label=None, count=0)
    # fsum keeps the mean exact enough that the same scores in another order give the same label.
    average = math.fsum(values) / len(values)
    average = max(-1.0, min(1.0, average))
    return SentimentSummary(average=average, label=label_for(average), count=len(values))
