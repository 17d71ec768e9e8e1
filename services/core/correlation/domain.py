"""Per correlation domain: group CI failures into incidents and run their lifecycle.

One `DomainCorrelator` per correlation domain, kept in a table keyed by domain. Inputs are the
domain's accepted CI state changes (`CIStateChanged`), change records, acknowledge/resolve
commands and `tick(now)`. Decisions use input times and deadlines derived from them, so a
replay yields the same incidents and the same event ids.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from impactline.core.catalog import CatalogGraph, ServiceHealth
from impactline.core.contracts import (
    ChangeEvent,
    CIStateChanged,
    IncidentAction,
    IncidentEvent,
    IncidentState,
    ServiceHealthEvent,
    SuspectChange,
)
from impactline.core.correlation.attribution import Attribution, Attributor
from impactline.core.correlation.domain_state import stored_fields, stored_state
from impactline.core.correlation.grouping import (
    absorb,
    close,
    reach_of,
    refresh,
    related_incidents,
    reopenable,
    silence_for,
)
from impactline.core.correlation.incident import Incident, incident_id_for
from impactline.core.correlation.records import Annotation, DomainResult, FailureRecord, Note
from impactline.core.correlation.service_health import Cause, cause_ci, health_events
from impactline.core.correlation.topology import CorrelationContext
from impactline.core.states import State


class IncidentNotFound(LookupError):
    """A command named an incident this domain does not hold."""


class IncidentCommandRejected(ValueError):
    """A command does not apply to the incident in its current state."""


@dataclass(slots=True)
class DomainCorrelator:
    domain: str
    cis: dict[str, FailureRecord] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    """Active incidents and those resolved within the reopen window."""
    changes: list[SuspectChange] = field(default_factory=list)
    """Recent change records, oldest first, kept for the suspect lookback."""
    clock: datetime | None = None
    attributions: dict[str, Attribution] = field(default_factory=dict)
    """What was last published about each impaired service: the incidents charged with it."""
    _health: ServiceHealth | None = field(default=None, init=False, repr=False, compare=False)
    # Services to re-attribute and incidents whose status changed, within one decision.
    _touched: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    _changed: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    _health_graph: CatalogGraph | None = field(default=None, init=False, repr=False, compare=False)

    # -- inputs --------------------------------------------------------------------------------

    def apply(self, change: CIStateChanged, ctx: CorrelationContext) -> DomainResult:
        """Process one accepted CI state change of this domain."""
        if change.correlation_domain != self.domain:
            raise ValueError(
                f"CI change {change.id} belongs to domain {change.correlation_domain!r}, not "
                f"{self.domain!r}; route ci-state records by correlation domain"
            )
        events, health = self._advance(change.time, ctx)
        ci, at, cause = change.ci_id, change.time, change.cause_event_id
        services = ctx.topology.services(ci)
        states = self._health_for(ctx)  # built from the records before this change
        before = {s: states.state_of(s) for s in services}
        failing_states = ctx.config.grouping.failing_states
        record = self.cis.get(ci)
        was_failing = record is not None and record.state in failing_states
        now_failing = change.state in failing_states
        if change.state is State.OK:
            self.cis.pop(ci, None)
            record = None
        elif record is None:
            record = self.cis[ci] = FailureRecord(change.state, at, cause)
        else:
            record.state = change.state
        if record is not None and now_failing and not was_failing:
            record.since, record.cause_event_id, record.incident_id = at, cause, None
        if record is not None and not now_failing:
            record.clear_silence()
        self._health_update(ci, change.state, ctx)
        self._touched |= services

        if now_failing and not was_failing:
            more, note, incident_id = self._start(ci, at, cause, ctx)
            # siblings sharing a service may have stopped recovering because of this failure
            more += self._refresh_touching(ci, at, cause, ctx)
        else:
            more = self._refresh_touching(ci, at, cause, ctx)
            incident_id = self._incident_of(ci)
            note = Note.MEMBER if incident_id else Note.UNATTACHED
            if record is not None and record.silenced_by is not None:
                note = Note.SILENCED
        record = self.cis.get(ci)
        annotation = Annotation(
            ci_id=ci,
            state=change.state,
            time=at,
            cause_event_id=cause,
            note=note,
            incident_id=incident_id,
            silenced_by=record.silenced_by if record is not None else None,
        )
        health += self._settle(Cause(ci, cause, at), ctx, before)
        return DomainResult([*events, *more], annotation, health)

    def record_change(self, change: ChangeEvent, ctx: CorrelationContext) -> list[IncidentEvent]:
        """Remember a change record; list it on active incidents it may explain."""
        if any(c.change_id == change.id for c in self.changes):
            return []
        suspect = SuspectChange(
            change_id=change.id,
            ci_id=change.ci_id,
            kind=change.kind,
            time=change.time,
            summary=change.summary,
            assessment=change.assessment,
        )
        suspects = ctx.config.suspects
        events = []
        for incident in self._active():
            before = incident.view()
            incident.collect_suspects(
                [suspect], ctx.topology, suspects.lookback, suspects.max_listed
            )
            if incident.view() != before:
                events.append(incident.event(IncidentAction.UPDATED, change.time, change.id))
        horizon = (self.clock or change.time) - suspects.lookback
        if change.time >= horizon:
            insort(self.changes, suspect, key=lambda c: (c.time, c.change_id))
            del self.changes[: max(0, len(self.changes) - suspects.max_kept)]
        return events

    def tick(self, now: datetime, ctx: CorrelationContext) -> DomainResult:
        """Resolve incidents whose hold has passed and open incidents for failures whose
        suppression ended; each decision is stamped with its own deadline, not `now`."""
        events, health = self._advance(now, ctx)
        return DomainResult(events, None, health)

    def acknowledge(
        self,
        incident_id: str,
        at: datetime,
        ctx: CorrelationContext,
        command_id: str | None = None,
    ) -> DomainResult:
        """Mark an open incident acknowledged; acknowledging twice changes nothing."""
        self._commandable(incident_id, "acknowledge")
        events, health = self._advance(at, ctx)
        incident = self.incidents.get(incident_id)
        if incident is None or incident.state is not IncidentState.OPEN:
            return DomainResult(events, None, health)
        incident.state, incident.acknowledged_at = IncidentState.ACKNOWLEDGED, at
        cause = command_id or f"command:{at.isoformat()}"
        events.append(incident.event(IncidentAction.ACKNOWLEDGED, at, cause))
        return DomainResult(events, None, health)

    def resolve(
        self,
        incident_id: str,
        at: datetime,
        ctx: CorrelationContext,
        command_id: str | None = None,
    ) -> DomainResult:
        """Resolve an active incident now, whatever its members' states. Its CIs that are
        still failing stop charging it: their impact goes on, attributed to no incident."""
        self._commandable(incident_id, "resolve")
        events, health = self._advance(at, ctx)
        incident = self.incidents.get(incident_id)
        if incident is None or not incident.active:
            return DomainResult(events, None, health)
        self._status_changes(incident.id, ctx)
        close(incident, at)
        cause = command_id or f"command:{at.isoformat()}"
        resolved = incident.event(IncidentAction.RESOLVED, at, cause)
        events.append(resolved)
        health += self._settle(Cause(cause_ci(incident), resolved.id, at), ctx)
        return DomainResult(events, None, health)

    def _commandable(self, incident_id: str, verb: str) -> None:
        incident = self.incidents.get(incident_id)
        if incident is None:
            raise IncidentNotFound(
                f"domain {self.domain!r} holds no incident {incident_id!r}; it may belong to "
                "another domain or have been resolved longer ago than the reopen window"
            )
        if not incident.active:
            raise IncidentCommandRejected(
                f"cannot {verb} incident {incident_id}: it was resolved at "
                f"{incident.resolved_at}; only open or acknowledged incidents accept commands"
            )

    # -- queries -------------------------------------------------------------------------------

    def active_incidents(self) -> list[Incident]:
        return self._active()

    def next_deadline(self, ctx: CorrelationContext) -> datetime | None:
        """When `tick` next has something to decide; None when nothing is scheduled."""
        hold = ctx.config.lifecycle.resolve_hold
        due = [i.recovered_since + hold for i in self._active() if i.recovered_since]
        due += [r.silenced_until for r in self.cis.values() if r.silenced_until is not None]
        return min(due, default=None)

    # -- grouping ------------------------------------------------------------------------------

    def _start(
        self, ci: str, at: datetime, cause: str, ctx: CorrelationContext
    ) -> tuple[list[IncidentEvent], Note, str | None]:
        """A CI began failing: join related incidents, stay silenced, reopen, or open."""
        record = self.cis[ci]
        related = related_incidents(self._active(), self.cis, ci, at, ctx)
        if related:
            target, others = related[0], related[1:]
            before = target.view()
            events = []
            for other in others:
                self._status_changes(other.id, ctx)
                events.append(absorb(target, other, self.cis, at, cause))
                del self.incidents[other.id]
            target.add_member(ci, at)
            record.incident_id = target.id
            self._refresh(target, at, ctx)
            if target.view() != before or others:
                events.append(target.event(IncidentAction.UPDATED, at, cause))
            return events, Note.JOINED, target.id
        silence = silence_for(self.cis, ci, at, ctx)
        if silence is not None:
            record.silence_reason, record.silenced_until, record.silenced_via = silence
            return [], Note.SILENCED, None
        incident = reopenable(self.incidents.values(), ci, at, ctx)
        if incident is not None:
            incident.state = IncidentState.OPEN
            incident.resolved_at = incident.acknowledged_at = incident.recovered_since = None
            incident.reopened += 1
            action, note = IncidentAction.REOPENED, Note.REOPENED
        else:
            incident = Incident(incident_id_for(self.domain, cause), self.domain, at)
            self.incidents[incident.id] = incident
            action, note = IncidentAction.OPENED, Note.OPENED
        self._changed.add(incident.id)
        incident.add_member(ci, at)
        record.incident_id = incident.id
        self._refresh(incident, at, ctx)
        return [incident.event(action, at, cause)], note, incident.id

    def _refresh(self, incident: Incident, at: datetime, ctx: CorrelationContext) -> None:
        refresh(incident, self.cis, self._health_for(ctx), self.changes, at, ctx)

    def _refresh_touching(
        self, ci: str, at: datetime, cause: str, ctx: CorrelationContext
    ) -> list[IncidentEvent]:
        """Re-evaluate the active incidents the CI belongs to or shares a service with."""
        services = ctx.topology.services(ci)
        events = []
        for incident in self._active():
            if ci not in incident.members and not services & reach_of(incident, ctx):
                continue
            before = incident.view()
            self._refresh(incident, at, ctx)
            if incident.view() != before:
                events.append(incident.event(IncidentAction.UPDATED, at, cause))
        return events

    def _advance(
        self, now: datetime, ctx: CorrelationContext
    ) -> tuple[list[IncidentEvent], list[ServiceHealthEvent]]:
        self.clock = now if self.clock is None else max(self.clock, now)
        hold = ctx.config.lifecycle.resolve_hold
        events: list[IncidentEvent] = []
        health: list[ServiceHealthEvent] = []
        due = sorted(
            (i.recovered_since + hold, i.id)
            for i in self._active()
            if i.recovered_since is not None and i.recovered_since + hold <= now
        )
        for at, incident_id in due:
            incident = self.incidents[incident_id]
            self._status_changes(incident.id, ctx)
            close(incident, at)
            resolved = incident.event(IncidentAction.RESOLVED, at, at.isoformat())
            events.append(resolved)
            health += self._settle(Cause(cause_ci(incident), resolved.id, at), ctx)
        self._end_silences(now, ctx, events, health)
        self._prune(ctx)
        return events, health

    def _end_silences(
        self,
        now: datetime,
        ctx: CorrelationContext,
        events: list[IncidentEvent],
        health: list[ServiceHealthEvent],
    ) -> None:
        """Failures that outlast their suppression open (or join) incidents when it ends; the
        services they impair are re-attributed at that moment."""
        silenced = sorted(
            (record.silenced_until, record.since, ci)
            for ci, record in self.cis.items()
            if record.silenced_until is not None and record.incident_id is None
        )
        for until, _, ci in silenced:
            record = self.cis[ci]
            if until <= now:
                at = until
            elif record.silenced_via is None and (
                ctx.suppressions.match(ci, ctx.topology.services(ci), now) is None
            ):
                at = now  # lifted before its planned end
            else:
                continue
            self._touched |= ctx.topology.services(ci)
            silence = silence_for(self.cis, ci, at, ctx)
            if silence is not None:
                record.silence_reason, record.silenced_until, record.silenced_via = silence
            else:
                record.clear_silence()
                events += self._start(ci, at, record.cause_event_id, ctx)[0]
            health += self._settle(Cause(ci, record.cause_event_id, at), ctx)

    def _prune(self, ctx: CorrelationContext) -> None:
        assert self.clock is not None
        window = ctx.config.lifecycle.reopen_window
        for incident in list(self.incidents.values()):
            if incident.resolved_at is not None and incident.resolved_at + window < self.clock:
                del self.incidents[incident.id]
        horizon = self.clock - ctx.config.suspects.lookback
        if self.changes and self.changes[0].time < horizon:
            self.changes = [c for c in self.changes if c.time >= horizon]

    # -- helpers -------------------------------------------------------------------------------

    def _active(self) -> list[Incident]:
        return sorted(
            (i for i in self.incidents.values() if i.active), key=lambda i: (i.opened_at, i.id)
        )

    def _status_changes(self, incident_id: str, ctx: CorrelationContext) -> None:
        """The incident is about to be closed or absorbed: the services its failing CIs reach
        must be re-attributed."""
        self._changed.add(incident_id)
        for ci, record in self.cis.items():
            if record.incident_id == incident_id:
                self._touched |= ctx.topology.services(ci)

    def _settle(
        self, cause: Cause, ctx: CorrelationContext, before: dict[str, State] | None = None
    ) -> list[ServiceHealthEvent]:
        """The service-health events of one decision (see `health_events`)."""
        touched, changed = self._touched, self._changed
        self._touched, self._changed = set(), set()
        health = self._health_for(ctx)
        failing = ctx.config.grouping.failing_states
        attributor = Attributor(ctx.topology, self.cis, self._active(), health, failing)
        return health_events(
            self.attributions, touched, changed, before or {}, attributor, cause, self.domain, ctx
        )

    def _incident_of(self, ci: str) -> str | None:
        return next((i.id for i in self._active() if ci in i.members), None)

    def service_health(self, ctx: CorrelationContext) -> ServiceHealth:
        """Live business service states of this domain, kept current by `apply`."""
        return self._health_for(ctx)

    def _health_for(self, ctx: CorrelationContext) -> ServiceHealth:
        if self._health is None or self._health_graph is not ctx.graph:
            states = {ci: record.state for ci, record in self.cis.items()}
            self._health = ctx.topology.health(states)
            self._health_graph = ctx.graph
        return self._health

    def _health_update(self, ci: str, state: State, ctx: CorrelationContext) -> None:
        fresh = self._health is None or self._health_graph is not ctx.graph
        health = self._health_for(ctx)
        if not fresh and ctx.topology.is_ci(ci):
            health.set_ci_state(ci, state)

    # -- storage -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict that `from_dict` turns back into an equal correlator."""
        return stored_state(self)

    @classmethod
    def from_dict(cls, data: Any) -> DomainCorrelator:
        return cls(**stored_fields(data))
