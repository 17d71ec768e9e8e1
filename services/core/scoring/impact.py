"""Impact rate: weighted affected user-minutes per minute, right now.

    rate = state_factor x weighted_users x tier_factor x calendar_weight

    weighted_users = sum(users x weight) over the affected personas, scaled by the affected
                     fraction; users x 1.0 for a service without personas
    affected personas = the personas named by the incident (all by default) that are relevant
                        during the calendar's active periods

`reach` is the same product without the calendar weight: how much the incident hurts regardless
of when, which the priority rules use for the ITIL impact level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from impactline.core.calendar import CalendarWeight
from impactline.core.scoring.profile import Persona, ServiceProfile
from impactline.core.states import State

_STATE_FACTORS = {State.OK: 0.0, State.UNKNOWN: 0.0, State.DEGRADED: 0.5, State.DOWN: 1.0}
_TIER_FACTORS = {1: 1.5, 2: 1.2, 3: 1.0, 4: 0.8}


class ImpactFactors(BaseModel):
    """The multipliers of the impact rate; the defaults are documented in docs/scoring.md.

    A partial mapping overrides only the keys it names; the others keep their defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: dict[State, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: dict(_STATE_FACTORS)
    )
    tier: dict[Annotated[int, Field(ge=1, le=4)], Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: dict(_TIER_FACTORS)
    )

    @field_validator("state", mode="after")
    @classmethod
    def _complete_states(cls, value: dict[State, float]) -> dict[State, float]:
        return {**_STATE_FACTORS, **value}

    @field_validator("tier", mode="after")
    @classmethod
    def _complete_tiers(cls, value: dict[int, float]) -> dict[int, float]:
        return {**_TIER_FACTORS, **value}

    def state_factor(self, state: State) -> float:
        return self.state.get(state, 0.0)

    def tier_factor(self, tier: int) -> float:
        return self.tier.get(tier, 1.0)


DEFAULT_FACTORS = ImpactFactors()


@dataclass(frozen=True, slots=True)
class ImpactRate:
    """The rate and every factor that went into it, for explaining an impact event."""

    rate: float
    reach: float
    state_factor: float
    weighted_users: float
    affected_users: int
    tier_factor: float
    calendar_weight: float
    personas: tuple[str, ...]


def affected_personas(
    profile: ServiceProfile,
    active_periods: Iterable[str] = (),
    personas: Iterable[str] | None = None,
) -> tuple[Persona, ...]:
    """The personas an incident reaches now: those named (all when None) that rely on the
    service during one of the active calendar periods (or always)."""
    active = frozenset(active_periods)
    if personas is None:
        candidates = profile.personas
    else:
        candidates = tuple(profile.persona(name) for name in dict.fromkeys(personas))
    return tuple(persona for persona in candidates if persona.relevant_during(active))


def impact_rate(
    profile: ServiceProfile,
    state: State,
    calendar: CalendarWeight | None,
    *,
    personas: Iterable[str] | None = None,
    affected_fraction: float = 1.0,
    factors: ImpactFactors = DEFAULT_FACTORS,
) -> ImpactRate:
    """The impact rate of a service in `state` at the instant `calendar` describes.

    `calendar=None` means a neutral weight of 1.0 with no active period, so only personas that
    rely on the service at all times count. `affected_fraction` (0..1) scales the users when only
    part of them is hit, e.g. one region.
    """
    if not 0.0 <= affected_fraction <= 1.0:
        raise ValueError(f"affected_fraction must be between 0 and 1, got {affected_fraction}")
    active_periods = calendar.periods if calendar is not None else ()
    weight = calendar.weight if calendar is not None else 1.0
    reached = affected_personas(profile, active_periods, personas)
    if profile.personas:
        users = sum(persona.users for persona in reached)
        weighted = sum(persona.users * persona.weight for persona in reached)
    else:
        users, weighted = profile.users, float(profile.users)
    users = round(users * affected_fraction)
    weighted *= affected_fraction
    state_factor = factors.state_factor(state)
    tier_factor = factors.tier_factor(profile.tier)
    reach = state_factor * weighted * tier_factor
    return ImpactRate(
        rate=reach * weight,
        reach=reach,
        state_factor=state_factor,
        weighted_users=weighted,
        affected_users=users,
        tier_factor=tier_factor,
        calendar_weight=weight,
        personas=tuple(persona.name for persona in reached),
    )


RateFunction = Callable[[CalendarWeight], float]


def rate_function(
    profile: ServiceProfile,
    state: State,
    *,
    personas: Iterable[str] | None = None,
    affected_fraction: float = 1.0,
    factors: ImpactFactors = DEFAULT_FACTORS,
) -> RateFunction:
    """The rate as a function of the calendar, for `ImpactAccrual.advance` to evaluate on every
    calendar segment of an interval."""
    chosen = tuple(personas) if personas is not None else None

    def rate(calendar: CalendarWeight) -> float:
        return impact_rate(
            profile,
            state,
            calendar,
            personas=chosen,
            affected_fraction=affected_fraction,
            factors=factors,
        ).rate

    return rate
