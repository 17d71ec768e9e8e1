"""Both correlation stages in one process, in memory.

The streaming shell runs the same calls split over two keyed tables (CI id, then correlation
domain). This composition serves replays, tests, benchmarks and anything that wants the whole
pipeline without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from impactline.core.contracts import (
    ChangeEvent,
    CIStateChanged,
    IncidentEvent,
    ServiceHealthEvent,
    TelemetryEvent,
)
from impactline.core.correlation.ci_tracker import CITracker
from impactline.core.correlation.domain import DomainCorrelator, IncidentNotFound
from impactline.core.correlation.incident import Incident
from impactline.core.correlation.outcomes import CIOutcome, StateChange
from impactline.core.correlation.records import Annotation
from impactline.core.correlation.serial import check_format
from impactline.core.correlation.topology import CorrelationContext


@dataclass
class EngineResult:
    """Everything one input produced, in the order the stages produced it."""

    outcomes: list[CIOutcome] = field(default_factory=list)
    ci_changes: list[CIStateChanged] = field(default_factory=list)
    incident_events: list[IncidentEvent] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    health: list[ServiceHealthEvent] = field(default_factory=list)

    def extend(self, other: EngineResult) -> None:
        self.outcomes += other.outcomes
        self.ci_changes += other.ci_changes
        self.incident_events += other.incident_events
        self.annotations += other.annotations
        self.health += other.health


class CorrelationEngine:
    """Per-CI trackers and per-domain correlators for one catalog, held in dicts."""

    def __init__(self, context: CorrelationContext) -> None:
        self.context = context
        self.trackers: dict[str, CITracker] = {}
        self.domains: dict[str, DomainCorrelator] = {}

    def use(self, context: CorrelationContext) -> None:
        """Switch to a new catalog version, configuration or set of suppressions."""
        self.context = context

    def ci_type(self, ci_id: str) -> str | None:
        ci = self.context.graph.catalog.cis.get(ci_id)
        return ci.type.value if ci is not None else None

    def domain_of(self, ci_id: str) -> str:
        """Raises `UnknownNodeError` (a `KeyError`) for an id the catalog does not know."""
        return self.context.graph.domain_of(ci_id)

    def process(self, event: TelemetryEvent) -> EngineResult:
        """One telemetry event through both stages."""
        domain = self.domain_of(event.ci_id)
        tracker = self.trackers.setdefault(event.ci_id, CITracker(event.ci_id))
        outcomes = tracker.observe(event, self.context.config, self.ci_type(event.ci_id))
        result = EngineResult(outcomes=outcomes)
        for outcome in outcomes:
            if outcome.change is not None:
                result.extend(self._to_domain(outcome.change, domain))
        return result

    def record_change(self, change: ChangeEvent) -> list[IncidentEvent]:
        domain = self.domain_of(change.ci_id)
        return self._domain(domain).record_change(change, self.context)

    def tick(self, now: datetime) -> EngineResult:
        """Every timer due by `now`: CI timers first (in time order), then domain timers."""
        result = EngineResult()
        due: list[tuple[datetime, str, CIOutcome]] = []
        for ci_id, tracker in self.trackers.items():
            for outcome in tracker.tick(now, self.context.config, self.ci_type(ci_id)):
                due.append((outcome.time, ci_id, outcome))
        due.sort(key=lambda item: (item[0], item[1]))
        for _, ci_id, outcome in due:
            result.outcomes.append(outcome)
            if outcome.change is not None and ci_id in self.context.graph:
                result.extend(self._to_domain(outcome.change, self.domain_of(ci_id)))
        for name in sorted(self.domains):
            ticked = self.domains[name].tick(now, self.context)
            result.incident_events += ticked.events
            result.health += ticked.health
        return result

    def acknowledge(
        self, incident_id: str, at: datetime, command_id: str | None = None
    ) -> EngineResult:
        done = self._holder(incident_id).acknowledge(incident_id, at, self.context, command_id)
        return EngineResult(incident_events=done.events, health=done.health)

    def resolve(
        self, incident_id: str, at: datetime, command_id: str | None = None
    ) -> EngineResult:
        done = self._holder(incident_id).resolve(incident_id, at, self.context, command_id)
        return EngineResult(incident_events=done.events, health=done.health)

    def incidents(self) -> list[Incident]:
        """Every incident still held (active or recently resolved), oldest first."""
        held = [i for d in self.domains.values() for i in d.incidents.values()]
        return sorted(held, key=lambda i: (i.opened_at, i.id))

    def _holder(self, incident_id: str) -> DomainCorrelator:
        for correlator in self.domains.values():
            if incident_id in correlator.incidents:
                return correlator
        raise IncidentNotFound(f"no domain holds incident {incident_id!r}")

    def _domain(self, domain: str) -> DomainCorrelator:
        return self.domains.setdefault(domain, DomainCorrelator(domain))

    def _to_domain(self, change: StateChange, domain: str) -> EngineResult:
        record = change.to_event(domain)
        outcome = self._domain(domain).apply(record, self.context)
        assert outcome.annotation is not None  # every CI change is annotated
        return EngineResult(
            ci_changes=[record],
            incident_events=outcome.events,
            annotations=[outcome.annotation],
            health=outcome.health,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": 1,
            "trackers": {ci: t.to_dict() for ci, t in sorted(self.trackers.items())},
            "domains": {name: d.to_dict() for name, d in sorted(self.domains.items())},
        }

    @classmethod
    def from_dict(cls, data: Any, context: CorrelationContext) -> CorrelationEngine:
        d = check_format(data, "correlation engine")
        engine = cls(context)
        engine.trackers = {ci: CITracker.from_dict(t) for ci, t in d["trackers"].items()}
        engine.domains = {n: DomainCorrelator.from_dict(x) for n, x in d["domains"].items()}
        return engine
