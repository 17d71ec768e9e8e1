"""Priority P1..P5 from the ITIL impact x urgency matrix.

Impact level (how much harm): from the reach (state x weighted affected users x tier, see
`impact`), one level higher when the impact is high-visibility.
Urgency (how soon it must be fixed): the more urgent of what the calendar weight and the
error-budget burn rate say.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from impactline.core.scoring.impact import ImpactRate
from impactline.core.scoring.visibility import Visibility


class Level(IntEnum):
    """ITIL's three grades; 1 is the most severe, as in the matrix."""

    HIGH = 1
    MEDIUM = 2
    LOW = 3

    def raised(self) -> Level:
        return Level(max(self.value - 1, Level.HIGH.value))

    @property
    def label(self) -> str:
        return self.name.lower()


class PriorityPolicy(BaseModel):
    """Thresholds and matrix; every field has a documented default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    impact_high_at: float = Field(default=150.0, gt=0, description="reach for a high impact")
    impact_medium_at: float = Field(default=30.0, gt=0, description="reach for a medium impact")
    visibility_raises_impact: bool = True
    urgency_high_weight: float = Field(default=2.0, gt=0)
    urgency_medium_weight: float = Field(default=0.8, gt=0)
    burn_rate_high: float = Field(default=14.4, gt=0)
    burn_rate_medium: float = Field(default=6.0, gt=0)
    # Rows: impact high, medium, low. Columns: urgency high, medium, low.
    matrix: tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]] = (
        (1, 2, 3),
        (2, 3, 4),
        (3, 4, 5),
    )

    @model_validator(mode="after")
    def _consistent(self) -> PriorityPolicy:
        pairs = (
            ("impact_medium_at", "impact_high_at"),
            ("urgency_medium_weight", "urgency_high_weight"),
            ("burn_rate_medium", "burn_rate_high"),
        )
        for lower, upper in pairs:
            if getattr(self, lower) > getattr(self, upper):
                raise ValueError(f"expected {lower} <= {upper}")
        for row in self.matrix:
            for cell in row:
                if not 1 <= cell <= 5:
                    raise ValueError(f"matrix cells are priorities 1..5, got {cell}")
        return self

    def priority(self, impact: Level, urgency: Level) -> int:
        return self.matrix[impact.value - 1][urgency.value - 1]


DEFAULT_POLICY = PriorityPolicy()


@dataclass(frozen=True, slots=True)
class PriorityAssessment:
    priority: int
    impact: Level
    urgency: Level
    high_visibility: bool
    reasons: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"P{self.priority}"


def impact_level(
    reach: float, visibility: Visibility, policy: PriorityPolicy = DEFAULT_POLICY
) -> tuple[Level, list[str]]:
    if reach >= policy.impact_high_at:
        level = Level.HIGH
    elif reach >= policy.impact_medium_at:
        level = Level.MEDIUM
    else:
        level = Level.LOW
    reasons = [f"impact {level.label}: reach {reach:g}"]
    if reach > 0 and visibility.high and policy.visibility_raises_impact and level > Level.HIGH:
        level = level.raised()
        reasons.append(f"impact raised to {level.label}: high visibility")
    return level, reasons


def urgency_level(
    calendar_weight: float, burn_rate: float | None, policy: PriorityPolicy = DEFAULT_POLICY
) -> tuple[Level, list[str]]:
    if calendar_weight >= policy.urgency_high_weight:
        by_calendar = Level.HIGH
    elif calendar_weight >= policy.urgency_medium_weight:
        by_calendar = Level.MEDIUM
    else:
        by_calendar = Level.LOW
    reasons = [f"urgency {by_calendar.label}: calendar weight {calendar_weight:g}"]
    if burn_rate is None:
        return by_calendar, reasons
    if burn_rate >= policy.burn_rate_high:
        by_burn = Level.HIGH
    elif burn_rate >= policy.burn_rate_medium:
        by_burn = Level.MEDIUM
    else:
        by_burn = Level.LOW
    if by_burn < by_calendar:
        reasons.append(f"urgency raised to {by_burn.label}: error budget burning {burn_rate:g}x")
        return by_burn, reasons
    return by_calendar, reasons


def assess_priority(
    rate: ImpactRate,
    visibility: Visibility,
    burn_rate: float | None = None,
    policy: PriorityPolicy = DEFAULT_POLICY,
) -> PriorityAssessment:
    """Priority of an impact; an impact with no reach (service ok) is always the lowest."""
    if rate.reach <= 0:
        lowest = policy.priority(Level.LOW, Level.LOW)
        return PriorityAssessment(lowest, Level.LOW, Level.LOW, False, ("no users affected",))
    impact, impact_reasons = impact_level(rate.reach, visibility, policy)
    urgency, urgency_reasons = urgency_level(rate.calendar_weight, burn_rate, policy)
    return PriorityAssessment(
        priority=policy.priority(impact, urgency),
        impact=impact,
        urgency=urgency,
        high_visibility=visibility.high,
        reasons=(*impact_reasons, *urgency_reasons, *visibility.reasons),
    )
