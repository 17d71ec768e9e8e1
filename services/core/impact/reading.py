"""How a business service stands at one instant: calendar verdict and impact assessment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from impactline.core.calendar import BusinessCalendar, CalendarWeight
from impactline.core.catalog.model import BusinessService
from impactline.core.impact.episode import CalendarMark
from impactline.core.scoring import (
    ImpactAssessment,
    RateFunction,
    ScoringConfig,
    ServiceProfile,
    assess_impact,
    impact_rate,
    rate_function,
)
from impactline.core.states import State


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A catalog business service with its scoring profile and its calendar, if one is known.

    `calendar` is None when the service names no calendar or one that is not loaded: its impact
    is then reported unweighted rather than with an invented weight.
    """

    service: BusinessService
    profile: ServiceProfile
    calendar: BusinessCalendar | None

    def accrual_rate(
        self, state: State, config: ScoringConfig
    ) -> tuple[float | RateFunction, BusinessCalendar | None]:
        """What `ImpactAccrual.advance` needs to accrue this service in `state`."""
        if self.calendar is None:
            return impact_rate(self.profile, state, None, factors=config.factors).rate, None
        return rate_function(self.profile, state, factors=config.factors), self.calendar


@dataclass(frozen=True, slots=True)
class Reading:
    at: datetime
    state: State
    verdict: CalendarWeight | None
    assessment: ImpactAssessment
    mark: CalendarMark | None

    @property
    def priority(self) -> str:
        return self.assessment.priority.label

    @property
    def hurts(self) -> bool:
        """Whether anyone is affected: only then is an alert or an ITSM record opened."""
        return self.assessment.rate.reach > 0


def read(
    view: ServiceView,
    state: State,
    at: datetime,
    config: ScoringConfig,
    burn_rate: float | None = None,
    vip_reports: tuple[str, ...] = (),
) -> Reading:
    """`burn_rate` is the service's error-budget burn (None: no evidence), raising urgency;
    `vip_reports` are the VIPs who reported a problem during the episode."""
    verdict = view.calendar.weight_at(at) if view.calendar is not None else None
    assessment = assess_impact(
        view.profile,
        state,
        verdict,
        burn_rate=burn_rate,
        affected_users=vip_reports,
        config=config,
    )
    return Reading(at, state, verdict, assessment, mark_of(view, verdict))


def mark_of(view: ServiceView, verdict: CalendarWeight | None) -> CalendarMark | None:
    if view.calendar is None or verdict is None:
        return None
    return CalendarMark(view.calendar.name, verdict.period, verdict.weight, verdict.periods)
