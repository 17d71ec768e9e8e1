"""Whether a user's feedback reports a problem: what makes a VIP's word count (docs/scoring.md,
section 2)."""

from __future__ import annotations

from impactline.core.contracts import FeedbackEvent
from impactline.core.impact.episode import EpisodeState
from impactline.core.impact.reading import ServiceView
from impactline.core.scoring import comment_sentiment

NEGATIVE_CSAT = 2
"""A rating of 2 or 1 out of 5 is a complaint."""
NEGATIVE_SENTIMENT = -0.05
"""VADER's conventional threshold: a compound score at or below it is a negative comment."""


def is_negative(feedback: FeedbackEvent) -> bool:
    """A rating of at most 2, or a comment whose sentiment is at most -0.05."""
    if feedback.csat is not None and feedback.csat <= NEGATIVE_CSAT:
        return True
    comment = (feedback.comment or "").strip()
    return bool(comment) and comment_sentiment(comment) <= NEGATIVE_SENTIMENT


def vip_report(episode: EpisodeState, view: ServiceView, feedback: FeedbackEvent) -> str | None:
    """The VIP whose feedback reports a problem with the episode's service during it, when it
    is one they have not reported yet; None for anyone else or anything else."""
    user = feedback.user_id
    if (
        user is None
        or feedback.service_id != episode.service_id
        or user in episode.vip_reports
        or feedback.time < episode.started_at
        or not any(vip.user == user for vip in view.profile.vip_users)
    ):
        return None
    return user if is_negative(feedback) else None
