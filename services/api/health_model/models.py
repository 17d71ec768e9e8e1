"""Typed bodies of the service status, impact, XLA and value-stream routes (for OpenAPI)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from impactline.core.contracts import ImpactReason, IncidentState, Priority
from impactline.core.states import State


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True)


class CalendarNow(_Body):
    """The service's business calendar at the read model's current time."""

    calendar: str
    period: str = Field(description="The winning period, or the baseline when none is active.")
    weight: float
    active_periods: list[str]
    local_time: datetime = Field(description="In the calendar's time zone.")
    holiday: str | None


class ImpactNow(_Body):
    """The latest impact event of the service."""

    time: datetime
    state: State
    reason: ImpactReason
    episode_id: str
    incident_id: str | None
    users_affected: int
    impact_rate: float = Field(description="Weighted affected user-minutes per minute.")
    business_impact_minutes: float = Field(description="Accrued in this episode so far.")
    calendar_period: str | None
    calendar_weight: float | None
    priority: Priority | None
    high_visibility: bool


class ErrorBudgetOut(_Body):
    slo: float = Field(description="Availability objective as a ratio, from the catalog targets.")
    availability: float | None = Field(description="Null when nothing was observed.")
    consumed: float = Field(description="Share of the window's error budget spent; >1: missed.")
    remaining: float
    burn_rate_1h: float | None = Field(
        default=None, description="Error ratio of the last hour over the budget ratio."
    )


class XlaSignalsOut(_Body):
    availability: float | None
    impact_minutes: float | None
    csat: float | None = Field(description="Mean rating 1-5 of the window's feedback.")
    sentiment: float | None = Field(description="Mean VADER compound score -1..1 of comments.")


class XlaOut(_Body):
    score: float = Field(ge=0, le=100)
    target: float
    breached: bool
    components: dict[str, float] = Field(description="Each signal present, as 0-100.")
    weights: dict[str, float] = Field(description="Weights of the present signals, summing to 1.")
    signals: XlaSignalsOut
    window_start: datetime
    window_end: datetime


class ServiceStatus(_Body):
    """What the board shows of one business service."""

    id: str
    name: str
    business_domain: str
    owner: str
    tier: int
    users: int
    state: State = Field(description="From the latest service-health event; `ok` before any.")
    state_since: datetime | None
    incident_id: str | None = Field(description="The incident behind the current state.")
    calendar: CalendarNow | None = Field(description="Null for a service without a calendar.")
    impact_rate: float = Field(description="Right now; 0 while the service is ok.")
    impact: ImpactNow | None = Field(description="The latest impact event; null if none yet.")
    window_impact_minutes: float = Field(description="Business impact minutes in the window.")
    xla: XlaOut
    error_budget: ErrorBudgetOut


class ServiceStatusPage(_Body):
    as_of: datetime = Field(
        description="The read model's current time (ahead of the wall clock when the newest "
        "events are stamped ahead of it, as in replays and scenarios)."
    )
    window: str = Field(description="Rolling window of the XLA score and error budget.")
    total: int
    items: list[ServiceStatus]
    next: str | None = Field(description="URL of the next page; null on the last page.")


class ImpactEntry(_Body):
    """One impact event of the timeline."""

    event_id: str
    time: datetime
    service_id: str
    business_domain: str
    episode_id: str
    incident_id: str | None
    reason: ImpactReason
    state: State
    users_affected: int
    impact_rate: float
    business_impact_minutes: float
    calendar_period: str | None
    calendar_weight: float | None
    priority: Priority | None
    high_visibility: bool


class ImpactTimeline(_Body):
    items: list[ImpactEntry] = Field(description="Oldest first.")
    next: str | None = Field(description="URL of the next page; null on the last page.")


class XlaPoint(_Body):
    at: datetime = Field(description="End of the rolling window this score covers.")
    score: float
    target: float
    breached: bool
    components: dict[str, float]
    signals: XlaSignalsOut
    budget_consumed: float


class XlaHistory(_Body):
    service_id: str
    window: str
    step_seconds: float
    items: list[XlaPoint] = Field(description="Oldest first.")
    next: str | None = Field(description="URL of the page before this one (older points).")


class ImpactBucket(_Body):
    start: datetime
    end: datetime
    minutes: float
    weighted_minutes: float = Field(description="Accrued in calendar periods of weight != 1.")


class ImpactSeries(_Body):
    as_of: datetime
    since: datetime
    until: datetime
    total_minutes: float
    weighted_minutes: float
    buckets: list[ImpactBucket]


class Spread(_Body):
    count: int
    median_seconds: float | None
    p90_seconds: float | None


class BudgetIncident(_Body):
    """An incident that spent part of a service's error budget in the window."""

    incident_id: str | None = Field(description="Null: unavailability outside any incident.")
    service_id: str
    unavailable_minutes: float = Field(description="State-factor weighted, as availability.")
    budget_share: float = Field(description="Share of the window's error budget it spent.")
    state: IncidentState | None
    priority: Priority | None
    high_visibility: bool
    opened_at: datetime | None
    root_cause_candidates: list[str]


class ServiceFigures(_Body):
    service_id: str
    name: str
    business_domain: str
    slo: float
    availability: float | None
    slo_met: bool | None = Field(description="Null when nothing was observed.")
    budget_consumed: float
    business_impact_minutes: float
    weighted_impact_minutes: float


class ValueStream(_Body):
    """Flow figures of a service or a business domain over a window."""

    service: str | None
    domain: str | None
    since: datetime
    until: datetime
    incidents: int = Field(description="Incidents opened in the window.")
    time_to_detect: Spread = Field(
        description="First accepted CI failure of the incident's CIs -> incident opened."
    )
    time_to_acknowledge: Spread = Field(description="Opened -> acknowledged.")
    time_to_resolve: Spread = Field(description="Opened -> resolved.")
    business_impact_minutes: float
    weighted_impact_minutes: float
    weighted_share: float | None = Field(
        description="Share of the business impact minutes that fell in weighted calendar "
        "periods (weight != 1); null without impact."
    )
    impact_by_period: dict[str, float]
    services: list[ServiceFigures]
    budget_incidents: list[BudgetIncident] = Field(
        description="Every incident that spent error budget, largest share first."
    )
    next: str | None = Field(description="URL of the next page of services; null on the last.")
