"""The events an episode produces: impact events, on-call alerts and ITSM incident records.

Every id is derived from the episode id and what the event is for (a health event id, a
boundary instant, an accrual sequence number, an alert or ITSM sequence number), so replaying
the same input yields the same ids and idempotent sinks see duplicates, not new events.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast, get_args

from impactline.core.contracts import (
    AlertEvent,
    CalendarContext,
    ImpactEvent,
    ImpactExplanation,
    ImpactReason,
    ImpactShare,
    ItsmAction,
    ItsmIncidentEvent,
    Priority,
    Weighting,
    derived_id,
)
from impactline.core.impact.episode import EpisodeState, Notice
from impactline.core.impact.reading import Reading, ServiceView
from impactline.core.impact.wording import impact_summary, recovery_summary

_PRIORITIES = frozenset(get_args(Priority))


def impact_event(
    episode: EpisodeState,
    view: ServiceView,
    reading: Reading,
    reason: ImpactReason,
    key: str,
    catalog_version: int,
) -> ImpactEvent:
    """`key` tells apart the events of one reason in one episode (see the module docstring);
    `episode.accrual` must already be advanced to `reading.at`."""
    service = view.service
    assessment = reading.assessment
    rate, priority = assessment.rate, assessment.priority
    return ImpactEvent(
        id=derived_id(episode.episode_id, reason.value, key),
        reason=reason,
        episode_id=episode.episode_id,
        started_at=episode.started_at,
        service_id=service.id,
        service_name=service.name,
        business_domain=service.domain,
        correlation_domain=episode.correlation_domain,
        state=reading.state,
        time=reading.at,
        cause_ci_id=episode.cause_ci_id,
        cause_event_id=episode.cause_event_id,
        incident_id=episode.incident_id,
        incident_ids=list(episode.incident_ids),
        planned=episode.planned,
        planned_by=episode.planned_by if episode.planned else None,
        users_affected=rate.affected_users,
        personas_affected=list(rate.personas) if rate.state_factor > 0 else [],
        tier=service.tier,
        weighting=Weighting.UNWEIGHTED if reading.verdict is None else Weighting.CALENDAR,
        calendar=_calendar_context(view, reading),
        impact_rate=rate.rate,
        business_impact_minutes=episode.accrual.impact_minutes,
        attribution=[
            ImpactShare(
                incident_ids=list(share.incident_ids),
                planned=share.planned,
                business_impact_minutes=share.minutes,
            )
            for share in episode.shares
        ],
        priority=as_priority(priority.label),
        impact_level=priority.impact.value,
        urgency=priority.urgency.value,
        high_visibility=priority.high_visibility,
        visibility_reasons=list(assessment.visibility.reasons),
        catalog_version=catalog_version,
    )


def alert_event(
    episode: EpisodeState, view: ServiceView, reading: Reading, sequence: int
) -> AlertEvent:
    return AlertEvent(
        id=derived_id(episode.episode_id, "alert", str(sequence)),
        dedup_key=dedup_key(episode),
        priority=as_priority(reading.priority),
        service_id=episode.service_id,
        owner_team=episode.owner_team,
        summary=impact_summary(view.service.name, view.service.domain, reading),
        high_visibility=reading.assessment.priority.high_visibility,
        incident_id=episode.incident_id,
        time=reading.at,
        explanation=explanation(episode, view, reading),
    )


def resolved_alert(
    episode: EpisodeState, notice: Notice, name: str, at: datetime, sequence: int
) -> AlertEvent:
    """Closes the alert stream at the priority it was last raised with."""
    return AlertEvent(
        id=derived_id(episode.episode_id, "alert", str(sequence)),
        dedup_key=dedup_key(episode),
        priority=as_priority(notice.priority),
        service_id=episode.service_id,
        owner_team=episode.owner_team,
        summary=_recovered(episode, notice, name, at),
        incident_id=episode.incident_id,
        time=at,
        resolved=True,
        explanation=closing_explanation(episode),
    )


def itsm_event(
    episode: EpisodeState,
    view: ServiceView,
    reading: Reading,
    action: ItsmAction,
    sequence: int,
) -> ItsmIncidentEvent:
    priority = reading.assessment.priority
    return ItsmIncidentEvent(
        id=derived_id(episode.episode_id, "itsm", str(sequence)),
        action=action,
        incident_id=episode.episode_id,
        correlated_incident_id=episode.incident_id,
        short_description=impact_summary(view.service.name, view.service.domain, reading),
        impact=priority.impact.value,
        urgency=priority.urgency.value,
        priority=as_priority(priority.label),
        affected_services=[episode.service_id],
        business_impact_minutes=episode.paged_minutes,
        time=reading.at,
        explanation=explanation(episode, view, reading),
    )


def itsm_resolve(
    episode: EpisodeState, notice: Notice, name: str, at: datetime, sequence: int
) -> ItsmIncidentEvent:
    """Resolves with the impact, urgency and priority last reported: the record closes as it
    stood, with the business impact minutes of the whole episode."""
    return ItsmIncidentEvent(
        id=derived_id(episode.episode_id, "itsm", str(sequence)),
        action=ItsmAction.RESOLVE,
        incident_id=episode.episode_id,
        correlated_incident_id=episode.incident_id or notice.incident_id,
        short_description=_recovered(episode, notice, name, at),
        impact=notice.impact,
        urgency=notice.urgency,
        priority=as_priority(notice.priority),
        affected_services=[episode.service_id],
        business_impact_minutes=episode.paged_minutes,
        time=at,
        explanation=closing_explanation(episode),
    )


def explanation(episode: EpisodeState, view: ServiceView, reading: Reading) -> ImpactExplanation:
    """The business impact behind an alert or ITSM record, for the people it reaches."""
    rate = reading.assessment.rate
    verdict = reading.verdict
    return ImpactExplanation(
        episode_id=episode.episode_id,
        incident_id=episode.incident_id,
        correlation_domain=episode.correlation_domain,
        started_at=episode.started_at,
        cause_ci_id=episode.cause_ci_id,
        service_name=view.service.name,
        business_domain=view.service.domain,
        users_affected=rate.affected_users,
        personas_affected=list(rate.personas) if rate.state_factor > 0 else [],
        calendar_period=verdict.period if verdict is not None else None,
        active_periods=list(verdict.periods) if verdict is not None else [],
        calendar_weight=verdict.weight if verdict is not None else None,
        impact_rate=rate.rate,
        business_impact_minutes=episode.impact_minutes,
        visibility_reasons=list(reading.assessment.visibility.reasons),
    )


def closing_explanation(episode: EpisodeState) -> ImpactExplanation:
    """What an episode still knows when it closes: nobody is affected any more."""
    mark = episode.calendar
    return ImpactExplanation(
        episode_id=episode.episode_id,
        incident_id=episode.incident_id,
        correlation_domain=episode.correlation_domain,
        started_at=episode.started_at,
        cause_ci_id=episode.cause_ci_id,
        calendar_period=mark.period if mark is not None else None,
        active_periods=list(mark.active_periods) if mark is not None else [],
        calendar_weight=mark.weight if mark is not None else None,
        business_impact_minutes=episode.impact_minutes,
    )


def _recovered(episode: EpisodeState, notice: Notice, name: str, at: datetime) -> str:
    """Counted from when the alert was raised (the episode's start, unless planned work came
    first) with the minutes outside planned work."""
    since = notice.since or episode.started_at
    return recovery_summary(name, at - since, episode.paged_minutes)


def as_priority(label: str) -> Priority:
    if label not in _PRIORITIES:
        raise ValueError(f"expected a priority P1..P5, got {label!r}")
    return cast(Priority, label)


def dedup_key(episode: EpisodeState) -> str:
    """One alert stream per service episode: a re-alert replaces, a resolve closes it."""
    return f"{episode.service_id}/{episode.episode_id}"


def _calendar_context(view: ServiceView, reading: Reading) -> CalendarContext | None:
    if view.calendar is None or reading.verdict is None:
        return None
    verdict = reading.verdict
    return CalendarContext(
        calendar=view.calendar.name,
        period=verdict.period,
        active_periods=list(verdict.periods),
        weight=verdict.weight,
        local_time=view.calendar.local_time(reading.at).isoformat(),
    )
