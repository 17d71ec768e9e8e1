"""The grouping rules of one domain as functions over its incidents and failure records:
which incidents a failure relates to, merging, reopening, inherited suppression, and what an
incident affects and whether it has recovered."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from impactline.core.catalog import ServiceHealth
from impactline.core.contracts import IncidentAction, IncidentEvent, IncidentState, SuspectChange
from impactline.core.correlation.incident import Incident
from impactline.core.correlation.records import FailureRecord
from impactline.core.correlation.topology import CorrelationContext

Silence = tuple[str, datetime, str | None]
"""reason, until, and the upstream CI it is inherited from (None when the CI's own)."""


def related_incidents(
    active: Iterable[Incident],
    records: Mapping[str, FailureRecord],
    ci: str,
    at: datetime,
    ctx: CorrelationContext,
) -> list[Incident]:
    """The incidents holding the CI, or a member it has a dependency path to that is still
    failing or failed within the grouping window; in the order given."""
    window = ctx.config.grouping.window
    failing_states = ctx.config.grouping.failing_states
    topology = ctx.topology

    def failing(m: str) -> bool:
        record = records.get(m)
        return record is not None and record.state in failing_states

    return [
        incident
        for incident in active
        if ci in incident.members
        or any(
            topology.related(ci, m) and (failing(m) or at - member.last_failed <= window)
            for m, member in incident.members.items()
        )
    ]


def absorb(
    target: Incident,
    other: Incident,
    records: Mapping[str, FailureRecord],
    at: datetime,
    cause: str,
) -> IncidentEvent:
    """A failure tied two incidents together: `target` (the older) takes over `other`, which
    is closed; the caller forgets it."""
    for ci, member in other.members.items():
        target.add_member(ci, member.first_failed)
        target.add_member(ci, member.last_failed)
    target.affected_services |= other.affected_services
    known = {c.change_id for c in target.suspect_changes}
    target.suspect_changes += [c for c in other.suspect_changes if c.change_id not in known]
    target.absorbed += [other.id, *other.absorbed]
    for record in records.values():
        if record.incident_id == other.id:
            record.incident_id = target.id
    close(other, at)
    return other.event(
        IncidentAction.RESOLVED, at, f"merged:{target.id}:{cause}", merged_into=target.id
    )


def reopenable(
    incidents: Iterable[Incident], ci: str, at: datetime, ctx: CorrelationContext
) -> Incident | None:
    """The latest incident resolved within the reopen window with the CI as a root candidate."""
    window = ctx.config.lifecycle.reopen_window
    found = [
        i
        for i in incidents
        if i.resolved_at is not None
        and ci in i.root_cause_candidates
        and i.resolved_at <= at <= i.resolved_at + window
    ]
    return max(found, key=lambda i: (i.resolved_at, i.id), default=None)


def silence_for(
    records: Mapping[str, FailureRecord], ci: str, at: datetime, ctx: CorrelationContext
) -> Silence | None:
    """A suppression of the CI itself, or one inherited from a failing CI it depends on whose
    failure is suppressed: the effects of planned work are expected too."""
    topology = ctx.topology
    match = ctx.suppressions.match(ci, topology.services(ci), at)
    if match is not None:
        return match.reason, match.until, None
    upstream = topology.upstream(ci)
    for other, record in sorted(records.items()):
        if (
            other != ci
            and other in upstream
            and record.silence_reason is not None
            and record.silenced_until is not None
            and record.silenced_until > at
            and record.incident_id is None
        ):
            return record.silence_reason, record.silenced_until, record.silenced_via or other
    return None


def refresh(
    incident: Incident,
    records: Mapping[str, FailureRecord],
    health: ServiceHealth,
    changes: Sequence[SuspectChange],
    at: datetime,
    ctx: CorrelationContext,
) -> None:
    """Recompute what the incident affects, its root candidates and suspects, and since when
    it has recovered: every member ok and no service it can reach degraded or down."""
    topology = ctx.topology
    failing_states = ctx.config.grouping.failing_states
    reach = reach_of(incident, ctx)
    impaired = {s for s in reach if health.state_of(s) in failing_states}
    incident.affected_services |= impaired
    incident.rank_root_causes(topology)
    suspects = ctx.config.suspects
    incident.collect_suspects(
        changes_near(changes, incident, ctx), topology, suspects.lookback, suspects.max_listed
    )
    recovered = not impaired and all(m not in records for m in incident.members)
    if not recovered:
        incident.recovered_since = None
    elif incident.recovered_since is None:
        incident.recovered_since = at


def reach_of(incident: Incident, ctx: CorrelationContext) -> frozenset[str]:
    """Every business service a member can affect."""
    return incident.reach(ctx.topology)


def changes_near(
    changes: Sequence[SuspectChange], incident: Incident, ctx: CorrelationContext
) -> Sequence[SuspectChange]:
    """The slice of the time-ordered changes that can be suspects of the incident at all."""
    if not incident.members or not changes:
        return ()
    start = min(m.first_failed for m in incident.members.values()) - ctx.config.suspects.lookback
    end = max(m.last_failed for m in incident.members.values())
    low = bisect_left(changes, start, key=lambda c: c.time)
    high = bisect_right(changes, end, key=lambda c: c.time)
    return changes[low:high]


def close(incident: Incident, at: datetime) -> None:
    incident.state = IncidentState.RESOLVED
    incident.resolved_at, incident.recovered_since = at, None
