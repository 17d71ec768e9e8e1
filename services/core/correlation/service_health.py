"""The service-health events a domain publishes: state changes, and re-attributions when the
incidents charged with a still-impaired service change while its state does not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Set
from dataclasses import dataclass
from datetime import datetime

from impactline.core.contracts import HealthReason, ServiceHealthEvent, derived_id
from impactline.core.correlation.attribution import NONE, Attribution, Attributor
from impactline.core.correlation.incident import Incident
from impactline.core.correlation.topology import CorrelationContext
from impactline.core.states import State


@dataclass(frozen=True, slots=True)
class Cause:
    """What made the domain look at its services: the CI, the event id and the time stamped on
    the service-health events (for a timed decision, its deadline)."""

    ci_id: str
    event_id: str
    time: datetime


def health_events(
    published: MutableMapping[str, Attribution],
    touched: Iterable[str],
    changed: Set[str],
    before: Mapping[str, State],
    attributor: Attributor,
    cause: Cause,
    domain: str,
    ctx: CorrelationContext,
) -> list[ServiceHealthEvent]:
    """The service-health events of one decision: for the services touched and those last
    published as charged to an incident whose status `changed` (closed, merged, opened), one
    event when the state changed (from `before`) or, with the same state, when the attribution
    differs from the one last published; `published` is brought up to date. Ids derive from
    the cause, so a replay yields the same events."""
    services = set(touched)
    if changed:
        services |= {s for s, a in published.items() if not changed.isdisjoint(a.incidents)}
    health = attributor.health
    events = []
    for service_id in sorted(services):
        state = health.state_of(service_id)
        previous = before.get(service_id, state)
        attribution = attributor.attribute(service_id)
        if state is not previous:
            reason = HealthReason.STATE_CHANGE
            event_id = derived_id(cause.event_id, service_id, state.value)
        elif attribution != published.get(service_id, NONE):
            reason = HealthReason.ATTRIBUTION
            event_id = derived_id(
                cause.event_id,
                service_id,
                HealthReason.ATTRIBUTION.value,
                cause.time.isoformat(),
                *attribution.incidents,
                attribution.planned_by or "",
            )
        else:
            continue
        if attribution == NONE:
            published.pop(service_id, None)
        else:
            published[service_id] = attribution
        events.append(
            ServiceHealthEvent(
                id=event_id,
                reason=reason,
                service_id=service_id,
                state=state,
                previous_state=previous,
                time=cause.time,
                correlation_domain=domain,
                cause_ci_id=cause.ci_id,
                cause_event_id=cause.event_id,
                incident_id=attribution.incidents[0] if attribution.incidents else None,
                incident_ids=list(attribution.incidents),
                planned_by=attribution.planned_by,
                catalog_version=ctx.catalog_version,
            )
        )
    return events


def cause_ci(incident: Incident) -> str:
    """The CI named as the cause of a decision about the whole incident: its first root-cause
    candidate, else its first member."""
    return next(iter(incident.root_cause_candidates or sorted(incident.members)))
