"""High visibility: an impact that reaches experience approvers or any VIP."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from impactline.core.scoring.profile import Persona, ServiceProfile, StakeholderType


@dataclass(frozen=True, slots=True)
class Visibility:
    high: bool
    approver_personas: tuple[str, ...]
    vips: tuple[str, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        found = []
        if self.approver_personas:
            found.append("experience approvers affected: " + ", ".join(self.approver_personas))
        if self.vips:
            found.append("VIP users affected: " + ", ".join(self.vips))
        return tuple(found)


def assess_visibility(
    profile: ServiceProfile,
    reached: Iterable[Persona],
    affected_users: Iterable[str] = (),
) -> Visibility:
    """`reached` are the affected personas (see `affected_personas`); `affected_users` are user
    ids known to be hit, e.g. from feedback or tickets."""
    reached = tuple(reached)
    approvers = tuple(
        persona.name
        for persona in reached
        if persona.stakeholder is StakeholderType.EXPERIENCE_APPROVER and persona.users > 0
    )
    reached_names = {persona.name for persona in reached}
    named = set(affected_users)
    vips = tuple(
        vip.user
        for vip in profile.vip_users
        if vip.user in named or (vip.persona is not None and vip.persona in reached_names)
    )
    return Visibility(high=bool(approvers or vips), approver_personas=approvers, vips=vips)
