"""What scoring needs to know about a business service.

The catalog describes services in more detail; it is adapted into a `ServiceProfile` so the
scoring rules stay independent of how the catalog is stored.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StakeholderType(StrEnum):
    """The four stakeholder types of experience management."""

    SERVICE_EVALUATOR = "service-evaluator"
    SERVICE_INFLUENCER = "service-influencer"
    RESOURCE_ALLOCATOR = "resource-allocator"
    EXPERIENCE_APPROVER = "experience-approver"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Persona(_Frozen):
    """A group of users of a service.

    `periods` names the calendar periods during which the group relies on the service (the CFO
    office during `month-end-close`); empty means always.
    """

    name: str = Field(min_length=1)
    stakeholder: StakeholderType = StakeholderType.SERVICE_EVALUATOR
    users: int = Field(ge=0)
    weight: float = Field(default=1.0, ge=0)
    periods: tuple[str, ...] = ()

    def relevant_during(self, active_periods: tuple[str, ...] | frozenset[str]) -> bool:
        return not self.periods or any(period in active_periods for period in self.periods)


class Vip(_Frozen):
    """A high-visibility user, tied to one persona of the service (reached while it is
    affected) or, without a persona, to the whole service (reached whenever it hurts anyone).
    A VIP named among the affected users (who reported a problem) is reached as well."""

    user: str = Field(min_length=1)
    persona: str | None = None


class ServiceProfile(_Frozen):
    """A business service as the scoring rules see it."""

    id: str = Field(min_length=1)
    tier: int = Field(default=3, ge=1, le=4)
    users: int = Field(default=0, ge=0)
    personas: tuple[Persona, ...] = ()
    vip_users: tuple[Vip, ...] = ()
    slo_target: float = Field(default=0.999, gt=0, lt=1, description="availability objective")
    latency_target: float | None = Field(
        default=None, gt=0, lt=1, description="share of requests that must meet the latency goal"
    )
    xla_target: float = Field(default=80.0, ge=0, le=100)
    impact_budget_minutes: float = Field(
        default=1000.0, gt=0, description="business impact minutes tolerated per XLA window"
    )

    @model_validator(mode="after")
    def _unique_personas(self) -> ServiceProfile:
        names = [persona.name for persona in self.personas]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"persona names must be unique; repeated: {', '.join(duplicates)}")
        unknown = sorted(
            {vip.persona for vip in self.vip_users if vip.persona and vip.persona not in names}
        )
        if unknown:
            raise ValueError(f"VIP users refer to unknown personas: {', '.join(unknown)}")
        return self

    def persona(self, name: str) -> Persona:
        for persona in self.personas:
            if persona.name == name:
                return persona
        raise KeyError(f"service {self.id!r} has no persona {name!r}")
