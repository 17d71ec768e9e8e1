"""What-if answers as documents: the JSON the API returns and `--json` prints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from impactline.core.whatif.change_risk import ChangeAssessment, WindowOption
from impactline.core.whatif.periods import PeriodSpan
from impactline.core.whatif.simulation import CurvePoint, ServiceOutlook, Simulation
from impactline.core.whatif.windows import ServiceCost, WindowCost


class PeriodDoc(BaseModel):
    period: str
    weight: float
    start: datetime
    end: datetime
    minutes: float


class PointDoc(BaseModel):
    time: datetime
    reason: str
    state: str
    impact_rate: float = Field(description="Weighted affected user-minutes per minute.")
    business_impact_minutes: float
    priority: str | None
    high_visibility: bool
    period: str | None
    weight: float | None
    users_affected: int
    planned: bool = Field(description="Only planned work causes it: shown as planned, no page.")


class ServiceOutlookDoc(BaseModel):
    service_id: str
    service_name: str
    business_domain: str
    tier: int
    business_impact_minutes: float
    users_affected: int
    personas_affected: list[str]
    peak_impact_rate: float
    worst_priority: str | None
    high_visibility: bool
    visibility_reasons: list[str]
    planned: bool
    periods: list[PeriodDoc]
    curve: list[PointDoc] = Field(description="Every impact event the live system would publish.")


class ConditionDoc(BaseModel):
    ci_id: str
    state: str


class SimulationDoc(BaseModel):
    start: datetime
    end: datetime
    cis: list[ConditionDoc]
    business_impact_minutes: float
    users_affected: int
    worst_priority: str | None
    high_visibility: bool
    services: list[ServiceOutlookDoc]


class ServiceCostDoc(BaseModel):
    service_id: str
    service_name: str
    state: str
    business_impact_minutes: float
    users_affected: int
    personas_affected: list[str]
    priority: str = Field(description="At the window's worst moment, before error-budget burn.")
    high_visibility: bool
    periods: list[PeriodDoc]


class WindowDoc(BaseModel):
    start: datetime
    end: datetime
    business_impact_minutes: float = Field(description="If the CIs fail for the whole window.")
    users_affected: int
    periods: list[str] = Field(description="Periods crossed, heaviest first, as `name xweight`.")
    priority: str | None
    high_visibility: bool
    services: list[ServiceCostDoc]


class OptionDoc(WindowDoc):
    rank: int
    expected_business_impact_minutes: float
    explanation: str


class ChangeAssessmentDoc(BaseModel):
    cis: list[ConditionDoc]
    start: datetime
    end: datetime
    risk: float
    outage_minutes: float
    worst_case_business_impact_minutes: float = Field(
        description="The CIs failing for the whole planned window, simulated in full."
    )
    expected_business_impact_minutes: float = Field(
        description="Risk of failure x the cost of the assumed outage from the window's start."
    )
    worst_priority: str | None
    high_visibility: bool
    periods: list[str]
    users_affected: int
    planned: WindowDoc
    simulation: SimulationDoc
    scan_from: datetime
    scan_to: datetime
    candidates_scored: int
    best: OptionDoc | None
    planned_to_best_ratio: float | None = Field(
        description="How many times the best window's cost the planned window costs."
    )
    options: list[OptionDoc] = Field(description="Least harmful windows, ranked.")
    assessed_at: datetime = Field(description="When the assessment was made.")
    catalog_version: int | None = Field(
        description="The stored catalog version assessed on; null for catalog files."
    )


def _period(span: PeriodSpan) -> PeriodDoc:
    return PeriodDoc(
        period=span.period, weight=span.weight, start=span.start, end=span.end, minutes=span.minutes
    )


def _point(p: CurvePoint) -> PointDoc:
    return PointDoc(
        time=p.time,
        reason=p.reason,
        state=p.state.value,
        impact_rate=p.impact_rate,
        business_impact_minutes=p.business_impact_minutes,
        priority=p.priority,
        high_visibility=p.high_visibility,
        period=p.period,
        weight=p.weight,
        users_affected=p.users_affected,
        planned=p.planned,
    )


def _outlook(o: ServiceOutlook) -> ServiceOutlookDoc:
    return ServiceOutlookDoc(
        service_id=o.service_id,
        service_name=o.service_name,
        business_domain=o.business_domain,
        tier=o.tier,
        business_impact_minutes=o.business_impact_minutes,
        users_affected=o.users_affected,
        personas_affected=list(o.personas),
        peak_impact_rate=o.peak_rate,
        worst_priority=o.worst_priority,
        high_visibility=o.high_visibility,
        visibility_reasons=list(o.visibility_reasons),
        planned=o.planned,
        periods=[_period(s) for s in o.periods],
        curve=[_point(p) for p in o.curve],
    )


def simulation_document(s: Simulation) -> SimulationDoc:
    return SimulationDoc(
        start=s.start,
        end=s.end,
        cis=[ConditionDoc(ci_id=c.ci_id, state=c.state.value) for c in s.conditions],
        business_impact_minutes=s.business_impact_minutes,
        users_affected=s.users_affected,
        worst_priority=s.worst_priority,
        high_visibility=s.high_visibility,
        services=[_outlook(o) for o in s.services],
    )


def _service_cost(c: ServiceCost) -> ServiceCostDoc:
    return ServiceCostDoc(
        service_id=c.service_id,
        service_name=c.service_name,
        state=c.state.value,
        business_impact_minutes=c.business_impact_minutes,
        users_affected=c.users_affected,
        personas_affected=list(c.personas),
        priority=c.priority,
        high_visibility=c.high_visibility,
        periods=[_period(s) for s in c.periods],
    )


def _window_fields(w: WindowCost) -> dict[str, object]:
    return {
        "start": w.start,
        "end": w.end,
        "business_impact_minutes": w.business_impact_minutes,
        "users_affected": w.users_affected,
        "periods": [f"{p} x{weight:g}" for p, weight in w.periods],
        "priority": w.priority,
        "high_visibility": w.high_visibility,
        "services": [_service_cost(c) for c in w.services],
    }


def _option(o: WindowOption) -> OptionDoc:
    return OptionDoc(
        rank=o.rank,
        expected_business_impact_minutes=o.expected_minutes,
        explanation=o.explanation,
        **_window_fields(o.cost),  # type: ignore[arg-type]
    )


def assessment_document(
    a: ChangeAssessment, *, assessed_at: datetime, catalog_version: int | None = None
) -> ChangeAssessmentDoc:
    """The assessment answer; record it with the change (`assessment` of `/v1/changes`) to
    keep its figures beside the evidence if an incident follows."""
    options = [_option(o) for o in a.options]
    sim = a.simulation
    return ChangeAssessmentDoc(
        cis=[ConditionDoc(ci_id=c.ci_id, state=c.state.value) for c in sim.conditions],
        start=sim.start,
        end=sim.end,
        risk=a.plan.risk,
        outage_minutes=(a.plan.outage or a.plan.duration).total_seconds() / 60,
        worst_case_business_impact_minutes=a.worst_case_minutes,
        expected_business_impact_minutes=a.expected_minutes,
        worst_priority=sim.worst_priority,
        high_visibility=sim.high_visibility,
        periods=[f"{p} x{w:g}" for p, w in a.planned.periods],
        users_affected=sim.users_affected,
        planned=WindowDoc(**_window_fields(a.planned)),  # type: ignore[arg-type]
        simulation=simulation_document(sim),
        scan_from=a.scan_from,
        scan_to=a.scan_to,
        candidates_scored=a.candidates,
        best=options[0] if options else None,
        planned_to_best_ratio=a.ratio_to_best,
        options=options,
        assessed_at=assessed_at,
        catalog_version=catalog_version,
    )
