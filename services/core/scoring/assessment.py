"""One call for the impact service: rate, visibility and priority of an impact right now."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from impactline.core.calendar import CalendarWeight
from impactline.core.scoring.config import DEFAULT_CONFIG, ScoringConfig
from impactline.core.scoring.impact import ImpactRate, affected_personas, impact_rate
from impactline.core.scoring.priority import PriorityAssessment, assess_priority
from impactline.core.scoring.profile import ServiceProfile
from impactline.core.scoring.visibility import Visibility, assess_visibility
from impactline.core.states import State


@dataclass(frozen=True, slots=True)
class ImpactAssessment:
    rate: ImpactRate
    visibility: Visibility
    priority: PriorityAssessment


def assess_impact(
    profile: ServiceProfile,
    state: State,
    calendar: CalendarWeight | None,
    *,
    burn_rate: float | None = None,
    personas: Iterable[str] | None = None,
    affected_users: Iterable[str] = (),
    affected_fraction: float = 1.0,
    config: ScoringConfig = DEFAULT_CONFIG,
) -> ImpactAssessment:
    """`personas` restricts the incident to some personas (all when None); `affected_users`
    names users known to be hit (VIPs who reported a problem); `burn_rate` is the error-budget
    burn, e.g. `fastest_burn_rate(...)`, or None when unknown."""
    chosen = tuple(personas) if personas is not None else None
    rate = impact_rate(
        profile,
        state,
        calendar,
        personas=chosen,
        affected_fraction=affected_fraction,
        factors=config.factors,
    )
    active = calendar.periods if calendar is not None else ()
    reached = affected_personas(profile, active, chosen) if rate.state_factor > 0 else ()
    hurt = rate.reach > 0
    visibility = assess_visibility(profile, reached, affected_users if hurt else (), hurt=hurt)
    priority = assess_priority(rate, visibility, burn_rate, config.priority)
    return ImpactAssessment(rate=rate, visibility=visibility, priority=priority)
