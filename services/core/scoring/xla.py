"""XLA score: a 0-100 experience score per service over a window.

Each signal present becomes a 0-100 component:

    availability  100 x clamp(1 - consumed / 2), consumed = (1 - availability) / (1 - SLO)
    latency       the same with the share of requests meeting the latency goal and its target
    impact        100 x clamp(1 - consumed / 2), consumed = impact minutes / impact budget
    csat          (mean rating - 1) / 4 x 100, ratings 1..5
    sentiment     (mean compound + 1) / 2 x 100, compound -1..1

so a budget exactly spent scores 50 and twice the budget scores 0. The score is the weighted mean
of the components present: weights of missing signals are dropped and the rest re-normalised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from impactline.core.scoring.profile import ServiceProfile

COMPONENTS = ("availability", "latency", "impact", "csat", "sentiment")


class XlaWeights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    availability: float = Field(default=0.3, ge=0)
    latency: float = Field(default=0.1, ge=0)
    impact: float = Field(default=0.3, ge=0)
    csat: float = Field(default=0.15, ge=0)
    sentiment: float = Field(default=0.15, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> XlaWeights:
        if sum(getattr(self, name) for name in COMPONENTS) <= 0:
            raise ValueError("at least one XLA weight must be above 0")
        return self


DEFAULT_WEIGHTS = XlaWeights()


@dataclass(frozen=True, slots=True)
class XlaSignals:
    """What was observed over the window; None where a signal is missing."""

    availability: float | None = None
    latency: float | None = None
    impact_minutes: float | None = None
    csat: float | None = None
    sentiment: float | None = None


@dataclass(frozen=True, slots=True)
class XlaBreach:
    service_id: str
    score: float
    target: float
    shortfall: float
    weakest: str


@dataclass(frozen=True, slots=True)
class XlaScore:
    service_id: str
    score: float
    target: float
    components: Mapping[str, float]
    weights: Mapping[str, float]
    window: tuple[datetime, datetime] | None = field(default=None)

    @property
    def breached(self) -> bool:
        return self.score < self.target

    def breach(self) -> XlaBreach | None:
        """The breach when the score is under target, naming the weakest component."""
        if not self.breached:
            return None
        weakest = min(self.components, key=lambda name: self.components[name])
        return XlaBreach(
            self.service_id, self.score, self.target, self.target - self.score, weakest
        )


def budget_component(consumed: float) -> float:
    return 100.0 * min(max(1.0 - consumed / 2.0, 0.0), 1.0)


def mean_csat(ratings: Iterable[float]) -> float | None:
    values = list(ratings)
    for value in values:
        if not 1 <= value <= 5:
            raise ValueError(f"a CSAT rating is between 1 and 5, got {value}")
    return sum(values) / len(values) if values else None


def xla_components(profile: ServiceProfile, signals: XlaSignals) -> dict[str, float]:
    found: dict[str, float] = {}
    if signals.availability is not None:
        _ratio("availability", signals.availability)
        found["availability"] = budget_component(
            (1.0 - signals.availability) / (1.0 - profile.slo_target)
        )
    if signals.latency is not None:
        _ratio("latency", signals.latency)
        if profile.latency_target is None:
            raise ValueError(f"service {profile.id!r} has a latency signal but no latency_target")
        found["latency"] = budget_component(
            (1.0 - signals.latency) / (1.0 - profile.latency_target)
        )
    if signals.impact_minutes is not None:
        if signals.impact_minutes < 0:
            raise ValueError(f"impact minutes cannot be negative, got {signals.impact_minutes}")
        found["impact"] = budget_component(signals.impact_minutes / profile.impact_budget_minutes)
    if signals.csat is not None:
        if not 1 <= signals.csat <= 5:
            raise ValueError(f"mean CSAT is between 1 and 5, got {signals.csat}")
        found["csat"] = (signals.csat - 1.0) / 4.0 * 100.0
    if signals.sentiment is not None:
        if not -1 <= signals.sentiment <= 1:
            raise ValueError(f"sentiment is between -1 and 1, got {signals.sentiment}")
        found["sentiment"] = (signals.sentiment + 1.0) / 2.0 * 100.0
    return found


def xla_score(
    profile: ServiceProfile,
    signals: XlaSignals,
    weights: XlaWeights = DEFAULT_WEIGHTS,
    window: tuple[datetime, datetime] | None = None,
) -> XlaScore:
    components = xla_components(profile, signals)
    raw = {name: getattr(weights, name) for name in components if getattr(weights, name) > 0}
    total = sum(raw.values())
    if total <= 0:
        raise ValueError(
            f"no weighted XLA signal for service {profile.id!r}; "
            f"expected at least one of {', '.join(COMPONENTS)}"
        )
    normalised = {name: value / total for name, value in raw.items()}
    score = sum(components[name] * normalised[name] for name in normalised)
    return XlaScore(
        service_id=profile.id,
        score=round(score, 6),
        target=profile.xla_target,
        components={name: components[name] for name in normalised},
        weights=normalised,
        window=window,
    )


def _ratio(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} is a ratio between 0 and 1, got {value}")
