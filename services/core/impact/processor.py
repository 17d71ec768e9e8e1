"""Impact and experience for the business services of one input partition.

Service-health and feedback arrive keyed by service id. Per service the processor keeps the
open impact episode (`ImpactEngine`) and the experience state (XLA windows, error budget), live
in memory; it remembers which keys changed since the shell last stored them and when each key
next has a timer due (an accrual point, a calendar boundary, an XLA evaluation), so advancing
the watermark visits only what is due.

State keys: `episode/<service id>` and `experience/<service id>`. A closed episode is deleted.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from impactline.core import topics
from impactline.core.contracts import Contract, FeedbackEvent, ServiceHealthEvent
from impactline.core.experience import (
    ExperiencePolicy,
    ExperienceState,
    Outcome,
    ServiceRef,
    Timeline,
    TimelineIndex,
    close_all,
    compacted,
    evaluate,
    fastest_burn_rate,
    publish,
    record_feedback,
    record_health,
    record_impact,
)
from impactline.core.impact.engine import ImpactEngine, Step, UnknownService
from impactline.core.impact.episode import EpisodeState
from impactline.core.processing import DueIndex, Output, Unprocessable

EPISODE = "episode/"
EXPERIENCE = "experience/"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INSTANT = timedelta(microseconds=1)


class ImpactProcessor:
    def __init__(self, engine: ImpactEngine, policy: ExperiencePolicy, every: timedelta) -> None:
        if every <= timedelta(0):
            raise ValueError(f"the XLA evaluation period must be positive, got {every}")
        self.engine = engine
        self.policy = policy
        self.every = every
        self.episodes: dict[str, EpisodeState] = {}
        self.experience: dict[str, ExperienceState] = {}
        self._dirty: set[str] = set()
        self._due = DueIndex()
        self._indexes: dict[str, tuple[Timeline, TimelineIndex]] = {}
        self._origins: dict[str, datetime] = {}
        self.late = 0
        self._now: datetime | None = None
        """The newest event time of the partition the processor has seen (health events and
        watermarks; feedback time stamps are not trusted to move it)."""
        """Health events older than what their episode had already accounted for, applied at
        the episode's own time as a correction (docs/scoring.md, "Time")."""

    # -- inputs --------------------------------------------------------------------------------

    def handle(self, topic: topics.Topic, event: Contract) -> list[Output]:
        """One input event: service health or feedback."""
        if isinstance(event, ServiceHealthEvent):
            return self.health(event)
        if isinstance(event, FeedbackEvent):
            return self.feedback(event)
        raise Unprocessable(f"impact does not take {type(event).__name__} from {topic.name}")

    def health(self, health: ServiceHealthEvent) -> list[Output]:
        service_id = health.service_id
        view = self.engine.view(service_id)
        if view is None:
            raise Unprocessable(
                f"service-health event {health.id} names business service {service_id!r}, "
                f"which catalog version {self.engine.catalog_version} does not hold; publish "
                "a catalog that has it or drop the event"
            )
        self._now = health.time if self._now is None else max(self._now, health.time)
        out: list[Output] = []
        episode = self.episodes.get(service_id)
        if episode is not None and health.id == episode.last_health_id:
            return out  # the same event again: already applied
        if episode is not None:
            # The episode's own timers due before this event fire first, as they did live; one
            # due at its very instant is covered by the event itself.
            out += self._tick_episode(service_id, health.time - _INSTANT)
            episode = self.episodes.get(service_id)
            if episode is not None and health.time < episode.updated_at:
                self.late += 1
        # Recorded first, so the urgency of this very event sees the time just ended.
        state = record_health(self._experience(service_id), health, self.policy)
        self._store_experience(state)
        burn = fastest_burn_rate(
            state, health.time, view.profile.slo_target, self.policy, self._index(state)
        )
        try:
            step = self.engine.on_health(episode, health, burn_rate=burn)
        except UnknownService as exc:
            raise Unprocessable(str(exc)) from None
        return out + self._apply(service_id, step)

    def feedback(self, feedback: FeedbackEvent) -> list[Output]:
        if self.engine.view(feedback.service_id) is None:
            raise Unprocessable(
                f"feedback {feedback.id} names business service {feedback.service_id!r}, which "
                f"catalog version {self.engine.catalog_version} does not hold; publish a "
                "catalog that has it or drop the feedback"
            )
        service_id = feedback.service_id
        self._store_experience(record_feedback(self._experience(service_id), feedback, self.policy))
        episode = self.episodes.get(service_id)
        if episode is None:
            return []
        # A user's time stamp is not trusted to move the episode: it takes effect at most at
        # the partition's event time.
        now = max(self._now or episode.updated_at, episode.updated_at)
        out = self._tick_episode(service_id, min(feedback.time, now))
        episode = self.episodes.get(service_id)
        if episode is None:
            return out
        step = self.engine.on_feedback(
            episode, feedback, now, burn_rate=lambda at: self._burn_rate(service_id, at)
        )
        if step.state is not episode:
            out += self._apply(service_id, step)
        return out

    def advance(self, watermark: datetime) -> list[Output]:
        """Fire every timer due at or before `watermark`: accruals and calendar boundaries of
        open episodes, then XLA evaluations that fell due."""
        self._now = watermark if self._now is None else max(self._now, watermark)
        out: list[Output] = []
        for key in self._due.due(watermark):
            if key.startswith(EPISODE):
                out += self._tick_episode(key.removeprefix(EPISODE), watermark)
            else:
                out += self._evaluate(key.removeprefix(EXPERIENCE), watermark)
        return out

    def next_due(self) -> datetime | None:
        return self._due.next()

    # -- state ---------------------------------------------------------------------------------

    def load(self, key: str, value: Any) -> None:
        """State restored from the changelog (unknown keys are ignored)."""
        if key.startswith(EPISODE):
            episode = EpisodeState.from_dict(value)
            self.episodes[episode.service_id] = episode
            self._due.set(key, self.engine.next_due(episode))
        elif key.startswith(EXPERIENCE):
            state = ExperienceState.from_dict(value)
            self.experience[state.service_id] = state
            self._due.set(key, self._next_evaluation(state))

    def take_dirty(self) -> dict[str, Any]:
        """The keys changed since the last call with their values to store (None: delete)."""
        out: dict[str, Any] = {}
        for key in self._dirty:
            if key.startswith(EPISODE):
                episode = self.episodes.get(key.removeprefix(EPISODE))
                out[key] = None if episode is None else episode.to_dict()
            else:
                state = self.experience.get(key.removeprefix(EXPERIENCE))
                out[key] = None if state is None else state.to_dict()
        self._dirty.clear()
        return out

    def use_catalog(self) -> None:
        """The engine switched catalog: every key may have something to do now (a service
        that left the catalog closes its episode and its alerts)."""
        for service_id, episode in self.episodes.items():
            self._due.set(
                EPISODE + service_id, min(episode.updated_at, self.engine.next_due(episode))
            )
        for service_id, state in self.experience.items():
            self._due.set(EXPERIENCE + service_id, state.seen_until or _EPOCH)

    # -- episodes ------------------------------------------------------------------------------

    def _tick_episode(self, service_id: str, until: datetime) -> list[Output]:
        episode = self.episodes.get(service_id)
        if episode is None:
            return []
        step = self.engine.on_tick(
            episode, until, burn_rate=lambda at: self._burn_rate(service_id, at)
        )
        if step.state is episode and not (step.impacts or step.alerts or step.itsm):
            self._due.set(EPISODE + service_id, self.engine.next_due(episode))
            return []
        return self._apply(service_id, step)

    def _apply(self, service_id: str, step: Step) -> list[Output]:
        out = [
            Output(topics.impact_topic(name), service_id, routed.event)
            for routed in step.impacts
            for name in routed.topics
        ]
        out += [Output(topics.ALERTS, a.dedup_key, a) for a in step.alerts]
        out += [Output(topics.ITSM, r.incident_id, r) for r in step.itsm]
        if step.impacts:
            state = self._experience(service_id)
            for routed in step.impacts:
                state = record_impact(state, routed.event, self.policy)
            self._store_experience(state)
        key = EPISODE + service_id
        if step.state is None:
            self.episodes.pop(service_id, None)
            self._due.set(key, None)
        else:
            self.episodes[service_id] = step.state
            self._due.set(key, self.engine.next_due(step.state))
        self._dirty.add(key)
        return out

    # -- experience ----------------------------------------------------------------------------

    def _experience(self, service_id: str) -> ExperienceState:
        return self.experience.get(service_id) or ExperienceState(service_id)

    def _store_experience(self, state: ExperienceState) -> None:
        self.experience[state.service_id] = state
        key = EXPERIENCE + state.service_id
        self._dirty.add(key)
        if key not in self._due:
            self._due.set(key, self._next_evaluation(state))

    def _next_evaluation(self, state: ExperienceState) -> datetime:
        """The next point of the service's evaluation grid after what the state has seen."""
        origin = self._origin(state.service_id)
        seen = state.seen_until or origin
        return origin + ((seen - origin) // self.every + 1) * self.every

    def _origin(self, service_id: str) -> datetime:
        """Where the service's grid of `every` starts. Each service has its own phase, derived
        from its id: were every grid aligned, all services of a partition would be evaluated in
        the same turn, one stall per period growing with the catalog; spread, each turn
        evaluates its share. Still a function of event time alone, as the time rules want."""
        origin = self._origins.get(service_id)
        if origin is None:
            digest = hashlib.sha1(service_id.encode()).digest()
            step = int(self.every / _INSTANT)
            origin = _EPOCH + (int.from_bytes(digest[:8], "big") % step) * _INSTANT
            self._origins[service_id] = origin
        return origin

    def _burn_rate(self, service_id: str, at: datetime) -> float | None:
        view = self.engine.view(service_id)
        state = self.experience.get(service_id)
        if view is None or state is None:
            return None
        return fastest_burn_rate(
            state, state.time_at(at), view.profile.slo_target, self.policy, self._index(state)
        )

    def _evaluate(self, service_id: str, watermark: datetime) -> list[Output]:
        """Evaluate at the latest grid point the watermark passed: one evaluation however far
        the watermark jumped."""
        state = self.experience.get(service_id)
        out: list[Output] = []
        if state is None:
            return out
        origin = self._origin(service_id)
        point = origin + ((watermark - origin) // self.every) * self.every
        now = state.time_at(point)
        view = self.engine.view(service_id)
        key = EXPERIENCE + service_id
        if view is None:
            # The service left the catalog: close what is open and forget it.
            self._send(close_all(state, ServiceRef(service_id, service_id, "unknown"), now), out)
            self._forget(service_id)
            return out
        episode = self.episodes.get(service_id)
        service = ServiceRef(service_id, view.service.name, view.service.owner)
        outcome = publish(
            state,
            evaluate(state, now, view.profile, self.policy, self._index(state)),
            service,
            self.policy,
            impact_priority=None
            if episode is None or episode.notice is None
            else episode.notice.priority,
            incident_id=None if episode is None else episode.incident_id,
        )
        self._send(outcome, out)
        kept = compacted(outcome.state, now, self.policy)
        if kept.idle(now, self.policy):
            self._forget(service_id)
            return out
        if kept != state:
            self.experience[service_id] = kept
            self._dirty.add(key)
        self._due.set(key, point + self.every)
        return out

    def _send(self, outcome: Outcome, out: list[Output]) -> None:
        out += [Output(topics.XLA, r.service_id, r) for r in outcome.reports]
        out += [Output(topics.ALERTS, a.dedup_key, a) for a in outcome.alerts]

    def _forget(self, service_id: str) -> None:
        self.experience.pop(service_id, None)
        self._indexes.pop(service_id, None)
        key = EXPERIENCE + service_id
        self._due.set(key, None)
        self._dirty.add(key)

    def _index(self, state: ExperienceState) -> TimelineIndex:
        cached = self._indexes.get(state.service_id)
        if cached is not None and cached[0] is state.timeline:
            return cached[1]
        index = state.timeline.index(self.policy)
        self._indexes[state.service_id] = (state.timeline, index)
        return index
