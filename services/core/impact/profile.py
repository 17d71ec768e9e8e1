"""From the catalog's description of a business service to what the scoring rules need."""

from __future__ import annotations

from pydantic import ValidationError

from impactline.core.catalog.model import BusinessService
from impactline.core.catalog.model import Persona as CatalogPersona
from impactline.core.scoring import Persona, ServiceProfile, StakeholderType, Vip

# The share of requests that must meet a p95 latency goal, by definition of a 95th percentile.
P95_SHARE = 0.95
# ServiceProfile needs an SLO strictly below 100 % (an error budget of zero cannot be burnt at a
# finite rate), and an impact budget above zero (the XLA score divides by it).
HIGHEST_SLO = 0.99999
SMALLEST_IMPACT_BUDGET = 1.0


class ProfileError(ValueError):
    """A catalog entry that the scoring rules cannot use."""


def profile_for(service: BusinessService) -> ServiceProfile:
    """The scoring view of a catalog business service.

    Targets: `availability` (percent) becomes the SLO ratio, capped at 99.999 %; a
    `latency_p95_ms` goal means 95 % of requests must meet it; `impact_minutes_budget` is the
    impact budget, at least one minute. Without targets the scoring defaults apply.
    """
    try:
        return ServiceProfile(
            id=service.id,
            tier=service.tier,
            users=service.users,
            personas=tuple(_persona(persona) for persona in service.personas),
            vip_users=tuple(Vip(user=vip.user, persona=vip.persona) for vip in service.vip_users),
            **_targets(service),
        )
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or 'service'}: {detail['msg']}"
            for detail in error.errors(include_url=False)
        )
        raise ProfileError(
            f"business service {service.id!r} cannot be scored: {problems}"
        ) from None


def _persona(persona: CatalogPersona) -> Persona:
    return Persona(
        name=persona.name,
        stakeholder=StakeholderType(persona.stakeholder.value),
        users=persona.users,
        weight=persona.weight,
        periods=tuple(persona.periods),
    )


def _targets(service: BusinessService) -> dict[str, float]:
    targets = service.targets
    if targets is None:
        return {}
    found: dict[str, float] = {
        "xla_target": targets.xla,
        "impact_budget_minutes": max(targets.impact_minutes_budget, SMALLEST_IMPACT_BUDGET),
    }
    if targets.availability > 0:
        found["slo_target"] = min(targets.availability / 100.0, HIGHEST_SLO)
    if targets.latency_p95_ms is not None:
        found["latency_target"] = P95_SHARE
    return found
