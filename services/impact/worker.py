"""Impact's handlers: one impact episode per business service, kept in a changelogged table.

Each impact event is written to the ledger first and published second; both are idempotent by
event id (derived from its cause), so a replay after a crash doubles nothing.
"""

from __future__ import annotations

from datetime import datetime

from impactline.core import topics
from impactline.core.contracts import FeedbackEvent, ServiceHealthEvent, Tick
from impactline.core.impact import EpisodeState, ImpactEngine, Step, UnknownService
from impactline.impact.experience import ExperienceKeeper
from impactline.impact.ledger import ImpactLedger
from impactline.runtime.catalog_source import CatalogHolder, CatalogVersion
from impactline.runtime.due import DueIndex
from impactline.runtime.kafka import ensure_topics
from impactline.runtime.replay import already_applied, with_applied
from impactline.runtime.staging import StagedTable
from impactline.runtime.streams import (
    Rejected,
    StreamIO,
    local_keys,
)
from impactline.runtime.telemetry import current_trace_id


class ImpactWorker:
    def __init__(
        self,
        io: StreamIO,
        holder: CatalogHolder,
        engine: ImpactEngine,
        ledger: ImpactLedger,
        episodes: StagedTable,
        experience: ExperienceKeeper | None = None,
    ) -> None:
        self.io = io
        self.experience = experience
        self.engine = engine
        self.ledger = ledger
        self.episodes = episodes
        self.partitions = io.settings.topic_partitions
        self.clock = io.settings.clock()
        self._topics_ready: set[str] = set()
        # When each open episode next has something to do on a tick (see ImpactEngine.next_due),
        # so a tick visits only those instead of every open episode of its partition.
        self._due = DueIndex(self.partitions)
        holder.on_switch(self._switch)

    def _switch(self, current: CatalogVersion) -> None:
        self.engine.use(current.catalog, current.version)
        self.forget_partitions()  # services may have left the catalog: look at every episode

    def forget_partitions(self) -> None:
        """After a rebalance or a catalog switch the index may be stale: rebuild it."""
        self._due.clear()

    def _episode(self, service_id: str) -> EpisodeState | None:
        stored = self.episodes.get(service_id)
        # Without "v" only what a closed episode applied is kept (see _apply).
        return EpisodeState.from_dict(stored) if stored and "v" in stored else None

    async def on_health(self, health: ServiceHealthEvent) -> None:
        if already_applied(self.episodes.get(health.service_id), health.id):
            return  # restored ahead of the offsets, or repeated upstream: outputs are durable
        received_at = self.clock.now()
        burn_rate = None
        if self.experience is not None:
            # Recorded first, so the urgency of this very event sees the time just ended.
            burn_rate = self.experience.record_health(health, received_at)
        try:
            step = self.engine.on_health(
                self._episode(health.service_id), health, received_at, burn_rate=burn_rate
            )
        except UnknownService as exc:
            raise Rejected(str(exc)) from None
        await self._apply(health.service_id, step, health.id)

    async def on_feedback(self, feedback: FeedbackEvent) -> None:
        """Into the service's experience (XLA), then to its open episode: a VIP's complaint
        makes the impact high-visibility (ImpactEngine.on_feedback decides)."""
        if self.experience is not None:
            await self.experience.on_feedback(feedback)
        episode = self._episode(feedback.service_id)
        if episode is None:
            return
        now = self.clock.now()
        burn_rate = None
        if self.experience is not None:
            burn_rate = self.experience.burn_rate(feedback.service_id, episode.episode_time(now))
        step = self.engine.on_feedback(episode, feedback, now, burn_rate=burn_rate)
        if step.state != episode:
            await self._apply(feedback.service_id, step)

    async def on_tick(self, tick: Tick, partition: int) -> None:
        due = self._due.due(
            partition,
            tick.time,
            lambda: local_keys(self.episodes, partition, self.partitions),
            lambda service_id: self._next_due(self._episode(service_id)),
        )
        for service_id in due:
            episode = self._episode(service_id)
            if episode is None:
                self._due.note(service_id, None)
            else:
                burn_rate = None
                if self.experience is not None:
                    at = episode.episode_time(tick.time)
                    burn_rate = self.experience.burn_rate(service_id, at)
                step = self.engine.on_tick(episode, tick.time, burn_rate=burn_rate)
                if step.impacts or step.alerts or step.itsm or step.state != episode:
                    await self._apply(service_id, step)
                else:
                    self._note_due(service_id, episode)
        if self.experience is not None:
            await self.experience.on_tick(tick, partition)

    async def _apply(self, service_id: str, step: Step, event_id: str | None = None) -> None:
        # Publish before storing the new state: a crash in between replays the same step, whose
        # outputs have the same ids, instead of losing them.
        trace_id = current_trace_id()
        for routed in step.impacts:
            self.ledger.stage(routed.event, trace_id)
            for name in routed.topics:
                topic = topics.impact_topic(name)
                await self._ensure(topic)
                await self.io.send(topic, routed.event, key=service_id, registry=topic)
        for alert in step.alerts:
            await self.io.send(topics.ALERTS, alert, key=alert.dedup_key, registry=topics.ALERTS)
        for record in step.itsm:
            await self.io.send(topics.ITSM, record, key=record.incident_id, registry=topics.ITSM)
        if self.experience is not None:
            self.experience.record_impacts(service_id, (r.event for r in step.impacts))
        self._note_due(service_id, step.state)
        # Stored once the ledger rows and outputs are durable (StreamIO.settle).
        previous = self.episodes.get(service_id)
        if step.state is not None:
            self.episodes[service_id] = with_applied(step.state.to_dict(), previous, event_id)
        elif previous is not None or event_id is not None:
            # A closed episode keeps what its input applied, so a replay from before the close
            # (state restored ahead of the offsets) is recognised instead of opening a new one.
            self.episodes[service_id] = with_applied({}, previous, event_id)

    def _note_due(self, service_id: str, episode: EpisodeState | None) -> None:
        self._due.note(service_id, self._next_due(episode))

    def _next_due(self, episode: EpisodeState | None) -> datetime | None:
        return None if episode is None else self.engine.next_due(episode)

    async def _ensure(self, topic: topics.Topic) -> None:
        if topic.name in self._topics_ready:
            return
        settings = self.io.settings
        await ensure_topics(
            settings.require_kafka(),
            [topic],
            prefix=settings.topic_prefix,
            default_partitions=settings.topic_partitions,
        )
        self._topics_ready.add(topic.name)
