"""High visibility: an impact that reaches experience approvers or any VIP.

A VIP is tied to one persona of the service (reached while that persona is affected) or to the
whole service (reached whenever the service hurts anyone). A VIP who reports a problem while
the service is hurt is counted whether or not their persona is affected right now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from impactline.core.scoring.profile import Persona, ServiceProfile, StakeholderType, Vip


@dataclass(frozen=True, slots=True)
class Visibility:
    high: bool
    approver_personas: tuple[str, ...]
    vips: tuple[str, ...]
    """VIPs reached through their persona or their service."""
    reporting_vips: tuple[str, ...] = ()
    """VIPs who reported a problem themselves (and were not reached otherwise)."""
    vip_ties: tuple[str, ...] = ()
    """How each of `vips` is reached: its persona, or `service` for the whole service."""

    @property
    def reasons(self) -> tuple[str, ...]:
        found = []
        if self.approver_personas:
            found.append("experience approvers affected: " + ", ".join(self.approver_personas))
        if self.vips:
            by_tie: dict[str, list[str]] = {}
            for vip, tie in zip(
                self.vips, self.vip_ties or ("service",) * len(self.vips), strict=True
            ):
                by_tie.setdefault(tie, []).append(vip)
            named = [
                ", ".join(users) + ("" if tie == "service" else f" ({tie})")
                for tie, users in by_tie.items()
            ]
            found.append("VIP users affected: " + "; ".join(named))
        if self.reporting_vips:
            found.append("VIP users reported a problem: " + ", ".join(self.reporting_vips))
        return tuple(found)


def assess_visibility(
    profile: ServiceProfile,
    reached: Iterable[Persona],
    affected_users: Iterable[str] = (),
    *,
    hurt: bool | None = None,
) -> Visibility:
    """`reached` are the affected personas (see `affected_personas`); `affected_users` are user
    ids known to be hit, e.g. VIPs who reported a problem; `hurt` says whether the service
    hurts anyone right now (default: whether any persona is reached)."""
    reached = tuple(reached)
    hurt = bool(reached) if hurt is None else hurt
    approvers = tuple(
        persona.name
        for persona in reached
        if persona.stakeholder is StakeholderType.EXPERIENCE_APPROVER and persona.users > 0
    )
    reached_names = {persona.name for persona in reached}

    def tied(vip: Vip) -> bool:
        return hurt and (vip.persona is None or vip.persona in reached_names)

    vips = tuple(vip for vip in profile.vip_users if tied(vip))
    named = set(affected_users)
    reporting = tuple(
        vip.user for vip in profile.vip_users if vip.user in named and vip not in vips
    )
    return Visibility(
        high=bool(approvers or vips or reporting),
        approver_personas=approvers,
        vips=tuple(vip.user for vip in vips),
        reporting_vips=reporting,
        vip_ties=tuple(vip.persona or "service" for vip in vips),
    )
