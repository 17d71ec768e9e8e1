"""Correlate's handlers: load the keyed state, run the pure rules, store it, publish the results.

Per CI (tables keyed by CI id) the `CITracker` de-duplicates and damps; per correlation domain
(tables keyed by domain) the `DomainCorrelator` groups failures into incidents and derives
business service health. State lives in changelogged Faust tables, so a restarted worker
continues the same incidents.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from impactline.core import topics
from impactline.core.catalog import UnknownNodeError
from impactline.core.contracts import (
    ChangeEvent,
    CIAnnotation,
    CIStateChanged,
    IncidentCommand,
    IncidentCommandAction,
    IncidentEvent,
    ServiceHealthEvent,
    TelemetryEvent,
    Tick,
    derived_id,
)
from impactline.core.correlation import (
    CITracker,
    CorrelationConfig,
    CorrelationContext,
    DomainCorrelator,
    IncidentCommandRejected,
    IncidentNotFound,
    Suppressions,
    changes_of,
)
from impactline.core.correlation.outcomes import CIOutcome
from impactline.runtime.catalog_source import CatalogHolder, CatalogVersion
from impactline.runtime.due import DueIndex
from impactline.runtime.replay import already_applied, with_applied
from impactline.runtime.staging import StagedTable
from impactline.runtime.streams import (
    Rejected,
    StreamIO,
    local_keys,
)

log = logging.getLogger(__name__)
# Timers fire a little behind the wall clock so events that are slightly late still count.
LATENESS = timedelta(seconds=1)


class CorrelateWorker:
    def __init__(
        self,
        io: StreamIO,
        holder: CatalogHolder,
        config: CorrelationConfig,
        suppressions: Suppressions,
        trackers: StagedTable,
        domains: StagedTable,
    ) -> None:
        self.io = io
        self.holder = holder
        self.config = config
        self.suppressions = suppressions
        self.trackers = trackers
        self.domains = domains
        self.partitions = io.settings.topic_partitions
        self.context = self._context(holder.current)
        # Correlators keep derived caches (service health); reuse them between events.
        self._live: dict[str, DomainCorrelator] = {}
        # Next timer deadline of each CI tracker here, so a tick visits only what is due.
        self._due = DueIndex(self.partitions)
        holder.on_switch(self._switch)

    def _context(self, current: CatalogVersion) -> CorrelationContext:
        return CorrelationContext(
            current.graph, self.config, self.suppressions, catalog_version=current.version
        )

    def _switch(self, current: CatalogVersion) -> None:
        self.context = self._context(current)
        self._live.clear()

    # -- stage 1: per CI -------------------------------------------------------------------

    def _ci_type(self, ci_id: str) -> str | None:
        ci = self.holder.current.catalog.cis.get(ci_id)
        return ci.type.value if ci is not None else None

    def _domain_of(self, ci_id: str) -> str:
        try:
            return self.context.graph.domain_of(ci_id)
        except UnknownNodeError:
            raise Rejected(
                f"CI {ci_id!r} is not in catalog version {self.holder.current.version}"
            ) from None

    async def on_telemetry(self, event: TelemetryEvent) -> None:
        domain = self._domain_of(event.ci_id)
        tracker = self._tracker(event.ci_id)
        outcomes = tracker.observe(event, self.config, self._ci_type(event.ci_id))
        # Outputs first, state second: a crash in between replays the event against the old
        # state, which yields the same outputs (same ids) instead of a duplicate-id verdict.
        await self._forward(outcomes, domain)
        self._save_tracker(event.ci_id, tracker)

    async def on_ci_tick(self, tick: Tick, partition: int) -> None:
        now = tick.time - LATENESS
        due = self._due.due(
            partition,
            now,
            lambda: local_keys(self.trackers, partition, self.partitions),
            lambda ci_id: self._deadline(ci_id, self._tracker(ci_id)),
        )
        for ci_id in due:
            tracker = self._tracker(ci_id)
            if ci_id not in self.holder.current.catalog.cis:
                self._due.note(ci_id, None)
                continue
            outcomes = tracker.tick(now, self.config, self._ci_type(ci_id))
            await self._forward(outcomes, self.context.graph.domain_of(ci_id))
            self._save_tracker(ci_id, tracker)

    def _tracker(self, ci_id: str) -> CITracker:
        stored = self.trackers.get(ci_id)
        return CITracker.from_dict(stored) if stored else CITracker(ci_id)

    def _save_tracker(self, ci_id: str, tracker: CITracker) -> None:
        self.trackers[ci_id] = tracker.to_dict()
        self._note_deadline(ci_id, tracker)

    def _note_deadline(self, ci_id: str, tracker: CITracker) -> None:
        self._due.note(ci_id, self._deadline(ci_id, tracker))

    def _deadline(self, ci_id: str, tracker: CITracker) -> datetime | None:
        return tracker.next_deadline(self.config, self._ci_type(ci_id))

    def forget_partitions(self) -> None:
        """After a rebalance, cached state may belong to partitions now owned elsewhere."""
        self._due.clear()
        self._live.clear()

    async def _forward(self, outcomes: list[CIOutcome], domain: str) -> None:
        for change in changes_of(outcomes):
            record = change.to_event(domain)
            await self.io.send(topics.CI_STATE, record, key=domain, registry=topics.CI_STATE)

    async def on_change(self, change: ChangeEvent) -> None:
        domain = self._domain_of(change.ci_id)
        await self.io.send(
            topics.DOMAIN_CHANGES, change, key=domain, registry=topics.DOMAIN_CHANGES
        )

    # -- stage 2: per correlation domain ----------------------------------------------------

    def _correlator(self, domain: str) -> DomainCorrelator:
        live = self._live.get(domain)
        if live is None:
            stored = self.domains.get(domain)
            live = DomainCorrelator.from_dict(stored) if stored else DomainCorrelator(domain)
            self._live[domain] = live
        return live

    async def _store(self, correlator: DomainCorrelator, event_id: str | None = None) -> None:
        domain = correlator.domain  # stored once the outputs are durable (StreamIO.settle)
        self.domains[domain] = with_applied(
            correlator.to_dict(), self.domains.get(domain), event_id
        )

    def _replayed(self, domain: str, event_id: str) -> bool:
        """The stored state already includes this input: restored ahead of the offsets after a
        crash, or repeated by a replay upstream. Its outputs are durable already."""
        return already_applied(self.domains.get(domain), event_id)

    async def on_ci_state(self, change: CIStateChanged) -> None:
        if self._replayed(change.correlation_domain, change.id):
            return
        correlator = self._correlator(change.correlation_domain)
        result = correlator.apply(change, self.context)
        await self._publish_incidents(result.events)
        note = result.annotation
        assert note is not None  # every CI change is annotated
        annotation = CIAnnotation(
            id=derived_id(change.id, "annotation"),
            ci_id=note.ci_id,
            state=note.state,
            time=note.time,
            cause_event_id=note.cause_event_id,
            correlation_domain=change.correlation_domain,
            note=note.note.value,
            incident_id=note.incident_id,
            silenced_by=note.silenced_by,
        )
        await self.io.send(
            topics.CI_ANNOTATIONS,
            annotation,
            key=change.correlation_domain,
            registry=topics.CI_ANNOTATIONS,
        )
        await self._publish_health(result.health)
        # Stored only once every output is durable (see on_telemetry).
        await self._store(correlator, change.id)

    async def on_domain_change(self, change: ChangeEvent) -> None:
        domain = self._domain_of(change.ci_id)
        if self._replayed(domain, change.id):
            return
        correlator = self._correlator(domain)
        events = correlator.record_change(change, self.context)
        await self._publish_incidents(events)
        await self._store(correlator, change.id)

    async def on_command(self, command: IncidentCommand) -> None:
        if self._replayed(command.correlation_domain, command.id):
            return
        correlator = self._correlator(command.correlation_domain)
        try:
            if command.action is IncidentCommandAction.ACKNOWLEDGE:
                result = correlator.acknowledge(
                    command.incident_id, command.time, self.context, command.id
                )
            else:
                result = correlator.resolve(
                    command.incident_id, command.time, self.context, command.id
                )
        except (IncidentNotFound, IncidentCommandRejected) as exc:
            raise Rejected(f"{command.action.value} {command.incident_id}: {exc}") from None
        await self._publish_incidents(result.events)
        await self._publish_health(result.health)
        await self._store(correlator, command.id)

    async def on_domain_tick(self, tick: Tick, partition: int) -> None:
        now = tick.time - LATENESS
        for domain in local_keys(self.domains, partition, self.partitions):
            correlator = self._correlator(domain)
            due = correlator.next_deadline(self.context)
            if due is None or due > now:
                continue
            result = correlator.tick(now, self.context)
            await self._publish_incidents(result.events)
            await self._publish_health(result.health)
            await self._store(correlator)

    async def _publish_incidents(self, events: list[IncidentEvent]) -> None:
        for event in events:
            await self.io.send(
                topics.INCIDENTS, event, key=event.incident_id, registry=topics.INCIDENTS
            )

    async def _publish_health(self, events: list[ServiceHealthEvent]) -> None:
        # State changes and re-attributions, keyed by service like every health event.
        for event in events:
            await self.io.send(
                topics.SERVICE_HEALTH, event, key=event.service_id, registry=topics.SERVICE_HEALTH
            )
