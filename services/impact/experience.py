"""Impact's experience handlers: one experience state per business service in a changelogged
table, fed by service health, feedback and the impact events the worker produces, evaluated on
the impact ticks into XLA reports and error-budget burn-rate alerts.

The table is keyed by service id like the service-health and feedback topics, so every write
happens in the partition of the message being handled (ticks only touch their partition's keys).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from impactline.core import topics
from impactline.core.contracts import FeedbackEvent, ImpactEvent, ServiceHealthEvent, Tick
from impactline.core.experience import (
    ExperiencePolicy,
    ExperienceState,
    ExperienceStateError,
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
from impactline.core.impact import EpisodeState, EpisodeStateError, ImpactEngine
from impactline.core.scoring import ScoringConfig
from impactline.runtime.settings import Settings
from impactline.runtime.staging import StagedTable
from impactline.runtime.streams import Rejected, StreamIO, local_keys

log = logging.getLogger(__name__)

YIELD_EVERY = 20
"""Services evaluated between two turns of the event loop on an XLA tick."""


def experience_policy(settings: Settings, config: ScoringConfig) -> ExperiencePolicy:
    """Windows and SLO period from the settings; burn-rate rules and XLA weights from the
    scoring configuration."""
    return ExperiencePolicy(
        windows=settings.xla_window_spans(),
        slo_period=settings.slo_period_span(),
        rules=config.rules(),
        weights=config.xla,
        min_bad=timedelta(seconds=settings.burn_min_bad_seconds),
    )


class ExperienceKeeper:
    def __init__(
        self,
        io: StreamIO,
        engine: ImpactEngine,
        table: StagedTable,
        episodes: StagedTable,
        policy: ExperiencePolicy,
        every: timedelta,
    ) -> None:
        self.io = io
        self.engine = engine
        self.table = table
        self.episodes = episodes
        self.policy = policy
        self.every = every
        self.partitions = io.settings.topic_partitions
        self._evaluated: dict[int, datetime] = {}
        # Parsed states by key, reused while the table still holds the very mapping parsed,
        # and timeline indexes, reused while the timeline is the same: ticks read far more
        # often than events write.
        self._parsed: dict[str, tuple[object, ExperienceState]] = {}
        self._indexes: dict[str, tuple[Timeline, TimelineIndex]] = {}

    def record_health(self, health: ServiceHealthEvent, received_at: datetime) -> float | None:
        """Record a state change; returns the error-budget burn at the event's time for the
        impact engine (None: no evidence, or a service the catalog does not hold)."""
        view = self.engine.view(health.service_id)
        if view is None:
            return None
        state = self._load(health.service_id) or ExperienceState(health.service_id)
        state = record_health(state, health, received_at, self.policy)
        self._store(state)
        at = state.service_time(received_at)
        return fastest_burn_rate(
            state, at, view.profile.slo_target, self.policy, self._index(state)
        )

    def burn_rate(self, service_id: str, at: datetime) -> float | None:
        """The fastest burn rate of a service at `at` (service time), for the impact engine."""
        view = self.engine.view(service_id)
        state = self._load(service_id)
        if view is None or state is None:
            return None
        return fastest_burn_rate(
            state, at, view.profile.slo_target, self.policy, self._index(state)
        )

    def record_impacts(self, service_id: str, events: Iterable[ImpactEvent]) -> None:
        events = list(events)
        if not events:
            return
        state = self._load(service_id) or ExperienceState(service_id)
        for event in events:
            state = record_impact(state, event, self.policy)
        self._store(state)

    async def on_feedback(self, feedback: FeedbackEvent) -> None:
        if self.engine.view(feedback.service_id) is None:
            raise Rejected(
                f"feedback {feedback.id} names business service {feedback.service_id!r}, which "
                f"catalog version {self.engine.catalog_version} does not hold; publish a "
                "catalog that has it or drop the feedback"
            )
        state = self._load(feedback.service_id) or ExperienceState(feedback.service_id)
        self._store(record_feedback(state, feedback, self.io.settings.clock().now(), self.policy))

    async def on_tick(self, tick: Tick, partition: int) -> None:
        """Evaluate every service of `partition`, at most once per `every`."""
        last = self._evaluated.get(partition)
        if last is not None and tick.time - last < self.every:
            return
        self._evaluated[partition] = tick.time
        for n, service_id in enumerate(local_keys(self.table, partition, self.partitions)):
            await self._evaluate(service_id, tick.time)
            if n % YIELD_EVERY == YIELD_EVERY - 1:
                # Hundreds of services take a good part of a second: let the health events
                # queued meanwhile through instead of holding them all until the end.
                await asyncio.sleep(0)

    async def _evaluate(self, service_id: str, wall: datetime) -> None:
        state = self._load(service_id)
        if state is None:
            return
        now = state.service_time(wall)
        view = self.engine.view(service_id)
        if view is None:
            # The service left the catalog: close what is open and forget it.
            outcome = close_all(state, ServiceRef(service_id, service_id, "unknown"), now)
            await self._send(outcome)
            self._delete(service_id)
            return
        episode = self._episode(service_id)
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
        await self._send(outcome)
        kept = compacted(outcome.state, now, self.policy)
        if kept.idle(now, self.policy):
            self._delete(service_id)
        elif kept != state:
            self._store(kept)

    async def _send(self, outcome: Outcome) -> None:
        for report in outcome.reports:
            await self.io.send(topics.XLA, report, key=report.service_id, registry=topics.XLA)
        for alert in outcome.alerts:
            await self.io.send(topics.ALERTS, alert, key=alert.dedup_key, registry=topics.ALERTS)

    def _episode(self, service_id: str) -> EpisodeState | None:
        stored = self.episodes.get(service_id)
        if not stored:
            return None
        try:
            return EpisodeState.from_dict(stored)
        except EpisodeStateError:
            return None

    def _load(self, service_id: str) -> ExperienceState | None:
        raw = self.table.get(service_id)
        if raw is None:
            self._parsed.pop(service_id, None)
            return None
        cached = self._parsed.get(service_id)
        if cached is not None and cached[0] is raw:
            return cached[1]
        try:
            state = ExperienceState.from_dict(raw)
        except ExperienceStateError as exc:
            # A damaged entry must not block the service's health events: start it afresh.
            log.error("dropping the experience state of %s: %s", service_id, exc)
            self._delete(service_id)
            return None
        self._parsed[service_id] = (raw, state)
        return state

    def _index(self, state: ExperienceState) -> TimelineIndex:
        cached = self._indexes.get(state.service_id)
        if cached is not None and cached[0] is state.timeline:
            return cached[1]
        index = state.timeline.index(self.policy)
        self._indexes[state.service_id] = (state.timeline, index)
        return index

    def _store(self, state: ExperienceState) -> None:
        raw = state.to_dict()
        self.table[state.service_id] = raw
        self._parsed[state.service_id] = (raw, state)

    def _delete(self, service_id: str) -> None:
        self._parsed.pop(service_id, None)
        self._indexes.pop(service_id, None)
        if service_id in self.table:
            del self.table[service_id]
