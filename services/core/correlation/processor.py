"""Both correlation stages for the correlation domains of one input partition.

Telemetry, change records and incident commands arrive keyed by correlation domain, so one
partition holds every CI of its domains: stage 1 (per CI) and stage 2 (per domain) run here
in one step, with no topic in between. The processor keeps its state live in memory, remembers
which keys changed since the shell last stored them, and knows when each key next has a timer
due, so advancing the watermark visits only what is due.

State keys: `ci/<ci id>` (a `CITracker`) and `domain/<domain>` (a `DomainCorrelator`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from impactline.core import topics
from impactline.core.catalog import UnknownNodeError
from impactline.core.contracts import (
    ChangeEvent,
    CIAnnotation,
    CIStateChanged,
    Contract,
    IncidentCommand,
    IncidentCommandAction,
    IncidentEvent,
    ServiceHealthEvent,
    TelemetryEvent,
    derived_id,
)
from impactline.core.correlation.ci_tracker import CITracker
from impactline.core.correlation.domain import (
    DomainCorrelator,
    IncidentCommandRejected,
    IncidentNotFound,
)
from impactline.core.correlation.outcomes import CIOutcome, StateChange, Verdict
from impactline.core.correlation.topology import CorrelationContext
from impactline.core.processing import DueIndex, Output, Unprocessable

CI = "ci/"
DOMAIN = "domain/"
_MAX_ROUNDS = 16  # timers firing timers: each round clears what it fired


class CorrelationProcessor:
    def __init__(self, context: CorrelationContext) -> None:
        self.context = context
        self.trackers: dict[str, CITracker] = {}
        self.domains: dict[str, DomainCorrelator] = {}
        self.verdicts: Counter[Verdict] = Counter()
        """Verdicts given so far (late ones among them), for the shell's metrics."""
        self._dirty: set[str] = set()
        self._due = DueIndex()

    # -- catalog -------------------------------------------------------------------------------

    def use(self, context: CorrelationContext) -> None:
        """Switch to a new catalog version (or configuration); state carries on."""
        self.context = context

    # -- inputs --------------------------------------------------------------------------------

    def handle(self, topic: topics.Topic, event: Contract) -> list[Output]:
        """One input event, whichever of the three inputs it came from."""
        if isinstance(event, TelemetryEvent):
            return self.telemetry(event)
        if isinstance(event, ChangeEvent):
            return self.change(event)
        if isinstance(event, IncidentCommand):
            return self.command(event)
        raise Unprocessable(f"correlate does not take {type(event).__name__} from {topic.name}")

    @property
    def late(self) -> int:
        """Events judged late so far (observed before their CI's current state began)."""
        return self.verdicts[Verdict.LATE]

    def telemetry(self, event: TelemetryEvent) -> list[Output]:
        domain = self._domain_of(event.ci_id)
        tracker = self._tracker(event.ci_id)
        outcomes = tracker.observe(event, self.context.config, self._ci_type(event.ci_id))
        if not (len(outcomes) == 1 and outcomes[0].verdict is Verdict.DUPLICATE_ID):
            self._touch_tracker(event.ci_id, tracker)
        return self._forward(outcomes, domain)

    def change(self, change: ChangeEvent) -> list[Output]:
        domain = self._domain_of(change.ci_id)
        correlator = self._correlator(domain)
        events = correlator.record_change(change, self.context)
        self._touch_domain(correlator)
        return _outputs(events, [])

    def command(self, command: IncidentCommand) -> list[Output]:
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
            raise Unprocessable(f"{command.action.value} {command.incident_id}: {exc}") from None
        self._touch_domain(correlator)
        return _outputs(result.events, result.health)

    def advance(self, watermark: datetime) -> list[Output]:
        """Fire every timer due at or before `watermark`, each stamped with its own deadline."""
        out: list[Output] = []
        for _ in range(_MAX_ROUNDS):
            due = self._due.due(watermark)
            if not due:
                break
            for key in due:
                if key.startswith(CI):
                    out += self._tick_tracker(key.removeprefix(CI), watermark)
                else:
                    correlator = self._correlator(key.removeprefix(DOMAIN))
                    result = correlator.tick(watermark, self.context)
                    self._touch_domain(correlator)
                    out += _outputs(result.events, result.health)
        return out

    def next_due(self) -> datetime | None:
        return self._due.next()

    # -- state ---------------------------------------------------------------------------------

    def load(self, key: str, value: Any) -> None:
        """State restored from the changelog (unknown keys are ignored)."""
        if key.startswith(CI):
            tracker = CITracker.from_dict(value)
            self.trackers[tracker.ci_id] = tracker
            self._due.set(
                key, tracker.next_deadline(self.context.config, self._ci_type(tracker.ci_id))
            )
        elif key.startswith(DOMAIN):
            correlator = DomainCorrelator.from_dict(value)
            self.domains[correlator.domain] = correlator
            self._due.set(key, correlator.next_deadline(self.context))

    def take_dirty(self) -> dict[str, Any]:
        """The keys changed since the last call, with their values to store."""
        out: dict[str, Any] = {}
        for key in self._dirty:
            if key.startswith(CI):
                out[key] = self.trackers[key.removeprefix(CI)].to_dict()
            else:
                out[key] = self.domains[key.removeprefix(DOMAIN)].to_dict()
        self._dirty.clear()
        return out

    # -- helpers -------------------------------------------------------------------------------

    def _domain_of(self, ci_id: str) -> str:
        try:
            return self.context.graph.domain_of(ci_id)
        except UnknownNodeError:
            raise Unprocessable(
                f"CI {ci_id!r} is not in catalog version {self.context.catalog_version}"
            ) from None

    def _ci_type(self, ci_id: str) -> str | None:
        ci = self.context.graph.catalog.cis.get(ci_id)
        return ci.type.value if ci is not None else None

    def _tracker(self, ci_id: str) -> CITracker:
        tracker = self.trackers.get(ci_id)
        if tracker is None:
            tracker = self.trackers[ci_id] = CITracker(ci_id)
        return tracker

    def _correlator(self, domain: str) -> DomainCorrelator:
        correlator = self.domains.get(domain)
        if correlator is None:
            correlator = self.domains[domain] = DomainCorrelator(domain)
        return correlator

    def _touch_tracker(self, ci_id: str, tracker: CITracker) -> None:
        key = CI + ci_id
        self._dirty.add(key)
        self._due.set(key, tracker.next_deadline(self.context.config, self._ci_type(ci_id)))

    def _touch_domain(self, correlator: DomainCorrelator) -> None:
        key = DOMAIN + correlator.domain
        self._dirty.add(key)
        self._due.set(key, correlator.next_deadline(self.context))

    def _tick_tracker(self, ci_id: str, watermark: datetime) -> list[Output]:
        tracker = self._tracker(ci_id)
        if ci_id not in self.context.graph:
            return []  # left the catalog: nothing to decide for it any more
        outcomes = tracker.tick(watermark, self.context.config, self._ci_type(ci_id))
        self._touch_tracker(ci_id, tracker)
        return self._forward(outcomes, self.context.graph.domain_of(ci_id))

    def _forward(self, outcomes: list[CIOutcome], domain: str) -> list[Output]:
        out: list[Output] = []
        for outcome in outcomes:
            self.verdicts[outcome.verdict] += 1
            if outcome.change is not None:
                out += self._apply(outcome.change, domain)
        return out

    def _apply(self, change: StateChange, domain: str) -> list[Output]:
        """Stage 2 for one accepted CI state change: incidents, the annotation and the
        service-health events (state changes and re-attributions) it led to."""
        record: CIStateChanged = change.to_event(domain)
        correlator = self._correlator(domain)
        result = correlator.apply(record, self.context)
        self._touch_domain(correlator)
        note = result.annotation
        assert note is not None  # every CI state change is annotated
        annotation = CIAnnotation(
            id=derived_id(record.id, "annotation"),
            ci_id=note.ci_id,
            state=note.state,
            time=note.time,
            cause_event_id=note.cause_event_id,
            correlation_domain=domain,
            note=note.note.value,
            incident_id=note.incident_id,
            silenced_by=note.silenced_by,
        )
        return [
            *(Output(topics.INCIDENTS, e.incident_id, e) for e in result.events),
            Output(topics.CI_ANNOTATIONS, domain, annotation),
            *(Output(topics.SERVICE_HEALTH, h.service_id, h) for h in result.health),
        ]


def _outputs(events: list[IncidentEvent], health: list[ServiceHealthEvent]) -> list[Output]:
    return [
        *(Output(topics.INCIDENTS, e.incident_id, e) for e in events),
        *(Output(topics.SERVICE_HEALTH, h.service_id, h) for h in health),
    ]
