"""Sentiment of feedback comments with VADER, a lexicon-and-rules analyser.

The lexicon ships inside the `vadersentiment` package, so analysis works offline; it is read once,
on first use, and kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@cache
def _analyser() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def comment_sentiment(text: str) -> float:
    """VADER's compound score of one comment: -1 (very negative) to +1 (very positive)."""
    return float(_analyser().polarity_scores(text)["compound"])


def feedback_sentiment(comments: Iterable[str]) -> float | None:
    """Mean compound score of the non-blank comments; None when there are none."""
    scores = [comment_sentiment(text) for text in comments if text and text.strip()]
    if not scores:
        return None
    return sum(scores) / len(scores)
