"""The experience state of one business service, and how events change it.

`ExperienceState` is an immutable value kept per business service between events; `to_dict`
turns it into plain JSON types and `from_dict` reads it back, so a keyed table can hold it.
Besides the timeline it remembers what was last reported (breach state and periodic step per
XLA window, the priority of each open burn-rate alert) so that reports are events, not a
repetition on every tick.

Time: everything is in event time. `seen_until` is the newest event time the state has taken
(of health events; of feedback while it has no health history); the shell evaluates the state
at its partition's watermark, never earlier than `seen_until` (docs/scoring.md, "Time").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from impactline.core.contracts import FeedbackEvent, ImpactEvent, ImpactReason, ServiceHealthEvent
from impactline.core.experience.policy import ExperiencePolicy
from impactline.core.experience.timeline import Bucket, Timeline
from impactline.core.scoring.sentiment import comment_sentiment
from impactline.core.states import State

STATE_FORMAT = 2
# Feedback ids remembered to drop a redelivered message; redelivery only replays the last few.
RECENT_FEEDBACK = 64
# Open impact episodes of one service whose minutes are followed; one is open at a time.
OPEN_EPISODES = 8


class ExperienceStateError(ValueError):
    """A stored experience state cannot be read back."""


@dataclass(frozen=True, slots=True)
class ExperienceState:
    service_id: str
    timeline: Timeline = field(default_factory=Timeline)
    seen_until: datetime | None = None
    episode_minutes: Mapping[str, float] = field(default_factory=dict)
    recent_feedback: tuple[str, ...] = ()
    breached: Mapping[str, bool] = field(default_factory=dict)
    report_steps: Mapping[str, int] = field(default_factory=dict)
    alerts: Mapping[str, str] = field(
        default_factory=dict
    )  # rule key -> priority of the open alert

    def time_at(self, watermark: datetime) -> datetime:
        """The instant to evaluate at for `watermark`: never before what was already seen."""
        at = _utc(watermark)
        return at if self.seen_until is None else max(at, self.seen_until)

    def idle(self, now: datetime, policy: ExperiencePolicy) -> bool:
        """Nothing left to measure or to close: the entry can be deleted."""
        timeline = self.timeline.compacted(now, policy)
        return (
            timeline.quiet
            and not self.episode_minutes
            and not any(self.breached.values())
            and not self.alerts
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_FORMAT,
            "service_id": self.service_id,
            "timeline": self.timeline.to_dict(),
            "seen_until": None if self.seen_until is None else self.seen_until.isoformat(),
            "episode_minutes": dict(self.episode_minutes),
            "recent_feedback": list(self.recent_feedback),
            "breached": dict(self.breached),
            "report_steps": dict(self.report_steps),
            "alerts": dict(self.alerts),
        }

    @classmethod
    def from_dict(cls, data: Any) -> ExperienceState:
        """Read back what `to_dict` wrote; raises `ExperienceStateError` on another layout."""
        if not isinstance(data, Mapping):
            raise ExperienceStateError(
                f"an experience state is a mapping, got {type(data).__name__}"
            )
        if data.get("v") != STATE_FORMAT:
            raise ExperienceStateError(
                f"experience state has format {data.get('v')!r}; this version reads format "
                f"{STATE_FORMAT}. Delete the entry (it is rebuilt from new events)."
            )
        try:
            seen = data["seen_until"]
            return cls(
                service_id=str(data["service_id"]),
                timeline=Timeline.from_dict(data["timeline"]),
                seen_until=None if seen is None else _utc(datetime.fromisoformat(seen)),
                episode_minutes={str(k): float(v) for k, v in data["episode_minutes"].items()},
                recent_feedback=tuple(str(i) for i in data["recent_feedback"]),
                breached={str(k): bool(v) for k, v in data["breached"].items()},
                report_steps={str(k): int(v) for k, v in data["report_steps"].items()},
                alerts={str(k): str(v) for k, v in data["alerts"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ExperienceStateError(
                f"experience state of {data.get('service_id')!r} is damaged "
                f"({type(exc).__name__}: {exc}); delete the entry"
            ) from None


def record_health(
    state: ExperienceState, health: ServiceHealthEvent, policy: ExperiencePolicy
) -> ExperienceState:
    """The service changed state at the event's time. Time impaired only by planned work
    (`planned_by`, no incident charged) is not counted, like `unknown` time: planned work
    spends no error budget and pages nobody; it counts from the moment an incident is charged."""
    _same_service(state, health.service_id)
    at = _utc(health.time)
    now = _later(state.seen_until, at)
    planned = health.planned_by is not None and not health.incident_ids
    counted = State.UNKNOWN if planned and health.state is not State.OK else health.state
    timeline = state.timeline.changed_to(counted, at, now, policy).compacted(now, policy)
    return replace(state, timeline=timeline, seen_until=now)


def record_feedback(
    state: ExperienceState, feedback: FeedbackEvent, policy: ExperiencePolicy
) -> ExperienceState:
    """A rating and/or a comment; the comment is scored for sentiment once, here."""
    _same_service(state, feedback.service_id)
    if feedback.id in state.recent_feedback:
        return state
    at = _utc(feedback.time)
    if state.timeline.since is None:
        # Only a service without health history takes its time from feedback: user-submitted
        # time stamps are less trustworthy than the pipeline's, and the time never goes back.
        state = replace(state, seen_until=_later(state.seen_until, at))
    content = Bucket()
    if feedback.csat is not None:
        content = content + Bucket(csat_sum=float(feedback.csat), csat_count=1.0)
    if feedback.comment and feedback.comment.strip():
        score = comment_sentiment(feedback.comment)
        content = content + Bucket(sentiment_sum=score, sentiment_count=1.0)
    now = state.seen_until or at
    timeline = state.timeline.plus(at, content, now, policy).compacted(now, policy)
    recent = (*state.recent_feedback, feedback.id)[-RECENT_FEEDBACK:]
    return replace(state, timeline=timeline, recent_feedback=recent)


def record_impact(
    state: ExperienceState, impact: ImpactEvent, policy: ExperiencePolicy
) -> ExperienceState:
    """Business impact minutes: the growth of the episode's total since its previous event,
    placed at this event's time (impact events come at least once per accrual period)."""
    _same_service(state, impact.service_id)
    episode = impact.episode_id or impact.id
    total = impact.business_impact_minutes
    grown = total - state.episode_minutes.get(episode, 0.0)
    minutes = dict(state.episode_minutes)
    if impact.reason is ImpactReason.RECOVERED:
        minutes.pop(episode, None)
    else:
        minutes[episode] = max(total, minutes.get(episode, 0.0))
        while len(minutes) > OPEN_EPISODES:
            minutes.pop(next(iter(minutes)))
    timeline = state.timeline
    now = state.seen_until or _utc(impact.time)
    if grown > 0:
        timeline = timeline.plus(impact.time, Bucket(impact=grown), now, policy)
    return replace(state, timeline=timeline, episode_minutes=minutes)


def compacted(state: ExperienceState, now: datetime, policy: ExperiencePolicy) -> ExperienceState:
    timeline = state.timeline.compacted(now, policy)
    return state if timeline is state.timeline else replace(state, timeline=timeline)


def _later(seen: datetime | None, at: datetime) -> datetime:
    return at if seen is None else max(seen, at)


def _same_service(state: ExperienceState, service_id: str) -> None:
    if state.service_id != service_id:
        raise ValueError(
            f"experience state of {state.service_id!r} cannot take an event of "
            f"{service_id!r}: keep one state per business service"
        )


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a time zone aware instant, got {at!r}")
    return at.astimezone(UTC)
